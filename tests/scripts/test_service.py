"""racelab-service over real HTTP: bad input, faults, metrics, shutdown and
the ledger (service/PROTOCOL.md is the contract these check).

Every bad input asserts its status, that the body is the JSON error shape,
and that /healthz still answers afterwards. The binaries come from `make
build` (make test builds first); a missing one is a failure, not a skip.
Each service runs with --port 0 and is stopped with SIGTERM; every wait
has a time limit.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from helpers import REPO

BUILD = REPO / "build"
LISTENING = re.compile(r"^racelab-service: listening on http://127\.0\.0\.1:(\d+)$")
# Two merchants: every request of the tests is ACME's unless it says.
ACME, GLOBEX = "sk_test_acme_0123456789", "sk_test_globex_0123456789"
KEYS = f"# merchant key\nacme {ACME}\nglobex {GLOBEX}\n"


class Service:
    """One racelab-service process on a free port, with the two merchants'
    key file and its own SQLite ledger (ledger= "sqlite:FILE" to share one
    between services, "memory" for none)."""

    def __init__(self, *args, flavour="release", variant="fixed", env=None, ledger=None,
                 preexec_fn=None):
        binary = BUILD / flavour / variant / "racelab-service"
        if not binary.exists():
            raise AssertionError(f"{binary.relative_to(REPO)} is not built (run make build)")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.dir = tempfile.TemporaryDirectory(prefix="racelab-test-service-")
        keys = Path(self.dir.name) / "keys"
        keys.write_text(KEYS)
        ledger = ledger or f"sqlite:{Path(self.dir.name) / 'ledger.db'}"
        self.proc = subprocess.Popen(
            [str(binary), "--port", "0", "--keys", str(keys), "--ledger", ledger, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            preexec_fn=preexec_fn,
        )
        line = self._readline(10)
        m = LISTENING.match(line.rstrip("\n"))
        if not m:
            self.proc.kill()
            raise AssertionError(f"no listening line: {line!r} {self.proc.stderr.read()!r}")
        self.port = int(m.group(1))
        self.stderr = ""

    def _readline(self, timeout):
        box = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return box[0] if box else ""

    def request(self, method, path, body=None, headers=None, timeout=10, api_key=ACME):
        """One request, as the merchant of api_key (None: no Authorization);
        a POST says its body is JSON unless headers say otherwise."""
        headers = dict(headers or {})
        if api_key:
            headers.setdefault("Authorization", f"Bearer {api_key}")
        if method == "POST":
            headers.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def pay(self, user, amount_text, key=None, api_key=ACME):
        """A payment, under Idempotency-Key `key` (None: none)."""
        body = '{"user_id": %s, "amount": %s}' % (json.dumps(user), amount_text)
        headers = {"Idempotency-Key": key} if key is not None else {}
        status, _, data = self.request("POST", "/process-payment", body, headers,
                                       api_key=api_key)
        return status, json.loads(data)

    def metrics(self):
        status, headers, data = self.request("GET", "/metrics")
        assert status == 200, status
        values = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def stop(self, timeout=10):
        """SIGTERM, then the exit status and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()
            raise AssertionError(f"no exit within {timeout} s of SIGTERM")
        finally:
            self.dir.cleanup()
        return self.proc.returncode

    def kill(self):
        """SIGKILL: a crash, nothing of the service's own runs after it."""
        self.proc.kill()
        _, self.stderr = self.proc.communicate(timeout=10)
        self.dir.cleanup()


class ServiceCase(unittest.TestCase):
    args = ("--gateway-latency-ms", "0", "--gateway-failure-rate", "0")

    @classmethod
    def setUpClass(cls):
        cls.svc = Service(*cls.args)

    @classmethod
    def tearDownClass(cls):
        rc = cls.svc.stop()
        if rc != 0:
            raise AssertionError(f"exit {rc} after SIGTERM: {cls.svc.stderr}")

    def assertHealthy(self):
        status, _, body = self.svc.request("GET", "/healthz")
        self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))

    def assertError(self, status, headers, body, want, message=None):
        self.assertEqual(status, want, body)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        doc = json.loads(body)
        self.assertEqual(doc["status"], "error")
        if message:
            self.assertIn(message, doc["message"])
        self.assertHealthy()


class TestBadInput(ServiceCase):
    BAD_BODIES = [
        ("malformed JSON", '{"user_id": "u", "amount": 1', "not valid JSON"),
        ("not an object", '["u", 1]', "not a JSON object"),
        ("empty body", "", "empty"),
        ("missing amount", '{"user_id": "u"}', "missing member amount"),
        ("missing user_id", '{"amount": 1}', "missing member user_id"),
        ("extra member", '{"user_id": "u", "amount": 1, "note": "x"}', "unexpected member"),
        ("duplicate member", '{"user_id": "u", "amount": 1, "amount": 2}', "not valid JSON"),
        ("amount a string", '{"user_id": "u", "amount": "49.99"}', "not a number"),
        ("amount null", '{"user_id": "u", "amount": null}', "not a number"),
        ("user_id a number", '{"user_id": 7, "amount": 1}', "not a string"),
        ("three decimals", '{"user_id": "u", "amount": 49.999}', "two decimals"),
        ("zero", '{"user_id": "u", "amount": 0}', "zero"),
        ("0.00", '{"user_id": "u", "amount": 0.00}', "zero"),
        ("negative", '{"user_id": "u", "amount": -49.99}', "negative"),
        ("NaN", '{"user_id": "u", "amount": NaN}', "not valid JSON"),
        ("Infinity", '{"user_id": "u", "amount": Infinity}', "not valid JSON"),
        ("-Infinity", '{"user_id": "u", "amount": -Infinity}', "not valid JSON"),
        ("exponent", '{"user_id": "u", "amount": 4.999e1}', "exponent"),
        ("above the maximum", '{"user_id": "u", "amount": 10000.01}', "maximum"),
        ("huge", '{"user_id": "u", "amount": 1%s}' % ("0" * 400), "maximum"),
        ("empty user_id", '{"user_id": "", "amount": 1}', "empty"),
        ("32-byte user_id", '{"user_id": "%s", "amount": 1}' % ("u" * 32), "longer"),
        ("very long user_id", '{"user_id": "%s", "amount": 1}' % ("u" * 4000), "longer"),
        ("control character", '{"user_id": "a\\u0007b", "amount": 1}', "control"),
        ("NUL in user_id", '{"user_id": "a\\u0000b", "amount": 1}', "not valid JSON"),
        ("deep nesting", "[" * 2000 + "]" * 2000, "nests deeper"),
    ]

    def test_bad_bodies_are_400(self):
        before = self.svc.metrics()
        for what, body, message in self.BAD_BODIES:
            with self.subTest(what):
                status, headers, data = self.svc.request("POST", "/process-payment", body)
                self.assertError(status, headers, data, 400, message)
        after = self.svc.metrics()
        for name in ["racelab_charges_total", "racelab_ledger_cents_total",
                     "racelab_gateway_calls_total"]:
            self.assertEqual(after[name], before[name], name)

    def test_body_over_the_limit_is_413(self):
        body = '{"user_id": "u", "amount": 1, "pad": "%s"}' % ("x" * 5000)
        status, headers, data = self.svc.request("POST", "/process-payment", body)
        self.assertError(status, headers, data, 413)

    def test_chunked_body_over_the_limit_is_413(self):
        # The service answers and closes as soon as the body passes the
        # limit, so the sender may see its next send fail: the answer is
        # read after that.
        with socket.create_connection(("127.0.0.1", self.svc.port), timeout=10) as s:
            s.sendall(b"POST /process-payment HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            try:
                for _ in range(10):
                    s.sendall(b"3e8\r\n" + b" " * 1000 + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            except OSError:
                pass
            reply = b""
            try:
                while chunk := s.recv(4096):
                    reply += chunk
            except ConnectionResetError:
                pass
        head, _, payload = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head)
        self.assertIn(b"Content-Type: application/json", head)
        self.assertEqual(json.loads(payload)["status"], "error")
        self.assertHealthy()

    def test_wrong_method_is_405(self):
        for method, path, allow in [
            ("GET", "/process-payment", "POST"),
            ("PUT", "/process-payment", "POST"),
            ("POST", "/healthz", "GET, HEAD"),
            ("DELETE", "/metrics", "GET, HEAD"),
        ]:
            with self.subTest(f"{method} {path}"):
                status, headers, data = self.svc.request(method, path, b"{}")
                self.assertEqual(headers.get("Allow"), allow)
                self.assertError(status, headers, data, 405)

    def test_unknown_path_is_404(self):
        for path in ["/", "/process-payment/", "/process-payments", "/healthz/x"]:
            with self.subTest(path):
                status, headers, data = self.svc.request("GET", path)
                self.assertError(status, headers, data, 404)

    def test_slow_client_a_byte_at_a_time(self):
        body = b'{"user_id": "slow", "amount": 12.34}'
        raw = (
            b"POST /process-payment HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\n\r\n%s" % (len(body), ACME.encode(), body)
        )
        with socket.create_connection(("127.0.0.1", self.svc.port), timeout=10) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i, b in enumerate(raw):
                s.sendall(bytes([b]))
                time.sleep(0.002)
                if i == len(raw) // 2:
                    self.assertHealthy()  # served meanwhile, on another connection
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        head, _, payload = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        doc = json.loads(payload)
        self.assertEqual((doc["user_id"], doc["amount"]), ("slow", 12.34))
        self.assertHealthy()

    def test_client_gone_mid_body_is_not_charged(self):
        before = self.svc.metrics()["racelab_charges_total"]
        with socket.create_connection(("127.0.0.1", self.svc.port), timeout=10) as s:
            s.sendall(
                b"POST /process-payment HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n"
                b"Content-Type: application/json\r\n\r\n"
                b'{"user_id": "gone",'
            )
        time.sleep(0.1)
        self.assertHealthy()
        self.assertEqual(self.svc.metrics()["racelab_charges_total"], before)
        status, doc = self.svc.pay("gone", "1.00")
        self.assertEqual((status, doc["cached"]), (200, False))

    def test_head_and_get(self):
        status, headers, data = self.svc.request("HEAD", "/healthz")
        self.assertEqual((status, data), (200, b""))


class TestPayments(ServiceCase):
    def test_story_shape_and_cache(self):
        status, doc = self.svc.pay("user-3-7", "49.99", key="story-3-7")
        self.assertEqual(status, 200)
        self.assertEqual(
            set(doc), {"status", "message", "amount", "user_id", "payment_id", "cached"}
        )
        self.assertEqual(
            (doc["status"], doc["message"], doc["amount"], doc["user_id"], doc["cached"]),
            ("success", "payment processed", 49.99, "user-3-7", False),
        )
        status, again = self.svc.pay("user-3-7", "49.99", key="story-3-7")
        self.assertEqual((status, again["cached"]), (200, True))
        self.assertEqual(again["payment_id"], doc["payment_id"])
        # Without the key, the same user and amount is a second payment.
        status, other = self.svc.pay("user-3-7", "49.99")
        self.assertEqual((status, other["cached"]), (200, False))
        self.assertGreater(other["payment_id"], doc["payment_id"])

    def test_amount_printed_from_cents(self):
        status, _, data = self.svc.request(
            "POST", "/process-payment", '{"user_id": "cents", "amount": 5.5}'
        )
        self.assertEqual(status, 200)
        self.assertIn(b'"amount":5.50,', data)

    def test_metrics_present(self):
        self.svc.pay("metrics-user", "1.00")
        m = self.svc.metrics()
        for name in [
            'racelab_requests_total{status="200"}',
            "racelab_cache_hits_total",
            "racelab_cache_misses_total",
            "racelab_gateway_calls_total",
            "racelab_gateway_failures_total",
            "racelab_charges_total",
            'racelab_payments_total{outcome="charged"}',
            "racelab_ledger_cents_total",
            'racelab_request_duration_seconds_bucket{le="+Inf"}',
            "racelab_request_duration_seconds_sum",
            "racelab_request_duration_seconds_count",
        ]:
            self.assertIn(name, m)
        self.assertGreaterEqual(m["racelab_charges_total"], 1)
        _, headers, _ = self.svc.request("GET", "/metrics")
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))


class TestAuthentication(ServiceCase):
    def test_no_or_wrong_key_is_401(self):
        body = '{"user_id": "u401", "amount": 1}'
        before = self.svc.metrics()["racelab_charges_total"]
        for what, headers in [
            ("no header", {}),
            ("wrong key", {"Authorization": "Bearer sk_test_nobody_0123456789"}),
            ("a prefix of a key", {"Authorization": "Bearer " + ACME[:-1]}),
            ("a key and more", {"Authorization": "Bearer " + ACME + "x"}),
            ("not Bearer", {"Authorization": "Basic " + ACME}),
            ("the key alone", {"Authorization": ACME}),
        ]:
            with self.subTest(what):
                status, h, data = self.svc.request("POST", "/process-payment", body, headers,
                                                   api_key=None)
                self.assertEqual(h.get("WWW-Authenticate"), "Bearer")
                self.assertError(status, h, data, 401, "API key")
        status, h, data = self.svc.request("GET", "/payments/1", api_key=None)
        self.assertError(status, h, data, 401)
        self.assertEqual(self.svc.metrics()["racelab_charges_total"], before)

    def test_scheme_in_any_case(self):
        status, _, _ = self.svc.request("POST", "/process-payment",
                                        '{"user_id": "case", "amount": 1}',
                                        {"Authorization": "bearer " + ACME}, api_key=None)
        self.assertEqual(status, 200)

    def test_merchants_share_nothing(self):
        """One key, one user, two merchants: two payments, and neither
        merchant can read the other's."""
        s1, a = self.svc.pay("shared-user", "7.00", key="order-1", api_key=ACME)
        s2, g = self.svc.pay("shared-user", "8.00", key="order-1", api_key=GLOBEX)
        self.assertEqual((s1, s2, a["cached"], g["cached"]), (200, 200, False, False))
        self.assertNotEqual(a["payment_id"], g["payment_id"])
        for payment, owner, other in ((a, ACME, GLOBEX), (g, GLOBEX, ACME)):
            path = f"/payments/{payment['payment_id']}"
            self.assertEqual(self.svc.request("GET", path, api_key=owner)[0], 200)
            status, h, data = self.svc.request("GET", path, api_key=other)
            self.assertError(status, h, data, 404, "no such payment")
        # and each merchant's key still answers its own payment
        self.assertEqual(self.svc.pay("shared-user", "7.00", key="order-1")[1]["payment_id"],
                         a["payment_id"])


class TestIdempotency(ServiceCase):
    def test_same_key_same_request_is_the_stored_response(self):
        status, first = self.svc.pay("idem-a", "5.50", key="k-same")
        self.assertEqual((status, first["cached"]), (200, False))
        for amount in ("5.50", "5.5"):  # the same amount, parsed
            status, again = self.svc.pay("idem-a", amount, key="k-same")
            self.assertEqual((status, again["cached"]), (200, True))
            self.assertEqual({k: v for k, v in again.items() if k != "cached"},
                             {k: v for k, v in first.items() if k != "cached"})

    def test_same_key_different_request_is_422(self):
        self.assertEqual(self.svc.pay("idem-b", "1.00", key="k-diff")[0], 200)
        before = self.svc.metrics()["racelab_charges_total"]
        for user, amount in (("idem-b", "1.01"), ("idem-c", "1.00")):
            body = '{"user_id": "%s", "amount": %s}' % (user, amount)
            status, h, data = self.svc.request("POST", "/process-payment", body,
                                               {"Idempotency-Key": "k-diff"})
            self.assertError(status, h, data, 422, "different request")
        self.assertEqual(self.svc.metrics()["racelab_charges_total"], before)

    def test_no_key_every_request_a_payment(self):
        ids = {self.svc.pay("idem-none", "2.00")[1]["payment_id"] for _ in range(3)}
        self.assertEqual(len(ids), 3)

    def test_bad_keys_are_400(self):
        for what, key in [("empty", ""), ("256 bytes", "k" * 256), ("a control byte", "a\x01b")]:
            with self.subTest(what):
                body = '{"user_id": "idem-bad", "amount": 1}'
                status, h, data = self.svc.request("POST", "/process-payment", body,
                                                   {"Idempotency-Key": key})
                self.assertError(status, h, data, 400, "Idempotency-Key")
        self.assertEqual(self.svc.pay("idem-long", "1.00", key="k" * 255)[0], 200)


class TestPaymentEndpoint(ServiceCase):
    def test_get_a_payment(self):
        _, paid = self.svc.pay("reader", "12.30", key="read-1")
        status, h, data = self.svc.request("GET", f"/payments/{paid['payment_id']}")
        self.assertEqual((status, h.get("Content-Type")), (200, "application/json"))
        doc = json.loads(data)
        self.assertEqual(set(doc), {"status", "payment_id", "amount", "user_id", "created"})
        self.assertEqual((doc["payment_id"], doc["amount"], doc["user_id"]),
                         (paid["payment_id"], 12.30, "reader"))
        self.assertLessEqual(abs(doc["created"] - time.time()), 60)
        self.assertIn(b'"amount":12.30,', data)

    def test_unknown_or_malformed_ids_are_404(self):
        for path in ["/payments/999999", "/payments/0", "/payments/01", "/payments/x",
                     "/payments/", "/payments/-1", "/payments/99999999999999999999"]:
            with self.subTest(path):
                status, h, data = self.svc.request("GET", path)
                self.assertError(status, h, data, 404, "no such payment")

    def test_only_get(self):
        status, h, data = self.svc.request("POST", "/payments/1", b"{}")
        self.assertEqual(h.get("Allow"), "GET, HEAD")
        self.assertError(status, h, data, 405)


class TestExpiry(unittest.TestCase):
    def test_a_key_expires(self):
        """--idempotency-ttl 1: the sweep (every second) releases the key,
        and the same request under it is a new payment."""
        svc = Service("--gateway-latency-ms", "0", "--gateway-failure-rate", "0",
                      "--idempotency-ttl", "1")
        try:
            _, first = svc.pay("ttl", "1.00", key="k-ttl")
            self.assertTrue(svc.pay("ttl", "1.00", key="k-ttl")[1]["cached"])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.25)
                status, doc = svc.pay("ttl", "1.00", key="k-ttl")
                if not doc["cached"]:
                    break
            self.assertEqual((status, doc["cached"]), (200, False))
            self.assertGreater(doc["payment_id"], first["payment_id"])
            # the first payment stays in the ledger
            self.assertEqual(svc.request("GET", f"/payments/{first['payment_id']}")[0], 200)
        finally:
            self.assertEqual(svc.stop(), 0)


class TestDurableLedger(unittest.TestCase):
    ARGS = ("--gateway-latency-ms", "0", "--gateway-failure-rate", "0")

    def test_a_restart_keeps_keys_ids_and_totals(self):
        with tempfile.TemporaryDirectory() as d:
            ledger = f"sqlite:{d}/ledger.db"
            svc = Service(*self.ARGS, ledger=ledger)
            try:
                _, a = svc.pay("r1", "3.00", key="restart-1")
                _, b = svc.pay("r2", "4.00")
            finally:
                self.assertEqual(svc.stop(), 0)
            svc = Service(*self.ARGS, ledger=ledger)
            try:
                status, again = svc.pay("r1", "3.00", key="restart-1")
                self.assertEqual((status, again["cached"], again["payment_id"]),
                                 (200, True, a["payment_id"]))
                self.assertEqual(svc.pay("r1", "3.01", key="restart-1")[0], 422)
                _, c = svc.pay("r3", "5.00")
                self.assertGreater(c["payment_id"], b["payment_id"])  # no id handed out twice
                m = svc.metrics()
                self.assertEqual((m["racelab_ledger_payments_total"],
                                  m["racelab_ledger_cents_total"]), (3, 1200))
                self.assertEqual(svc.request("GET", f"/payments/{b['payment_id']}")[0], 200)
            finally:
                self.assertEqual(svc.stop(), 0)

    def test_memory_ledger_forgets(self):
        svc = Service(*self.ARGS, ledger="memory")
        try:
            self.assertEqual(svc.pay("mem", "1.00", key="m")[0], 200)
        finally:
            self.assertEqual(svc.stop(), 0)
        svc = Service(*self.ARGS, ledger="memory")
        try:
            self.assertFalse(svc.pay("mem", "1.00", key="m")[1]["cached"])
        finally:
            self.assertEqual(svc.stop(), 0)


class TestGatewayFaults(unittest.TestCase):
    def test_failures_are_500_and_not_charged(self):
        svc = Service("--gateway-latency-ms", "0", "--gateway-failure-rate", "1")
        try:
            status, doc = svc.pay("unlucky", "10.00")
            self.assertEqual((status, doc["message"]), (500, "payment processing failed"))
            m = svc.metrics()
            self.assertEqual(
                (m["racelab_gateway_failures_total"], m["racelab_charges_total"]), (1, 0)
            )
            self.assertEqual(m["racelab_ledger_cents_total"], 0)
            self.assertEqual(svc.request("GET", "/healthz")[0], 200)
        finally:
            self.assertEqual(svc.stop(), 0)

    def test_timeouts_are_500_and_not_charged(self):
        # The ledger in memory: what is timed is the gateway's cut-off, not
        # the fsyncs of the durable ledger's reserve and void (tens of ms
        # on a loaded machine).
        svc = Service("--gateway-latency-ms", "200", "--gateway-timeout-ms", "20",
                      ledger="memory")
        try:
            t0 = time.monotonic()
            status, doc = svc.pay("slowgw", "10.00")
            self.assertLess(time.monotonic() - t0, 0.15)  # cut off at 20 ms, not 200
            self.assertEqual(status, 500)
            m = svc.metrics()
            self.assertEqual(
                (m["racelab_gateway_timeouts_total"], m["racelab_charges_total"]), (1, 0)
            )
            self.assertEqual(m["racelab_ledger_cents_total"], 0)
            self.assertEqual(svc.request("GET", "/healthz")[0], 200)
        finally:
            self.assertEqual(svc.stop(), 0)

    def test_seed_repeats_the_draws(self):
        """Sequential calls with the same seed fail at the same places."""

        def pattern(seed):
            svc = Service(
                "--gateway-latency-ms", "0", "--gateway-failure-rate", "0.3", "--seed", seed
            )
            try:
                return [svc.pay(f"s{i}", "1.00")[0] for i in range(30)]
            finally:
                svc.stop()

        a, b, c = pattern("7"), pattern("7"), pattern("8")
        self.assertEqual(a, b)
        self.assertIn(500, a)
        self.assertNotEqual(a, c)


def concurrent_load(svc, threads=8, per_thread=30, users_per_thread=5):
    """The story's pattern, small: each thread reuses a few user ids, each
    user always with the same amount and the user id as idempotency key. Returns every (status, doc, user,
    amount) and the first exception raised in a thread."""
    results, errors = [], []
    lock = threading.Lock()

    def worker(t):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=20)
            for j in range(per_thread):
                user = f"user-{t}-{j % users_per_thread}"
                amount = "%d.%02d" % (1 + t, (j % users_per_thread) * 7)
                conn.request(
                    "POST",
                    "/process-payment",
                    '{"user_id": "%s", "amount": %s}' % (user, amount),
                    {"Authorization": f"Bearer {ACME}", "Idempotency-Key": user,
                     "Content-Type": "application/json"},
                )
                r = conn.getresponse()
                doc = json.loads(r.read())
                with lock:
                    results.append((r.status, doc, user, amount))
            conn.close()
        except Exception as e:  # noqa: BLE001 (reported by the test)
            with lock:
                errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return results, errors


def ledger_problems(results, metrics):
    """What is wrong with the ledger after a load, as a list of lines."""
    problems, amounts = [], {}
    for status, doc, user, amount in results:
        if status != 200:
            problems.append(f"{user}: status {status} {doc}")
            continue
        cents = round(float(amount) * 100)  # the test's own literal, two decimals
        if doc["user_id"] != user or round(doc["amount"] * 100) != cents:
            problems.append(f"leak: sent {user} {amount}, got {doc}")
        if amounts.setdefault(doc["payment_id"], cents) != cents:
            problems.append(f"payment {doc['payment_id']} has two amounts")
    if len(amounts) != metrics["racelab_charges_total"]:
        problems.append(f"{len(amounts)} payment ids, {metrics['racelab_charges_total']} charges")
    if sum(amounts.values()) != metrics["racelab_ledger_cents_total"]:
        problems.append(
            f"responses sum to {sum(amounts.values())} cents, ledger "
            f"{metrics['racelab_ledger_cents_total']}"
        )
    return problems


class TestLedger(unittest.TestCase):
    def check_load(self, flavour):
        env = {"ASAN_OPTIONS": "halt_on_error=1:detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1"}
        svc = Service(
            "--gateway-latency-ms", "0-5", "--gateway-failure-rate", "0", flavour=flavour, env=env
        )
        try:
            results, errors = concurrent_load(svc)
            self.assertEqual(errors, [])
            self.assertEqual(len(results), 8 * 30)
            m = svc.metrics()
            self.assertEqual(ledger_problems(results, m), [])
            self.assertEqual(m["racelab_charges_total"], 8 * 5)  # one per user
        finally:
            rc = svc.stop()
        self.assertEqual(rc, 0, svc.stderr)
        self.assertNotIn("ERROR: AddressSanitizer", svc.stderr)
        self.assertNotIn("runtime error:", svc.stderr)
        self.assertNotIn("LeakSanitizer", svc.stderr)
        self.assertNotIn("WARNING: ThreadSanitizer", svc.stderr)

    def test_fixed_ledger_after_concurrent_load(self):
        self.check_load("release")

    def test_asan_ubsan_build_runs_the_load_clean(self):
        self.check_load("asan")

    def test_tsan_build_runs_the_load_clean(self):
        """The fixed service has no data race of its own (the metrics, the
        shutdown flag, the request state): ThreadSanitizer stays silent."""
        self.check_load("tsan-clang")

    def test_one_charge_per_user_in_flight(self):
        """Lab 3's fix over HTTP: 12 requests under one idempotency key at
        once, while the gateway takes 100 ms: exactly one charge, eleven
        cached."""
        svc = Service("--gateway-latency-ms", "100", "--gateway-failure-rate", "0")
        try:
            barrier = threading.Barrier(12)
            out = []

            def one():
                barrier.wait(5)
                out.append(svc.pay("same-user", "3.00", key="same-key"))

            ts = [threading.Thread(target=one) for _ in range(12)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(10)
            self.assertEqual([s for s, _ in out], [200] * 12)
            self.assertEqual(sorted(d["cached"] for _, d in out), [False] + [True] * 11)
            self.assertEqual(len({d["payment_id"] for _, d in out}), 1)
            m = svc.metrics()
            self.assertEqual((m["racelab_charges_total"], m["racelab_ledger_cents_total"]), (1, 300))
        finally:
            self.assertEqual(svc.stop(), 0)


class TestShutdown(unittest.TestCase):
    def test_sigterm_finishes_requests_in_flight(self):
        svc = Service("--gateway-latency-ms", "300", "--gateway-failure-rate", "0")
        out = []
        t = threading.Thread(target=lambda: out.append(svc.pay("late", "2.00")))
        t.start()
        time.sleep(0.1)  # the request is at the gateway now
        svc.proc.send_signal(signal.SIGTERM)
        t.join(10)
        self.assertEqual(svc.stop(), 0)
        self.assertEqual(out and out[0][0], 200, out)
        self.assertRegex(
            svc.stderr,
            r"racelab-service: shutdown: \d+ requests, 1 charges, ledger 200 cents\n$",
        )
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", svc.port), timeout=2).close()

    def test_sigint_idle(self):
        svc = Service()
        svc.proc.send_signal(signal.SIGINT)
        self.assertEqual(svc.stop(), 0)
        self.assertIn("racelab-service: shutdown: 0 requests", svc.stderr)


class TestOptions(unittest.TestCase):
    def run_bin(self, *args, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run(
            [str(BUILD / "release" / "fixed" / "racelab-service"), *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=full_env,
        )

    def test_bad_options_exit_2_with_one_line(self):
        for args, env in [
            (["--port", "x"], None),
            (["--port", "70000"], None),
            (["--gateway-latency-ms", "300-100"], None),
            (["--gateway-failure-rate", "2"], None),
            (["--max-amount", "1e3"], None),
            (["--max-amount", "0.001"], None),
            (["--bogus", "1"], None),
            (["--port"], None),
            (["stray"], None),
            ([], {"RACELAB_SERVICE_SEED": "-1"}),
            (["--ledger", "memory"], None),  # no --keys
            (["--keys", "/nonexistent/keys"], None),
            (["--keys", os.devnull], None),  # no merchant in it
            (["--ledger", "postgres:"], None),
            (["--ledger", "mysql:x"], None),
            (["--ledger-sync", "off"], None),
            (["--idempotency-ttl", "0"], None),
        ]:
            with self.subTest(args=args, env=env):
                r = self.run_bin(*args, env=env)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertTrue(r.stderr.startswith("racelab-service: "), r.stderr)

    def test_a_ledger_that_cannot_be_reached_exits_1_with_one_line(self):
        # A well-formed --ledger that does not open is not a usage error:
        # exit 1, libpq's reason on one line, nothing listening.
        for ledger in ("postgres:x", "postgres:host=/nonexistent port=1 dbname=racelab"):
            with self.subTest(ledger=ledger):
                with tempfile.NamedTemporaryFile("w", suffix=".keys") as f:
                    f.write(KEYS)
                    f.flush()
                    r = self.run_bin("--keys", f.name, "--ledger", ledger, "--port", "0")
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertIn("racelab-service: ledger postgres: cannot connect: ", r.stderr)

    def test_every_variable_in_help_is_read(self):
        # --help names each option's variable; one left out of the table
        # that reads the environment is silently ignored. An invalid value
        # must be refused, naming its option.
        names = re.findall(r"\[RACELAB_SERVICE_([A-Z_]+)\]", self.run_bin("--help").stdout)
        self.assertGreaterEqual(len(names), 9)
        for name in names:
            with self.subTest(variable=name):
                r = self.run_bin(env={f"RACELAB_SERVICE_{name}": "x"})
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(f"bad --{name.lower().replace('_', '-')} 'x'", r.stderr)

    def test_bad_key_files_exit_2_naming_the_line(self):
        for what, text, want in [
            ("short key", "acme short\n", "line 1: key not 16 to 127 bytes"),
            ("one word", "# c\nacme\n", "line 2: want MERCHANT KEY"),
            ("three words", f"acme {ACME} x\n", "line 1: want MERCHANT KEY"),
            ("bad merchant", f"ac/me {ACME}\n", "line 1: merchant id"),
            ("merchant twice", f"acme {ACME}\nacme {GLOBEX}\n", "line 2: merchant listed"),
            ("key twice", f"acme {ACME}\nglobex {ACME}\n", "line 2: key listed twice"),
        ]:
            with self.subTest(what), tempfile.NamedTemporaryFile("w") as f:
                f.write(text)
                f.flush()
                r = self.run_bin("--keys", f.name, "--ledger", "memory")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertIn(want, r.stderr)

    def test_help(self):
        r = self.run_bin("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--gateway-latency-ms", r.stdout)

    def test_environment_and_max_amount(self):
        svc = Service(env={"RACELAB_SERVICE_MAX_AMOUNT": "5.00",
                           "RACELAB_SERVICE_GATEWAY_LATENCY_MS": "0",
                           "RACELAB_SERVICE_GATEWAY_FAILURE_RATE": "0"})
        try:
            self.assertEqual(svc.pay("e", "5.00")[0], 200)
            self.assertEqual(svc.pay("f", "5.01")[0], 400)
        finally:
            self.assertEqual(svc.stop(), 0)


if __name__ == "__main__":
    unittest.main()
