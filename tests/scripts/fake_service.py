#!/usr/bin/env python3
"""fake_service.py: a stand-in for racelab-service, for testing the load
generator and the ledger check without the real service.

It keeps the HTTP contract of service/PROTOCOL.md (POST /process-payment,
GET /healthz, GET /metrics, the one "listening on" line, a cache per user
and a ledger) and can be told to misbehave, so every error kind of
racelab-loadgen has a test that can fail:

  --fail-every N    every Nth payment answers 500 (an injected gateway failure)
  --delay-every N   every Nth payment waits --delay-ms first (a timeout)
  --reset-every N   every Nth payment resets the connection (RST, no answer)
  --leak-every N    every Nth payment answers with another user's payment
  --bad-every N     every Nth payment answers 200 with a body off the contract
  --close-every N   every Nth answer says "Connection: close" (legal: not an error)
  --twice-every N   every Nth payment of a user already charged is charged again,
                    under a new payment id (the double charge of the war story)
  --ledger-skew C   the ledger reports C cents more than it charged

Counting is over all payments, in arrival order. Standard library only.

  --case NAME:fail-every=10,delay-ms=5   (repeatable) one more server per
                    case, in the same process, each printing "NAME URL":
                    the tests start one Python, not one per case.
"""

import argparse
import itertools
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_args(argv):
    p = argparse.ArgumentParser(prog="fake_service.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0)
    for name in ("fail", "delay", "reset", "leak", "bad", "close", "twice"):
        p.add_argument(f"--{name}-every", type=int, default=0, metavar="N")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--ledger-skew", type=int, default=0, metavar="CENTS")
    p.add_argument("--case", action="append", default=[], metavar="NAME:K=V,...")
    # racelab-service's, as racelab/service.py passes them: taken, not used
    p.add_argument("--keys")
    p.add_argument("--ledger")
    return p.parse_args(argv)


def case_args(spec):
    """'leak:leak-every=10' -> ('leak', Namespace) with the case's values."""
    name, _, opts = spec.partition(":")
    argv = []
    for kv in filter(None, opts.split(",")):
        k, _, v = kv.partition("=")
        argv += [f"--{k}", v]
    return name, parse_args(argv)


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.seq = itertools.count(1)
        self.ids = itertools.count(1)
        self.cache = {}  # user -> (payment_id, cents)
        self.hits = 0  # payments of users already charged
        self.charges = 0
        self.ledger = 0
        self.statuses = {}
        self.gateway_failures = 0

    def every(self, name, n):
        k = getattr(self.args, f"{name}_every")
        return k > 0 and n % k == 0


def cents_text(cents):
    return f"{cents // 100}.{cents % 100:02d}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes
    state = None

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its timeout)

    def log_message(self, *args):
        pass

    def send(self, status, body, close=False):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)
        with self.state.lock:
            self.state.statuses[status] = self.state.statuses.get(status, 0) + 1

    def do_GET(self):
        s = self.state
        if self.path == "/healthz":
            return self.send(200, '{"status":"ok"}')
        if self.path == "/metrics":
            with s.lock:
                lines = [f'racelab_requests_total{{status="{k}"}} {v}'
                         for k, v in sorted(s.statuses.items())]
                lines += [f"racelab_charges_total {s.charges}",
                          f"racelab_ledger_cents_total {s.ledger + s.args.ledger_skew}",
                          f"racelab_gateway_failures_total {s.gateway_failures}"]
            data = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        return self.send(404, '{"status":"error","message":"not found"}')

    def do_POST(self):
        s = self.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path != "/process-payment":
            return self.send(404, '{"status":"error","message":"not found"}')
        try:
            req = json.loads(raw)
            user = req["user_id"]
            cents = round(float(req["amount"]) * 100)
        except (ValueError, KeyError, TypeError):
            return self.send(400, '{"status":"error","message":"bad request"}')
        with s.lock:
            n = next(s.seq)
        if s.every("delay", n):
            time.sleep(s.args.delay_ms / 1000)
        if s.every("reset", n):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return None
        if s.every("fail", n):
            with s.lock:
                s.gateway_failures += 1
            return self.send(500, '{"status":"error","message":"payment processing failed"}')
        if s.every("bad", n):
            return self.send(200, '{"status":"success","message":"payment processed"}')
        with s.lock:
            cached = user in s.cache
            if cached:
                s.hits += 1
                cached = not s.every("twice", s.hits)  # else the cache lost it: a new charge
            if not cached:
                s.cache[user] = (next(s.ids), cents)
                s.charges += 1
                s.ledger += cents
            pid, paid = s.cache[user]
        if s.every("leak", n):
            user, paid = user + "-other", paid + 1
        body = (f'{{"status":"success","message":"payment processed","amount":{cents_text(paid)},'
                f'"user_id":"{user}","payment_id":{pid},"cached":{str(cached).lower()}}}')
        return self.send(200, body, close=s.every("close", n))


def serve(args, port=0):
    handler = type("CaseHandler", (Handler,), {"state": State(args)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main(argv=None):
    args = parse_args(argv)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    if args.case:
        lines = []
        for spec in args.case:
            name, cargs = case_args(spec)
            server, url = serve(cargs)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            lines.append(f"{name} {url}")
        print("\n".join(lines), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        return 0
    server, url = serve(args, args.port)
    print(f"racelab-service: listening on {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
