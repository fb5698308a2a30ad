"""Lab 11: two racelab-service replicas on one PostgreSQL ledger.

The race is forced, not waited for: a SHARE lock on the payments table
holds both requests at their INSERT (scripts/racelab/replicas.py, force()),
so the broken build charges twice and the fixed one once, every run. The
fixed build is also run under load, where one key charged twice fails it.
A PostgreSQL server is started for the class (scripts/racelab/pgserver.py);
the service binaries come from make build, and a missing one is a failure.
"""

import json
import random
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from helpers import REPO, SCRIPTS
from racelab import pgserver, replicas
from racelab.cli import Failure


class Forced(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = pgserver.Server(fast=True)
        cls.pg.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def test_the_broken_build_charges_one_key_twice(self):
        out = replicas.force(self.pg, "broken")
        self.assertEqual((out["keys"], out["charges"], out["doubled"]), (1, 2, 1), out)
        (s1, b1), (s2, b2) = out["answers"]
        self.assertEqual((s1, s2), (200, 200), out)
        # two payments, each answered as new: neither replica saw the other's
        self.assertNotEqual(b1["payment_id"], b2["payment_id"])
        self.assertEqual((b1["cached"], b2["cached"]), (False, False))
        self.assertEqual(out["extra_cents"], 2500)

    def test_the_fixed_build_charges_it_once_and_answers_both_with_it(self):
        out = replicas.force(self.pg, "fixed")
        self.assertEqual((out["keys"], out["charges"], out["doubled"]), (1, 1, 0), out)
        (s1, b1), (s2, b2) = out["answers"]
        self.assertEqual((s1, s2), (200, 200), out)
        self.assertEqual(b1["payment_id"], b2["payment_id"])
        self.assertEqual(sorted([b1["cached"], b2["cached"]]), [False, True])

    def test_the_fixed_build_under_load_never_charges_a_key_twice(self):
        for connections in (1, 32):
            with self.subTest(connections=connections):
                t = replicas.trial(self.pg, "fixed", connections, 100, connections)
                self.assertEqual(t["keys"], 100, t)
                self.assertEqual((t["charges"], t["doubled"]), (100, 0), t)
                self.assertEqual((t["answered_200"], t["errors"]), (200, 0), t)

    def test_a_replica_restarted_keeps_exactly_once(self):
        # The ledger, not the process, holds the key: after both replicas
        # stop, a new one answers the same key with the same payment, and
        # a new payment gets a new id.
        replicas.fresh_ledger(self.pg)
        with replicas.Cluster(self.pg, "fixed", 1) as c:
            first = self.post(c.ports[0], "restart-1")
        with replicas.Cluster(self.pg, "fixed", 1) as c:
            again = self.post(c.ports[0], "restart-1")
            other = self.post(c.ports[0], "restart-2")
        self.assertEqual(first["payment_id"], again["payment_id"])
        self.assertTrue(again["cached"])
        self.assertGreater(other["payment_id"], first["payment_id"])
        self.assertEqual(replicas.ledger(self.pg)["charges"], 2)

    def test_a_replica_killed_mid_load_loses_nothing_and_charges_nothing_twice(self):
        # Two replicas under load; one is killed (SIGKILL) at a random
        # moment while requests are at its gateway; then a new replica is
        # sent every key again. Each key must end with exactly one payment,
        # every 200 of either run must be that payment, and the dead
        # replica's reservations (orphans: their owner's connections died
        # with it) must not hold their keys.
        keys, at = 600, random.uniform(0.1, 0.5)
        print(f"\n[killed at {at:.2f} s]", file=sys.stderr)
        replicas.fresh_ledger(self.pg)
        with tempfile.TemporaryDirectory() as tmp:
            answers = Path(tmp)
            slow = ("--gateway-latency-ms", "10-30")
            with replicas.Cluster(self.pg, "fixed", 2, args=slow) as c:
                loads = [subprocess.Popen(self.loadgen(port, keys, answers / f"first-{i}"),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for i, port in enumerate(c.ports)]
                time.sleep(at)
                c.procs[0].kill()
                for proc in loads:
                    proc.wait(timeout=120)
            left = int(self.pg.psql("SELECT count(*) FROM payments WHERE state = 'pending'"))
            print(f"[{left} pending rows left by the kill]", file=sys.stderr)
            with replicas.Cluster(self.pg, "fixed", 1, args=slow) as c:
                subprocess.run(self.loadgen(c.ports[0], keys, answers / "replay"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=120, check=False)
            seen = {}
            for path in sorted(answers.iterdir()):
                for line in path.read_text().splitlines():
                    user, pid = line.split()[:2]
                    seen.setdefault(user, set()).add(int(pid))
        out = replicas.ledger(self.pg)
        self.assertEqual((out["keys"], out["charges"], out["doubled"]), (keys, keys, 0), out)
        self.assertEqual(len(seen), keys)  # the replay answered every key
        self.assertTrue(all(len(ids) == 1 for ids in seen.values()),
                        [u for u, ids in seen.items() if len(ids) > 1][:5])
        booked = replicas.charged_ids(self.pg)
        self.assertEqual({i for ids in seen.values() for i in ids}, booked)
        self.assertEqual(self.pg.psql("SELECT count(*) FROM payments "
                                      "WHERE state = 'pending'").strip(), "0")

    @staticmethod
    def loadgen(port, keys, answers):
        return [str(replicas.loadgen_binary()), "-u", f"http://127.0.0.1:{port}", "-c", "20",
                "-n", str(keys), "--users", "seq", "--key-prefix", "crash-", "--api-key",
                replicas.API_KEY, "--threshold", "100", "-q", "--timeout-ms", "20000",
                "--payments", str(answers)]

    @staticmethod
    def post(port, key):
        box = [None]
        replicas._post(port, key, box, 0)
        status, body = box[0]
        assert status == 200, box
        return body


class Table(unittest.TestCase):
    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(Path(f.name).unlink)
        return f.name

    def test_the_labs_table_reads(self):
        rows = replicas.read_table()
        self.assertTrue(rows)
        self.assertEqual({r["build"] for r in rows}, {"broken", "fixed"})
        for r in rows:
            if r["build"] == "fixed" or r["tool"] == "tsan-clang":
                self.assertEqual(r["band"], (0.0, 0.0), r)
            self.assertGreaterEqual(int(r["trials"]), 10, r)

    def test_bad_tables_are_one_line_failures(self):
        header = "\t".join(replicas.COLUMNS)
        good = "11\tbroken\treplicas\treplicas=2,connections=8,keys=100\tsymptom\t0.5\t1\t9\t10\tn"
        for text, says in [
            ("lab\tbuild\n", "the header"),
            (f"{header}\n11\tbroken\n", "2 columns"),
            (f"{header}\n{good.replace('replicas', 'helgrind', 1)}\n", "tool helgrind"),
            (f"{header}\n{good.replace('0.5', 'x')}\n", "the band"),
            (f"{header}\n{good.replace('connections=8', 'conns=8')}\n", "config"),
        ]:
            with self.subTest(says=says):
                with self.assertRaises(Failure) as e:
                    replicas.read_table(self.write(text))
                self.assertIn(says, str(e.exception))
                self.assertNotIn("\n", str(e.exception))


class Command(unittest.TestCase):
    def run_script(self, *args):
        return subprocess.run([sys.executable, str(SCRIPTS / "replicas.py"), *args],
                              capture_output=True, text=True, timeout=60, cwd=REPO)

    def test_help_names_every_command(self):
        r = self.run_script("--help")
        self.assertEqual(r.returncode, 0)
        for command in ("demo", "force", "measure", "check", "cluster"):
            self.assertIn(command, r.stdout)

    def test_bad_arguments_exit_2_with_one_line(self):
        for args in (["bogus"], ["measure", "--trials", "0"], ["force", "--build", "x"],
                     ["check", "--table", "/nonexistent/expected.tsv"]):
            with self.subTest(args=args):
                r = self.run_script(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertRegex(r.stderr, r"^replicas.py( [a-z]+)?: error: ")

    def test_the_tsan_rows_run_an_instrumented_service(self):
        # The tsan-clang rows say ThreadSanitizer reported nothing; that
        # means something only if the replicas they ran were built with it.
        for build in ("broken", "fixed"):
            binary = replicas.service_binary(build, "tsan-clang")
            symbols = subprocess.run(["nm", str(binary)], capture_output=True, text=True,
                                     timeout=60).stdout
            self.assertRegex(symbols, r"\b__tsan_init\b", binary)

    def test_the_loadgens_json_has_what_a_trial_reads(self):
        # replicas.trial() reads these fields; a loadgen that renamed one
        # would otherwise fail only in the middle of a measurement.
        loadgen = replicas.loadgen_binary()
        r = subprocess.run([str(loadgen), "-u", "http://127.0.0.1:1", "-n", "1", "-q",
                            "--json", "-"], capture_output=True, text=True, timeout=30)
        data = json.loads(r.stdout)
        for field in ("requests", "successes", "errors", "cached", "throughput_rps"):
            self.assertIn(field, data)
        self.assertIn("p99", data["latency_ms"])


if __name__ == "__main__":
    unittest.main()
