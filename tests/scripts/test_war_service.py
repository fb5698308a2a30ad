"""racelab/service.py, which war_story.py and war_measure.py drive the
service with: started from its listening line, driven by the real
racelab-loadgen, its metrics read, always stopped; and the war scripts'
bad arguments."""

import contextlib
import io
import sys
import unittest
from pathlib import Path

from helpers import REPO, SCRIPTS, run_script
from racelab import cli
from racelab import service as svc
from racelab.cli import Failure

FAKE = Path(__file__).resolve().parent / "fake_service.py"


class Service(unittest.TestCase):
    def test_start_drive_stop(self):
        s = svc.Service(FAKE, ["--fail-every", "10"], prefix=(sys.executable,))
        with s:
            self.assertTrue(s.url.startswith("http://127.0.0.1:"))
            if not svc.loadgen_bin().exists():
                self.skipTest("racelab-loadgen is not built")
            rc, run, _ = svc.loadgen(s.url, ["-c", "2", "-n", "50"], 60)
            self.assertEqual(rc, 1)  # 10% errors: above the 5% threshold
            self.assertEqual(svc.summary(run), "5 x status 500")
            self.assertEqual(svc.metrics(s.url)["racelab_gateway_failures_total"], 5)
        self.assertFalse(s.alive())

    def test_a_service_that_does_not_start(self):
        with self.assertRaises(Failure) as e:
            svc.Service(FAKE, ["--bogus"], prefix=(sys.executable,)).start()
        self.assertIn("did not start", str(e.exception))

    def test_a_missing_build(self):
        with self.assertRaises(Failure):
            svc.Service(REPO / "build" / "nowhere" / "racelab-service")

    def test_parse_metrics(self):
        m = svc.parse_metrics('a_total 3\nb_total{status="200"} 4\n# HELP c\nc 2.5\n')
        self.assertEqual(m, {"a_total": 3.0, "c": 2.5})


WRK_OUT = """\
Running 5s test @ http://127.0.0.1:32831/process-payment
  2 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.03ms   30.16ms    1.47s   92.26%
    Req/Sec    23.25k     2.49k   30.32k    70.50%
  Latency Distribution
     50%    9.34ms
     99%    1.20s
  47635 requests in 5.05s, 10.22MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   9434.03
"""


class WarMeasure(unittest.TestCase):
    def test_wrk_numbers(self):
        import war_measure
        self.assertEqual(war_measure.wrk_numbers(WRK_OUT), (9434.03, 1200.0, 1470.0, 7, 5))


class BadArguments(unittest.TestCase):
    def test_as_a_command(self):
        rc, out, err = run_script("war_story.py", "--duration", "0")
        self.assertEqual((rc, out), (2, ""))
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_in_process(self):
        # (a Python start costs seconds on a loaded machine)
        import war_measure
        for args in (["sideways"], ["sweep", "--latencies", "300-100"],
                     ["sweep", "--connections", "0"]):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    rc = cli.run(war_measure.PROG, war_measure.main, args)
                except SystemExit as e:
                    rc = e.code
            self.assertEqual((rc, out.getvalue()), (2, ""), args)
            self.assertEqual(len(err.getvalue().splitlines()), 1, err.getvalue())


if __name__ == "__main__":
    unittest.main()
