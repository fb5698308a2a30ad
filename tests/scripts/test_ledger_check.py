"""ledger_check.py: the ledger against the payments a load run saw, from a
saved metrics page and live from the fake service driven by the real
racelab-loadgen."""

import contextlib
import io
import json
import subprocess
import tempfile
import threading
import unittest
from pathlib import Path

import fake_service
from helpers import REPO, run_script

import ledger_check

LOADGEN = REPO / "build" / "release" / "loadgen" / "racelab-loadgen"


def run_json(distinct=3, cents=14997, twice=0, conflicts=0, errors=None):
    return {"payments": {"distinct": distinct, "cents_total": cents, "users": 3,
                         "users_charged_twice": twice, "id_amount_conflicts": conflicts},
            "errors_by_kind": errors or {"timeout": 0, "reset": 0}}


METRICS = """\
# HELP racelab_charges_total Charges booked at the gateway.
# TYPE racelab_charges_total counter
racelab_charges_total {charges}
racelab_requests_total{{status="200"}} 100
racelab_ledger_cents_total {ledger}
"""


def run_in_process(*args):
    """ledger_check.py in this process (a Python start costs seconds on a
    loaded machine): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = ledger_check.cli.run(ledger_check.PROG, ledger_check.main, list(map(str, args)))
        except SystemExit as e:
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


class SavedMetrics(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def check(self, run, charges=3, ledger=14997, metrics=None):
        (self.dir / "run.json").write_text(json.dumps(run))
        (self.dir / "metrics").write_text(metrics if metrics is not None else
                                          METRICS.format(charges=charges, ledger=ledger))
        return run_in_process("--json", self.dir / "run.json", "--metrics", self.dir / "metrics")

    def test_adds_up(self):
        rc, out, err = self.check(run_json())
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("ledger check: PASS", out)

    def test_ledger_off_by_a_cent(self):
        rc, out, _ = self.check(run_json(), ledger=14998)
        self.assertEqual(rc, 1)
        self.assertIn("FAIL ledger 14998 cents, payments the clients saw 14997 cents", out)

    def test_a_charge_nobody_saw(self):
        rc, out, _ = self.check(run_json(), charges=4)
        self.assertEqual(rc, 1)
        self.assertIn("FAIL charges 4", out)

    def test_user_charged_twice(self):
        rc, out, _ = self.check(run_json(twice=1))
        self.assertEqual(rc, 1)
        self.assertIn("FAIL users told of two payment ids: 1", out)

    def test_lost_requests_are_noted(self):
        rc, out, _ = self.check(run_json(errors={"timeout": 2, "reset": 1}))
        self.assertEqual(rc, 0)
        self.assertIn("note: 3 requests timed out or were reset", out)

    def test_bad_input_is_one_line(self):
        (self.dir / "bad.json").write_text("{not json")
        (self.dir / "metrics").write_text(METRICS.format(charges=1, ledger=1))
        for args in (["--json", self.dir / "bad.json", "--metrics", self.dir / "metrics"],
                     ["--json", self.dir / "missing.json", "--metrics", self.dir / "metrics"],
                     ["--json", self.dir / "bad.json"],
                     ["--json", self.dir / "bad.json", "--url", "http://127.0.0.1:1",
                      "--metrics", self.dir / "metrics"]):
            rc, out, err = run_in_process(*args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertEqual(out, "")

    def test_as_a_command(self):
        (self.dir / "bad.json").write_text("{not json")
        rc, out, err = run_script("ledger_check.py", "--json", self.dir / "bad.json",
                                  "--metrics", self.dir / "bad.json")
        self.assertEqual((rc, out), (2, ""))
        self.assertEqual(err, f"ledger_check.py: error: --json {self.dir / 'bad.json'} is not "
                              "racelab-loadgen's --json output\n")

    def test_metrics_without_the_ledger(self):
        rc, _, err = self.check(run_json(), metrics="racelab_charges_total 3\n")
        self.assertEqual(rc, 2)
        self.assertIn("no racelab_ledger_cents_total", err)

    def test_unreachable_service(self):
        (self.dir / "run.json").write_text(json.dumps(run_json()))
        rc, _, err = run_in_process("--json", self.dir / "run.json", "--url", "http://127.0.0.1:1")
        self.assertEqual(rc, 2)
        self.assertIn("cannot read http://127.0.0.1:1/metrics", err)


@unittest.skipUnless(LOADGEN.exists(), "racelab-loadgen is not built (make loadgen)")
class Live(unittest.TestCase):
    """The fake service in a thread, driven by the real load generator."""

    def drive(self, *fake_args, users=("--users", "unique", "--amount", "varied")):
        server, url = fake_service.serve(fake_service.parse_args(list(fake_args)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "run.json"
                subprocess.run([str(LOADGEN), "--url", url, "-c", "4", "-n", "200", *users,
                                "--json", str(out), "--quiet"],
                               check=True, capture_output=True, timeout=60)
                return run_in_process("--json", out, "--url", url)
        finally:
            server.shutdown()
            server.server_close()

    def test_exact_ledger_passes(self):
        rc, out, _ = self.drive()
        self.assertEqual(rc, 0, out)
        self.assertIn("ok   charges 200, distinct payment ids the clients saw 200", out)

    def test_skewed_ledger_fails(self):
        rc, out, _ = self.drive("--ledger-skew", "1")
        self.assertEqual(rc, 1, out)
        self.assertIn("ledger check: FAIL", out)

    def test_double_charge_fails(self):
        # One user, 200 payments: 199 of an already charged user, every
        # 10th of them charged again (19). The ledger adds up, so only the
        # user told of 20 payment ids shows the double charge.
        rc, out, _ = self.drive("--twice-every", "10", users=("--users", "shared:1"))
        self.assertEqual(rc, 1, out)
        self.assertIn("ok   charges 20, distinct payment ids the clients saw 20", out)
        self.assertIn("FAIL users told of two payment ids: 1", out)


if __name__ == "__main__":
    unittest.main()
