"""racelab-loadgen's event loop: N connections really open at once on a
few threads, and --rate's corrected latency counting a stalled service's
backlog that the raw latency does not see.

The concurrency test's server answers nobody until N requests wait at
once (then everyone): a load generator that kept fewer connections busy
would leave it waiting, and its requests would time out."""

import asyncio
import json
import subprocess
import threading
import time
import unittest

import fake_service
from helpers import REPO

LOADGEN = REPO / "build" / "release" / "loadgen" / "racelab-loadgen"
N = 300


class GatherServer:
    """Holds every request until `n` are waiting, then answers all of them;
    records the most connections open at once and each batch's size."""

    def __init__(self, n):
        self.n = n
        self.open = self.peak = self.waiting = 0
        self.batches = []
        self.ids = {}
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def handle(self, reader, writer):
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                req = json.loads(await reader.readexactly(length))
                batch = self.release
                self.waiting += 1
                if self.waiting == self.n:
                    self.batches.append(self.waiting)
                    self.waiting = 0
                    self.release = asyncio.Event()
                    batch.set()
                await batch.wait()
                user = req["user_id"]
                cached = user in self.ids
                pid = self.ids.setdefault(user, len(self.ids) + 1)
                body = (f'{{"status":"success","message":"payment processed","amount":'
                        f'{req["amount"]:.2f},"user_id":"{user}","payment_id":{pid},'
                        f'"cached":{str(cached).lower()}}}').encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def listen(self):
        self.release = asyncio.Event()
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, backlog=1024)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.listen(), self.loop).result(10)
        return self

    def __exit__(self, *exc):
        async def stop():
            self.server.close()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def run_watched(args):
    """Runs the load generator; returns (exit status, its JSON, the most
    threads /proc showed it with while it ran)."""
    p = subprocess.Popen([str(LOADGEN), *map(str, args), "--json", "-"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    most = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("Threads:"):
                        most = max(most, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    out, err = p.communicate(timeout=60)
    return p.returncode, (json.loads(out) if out.strip() else None), most, err


@unittest.skipUnless(LOADGEN.exists(), "racelab-loadgen is not built (make loadgen)")
class EventLoop(unittest.TestCase):
    def test_n_connections_at_once_on_few_threads(self):
        for threads in (1, 2):
            with self.subTest(threads=threads), GatherServer(N) as s:
                rc, run, most, err = run_watched(["--url", s.url, "-c", N, "-n", 2 * N,
                                                  "--threads", threads, "--timeout-ms", 20000])
                self.assertEqual(rc, 0, err)
                self.assertEqual(run["errors"], 0)
                self.assertEqual(run["threads"], threads)
                # Two rounds, each answered only once all N requests waited.
                self.assertEqual(s.batches, [N, N])
                self.assertEqual(s.peak, N)
                # The main thread and the event loops: not one per connection.
                self.assertLessEqual(most, threads + 1)

    def test_threads_above_the_cpus_is_refused(self):
        p = subprocess.run([str(LOADGEN), "--threads", "100000"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--threads must be 1 to", p.stderr)


@unittest.skipUnless(LOADGEN.exists(), "racelab-loadgen is not built (make loadgen)")
class Rate(unittest.TestCase):
    def drive(self, *args):
        server, url = fake_service.serve(fake_service.parse_args(
            ["--delay-every", "10", "--delay-ms", "300"]))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            p = subprocess.run([str(LOADGEN), "--url", url, "-c", "1", "-n", "50", *args,
                                "--json", "-", "--quiet"],
                               capture_output=True, text=True, timeout=60)
            return json.loads(p.stdout)
        finally:
            server.shutdown()
            server.server_close()

    def test_corrected_latency_counts_the_backlog(self):
        # 100 requests/s on one connection, every 10th answer 300 ms late:
        # the requests meant to start during a stall start late, and only
        # the corrected latency counts that wait.
        run = self.drive("--rate", "100")
        raw, fixed = run["latency_ms"], run["latency_corrected_ms"]
        self.assertEqual(run["rate_rps"], 100)
        self.assertEqual(raw["count"], 50)
        self.assertEqual(fixed["count"], 50)
        self.assertGreaterEqual(raw["max"], 290)
        self.assertGreaterEqual(fixed["p50"], raw["p50"] + 50, run)
        self.assertGreaterEqual(run["elapsed_s"], 0.49)
        self.assertIn("coordinated omission corrected", run["latency_note"])

    def test_closed_loop_says_correction_does_not_apply(self):
        run = self.drive()
        self.assertIsNone(run["rate_rps"])
        self.assertIsNone(run["latency_corrected_ms"])
        self.assertIn("correction does not apply", run["latency_note"])


if __name__ == "__main__":
    unittest.main()
