#!/usr/bin/env python3
"""war_measure.py: the war story's numbers, measured: what racelab-service
does under racelab-loadgen's load.

  scripts/war_measure.py fixed      the fixed service, 200 connections, 30 s,
                                    the story's gateway: errors by kind, ledger
  scripts/war_measure.py sweep      the broken service: gateway latency x
                                    connections, N runs a point: the rate of
                                    runs with errors, leaks or a crash (95%
                                    Wilson intervals); --write TSV keeps it
  scripts/war_measure.py wrk        the fixed service, gateway 0 ms, 1000 and 200
                                    connections: requests/s, p99 and maximum by
                                    racelab-loadgen and by wrk, and their ratio
                                    (--loadgen PATH: another build of it)
  scripts/war_measure.py overhead   the fixed service's p99 over the gateway's
                                    own simulated p99, every request a charge,
                                    the ledger in memory, then durable
  scripts/war_measure.py tsan       the broken service built with TSan, N runs
                                    per gateway latency: how often, and how
                                    soon, a report at lab 1's race site comes

Each run starts a fresh service (its ledger must start empty) and stops it.
Records go to results/war-<what>-<time>/ as JSON lines. The machine these
run on is shared and noisy: the numbers are this machine's, this hour's.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from racelab import cli, scenario, stats
from racelab import service as svc
from racelab.cli import Failure, say

PROG = "war_measure.py"
STORY_LATENCY, STORY_FAILURES = "100-300", "0.005"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("what", choices=("fixed", "sweep", "wrk", "overhead", "tsan"))
    p.add_argument("--duration", type=cli.positive_int, metavar="S",
                   help="seconds of load per run (fixed 30, sweep 3, wrk 10, overhead 20, "
                   "tsan 10)")
    p.add_argument("--runs", type=cli.positive_int, default=10,
                   help="sweep: runs a point (10); wrk: rounds (1)")
    p.add_argument("--latencies", default="100-300,10-30,1-3,0-0",
                   help="sweep: gateway latency ranges in ms (100-300,10-30,1-3,0-0)")
    p.add_argument("--connections", default="10,200,1000",
                   help="sweep: connection counts (10,200,1000); wrk: each (1000,200); "
                   "other modes: the first")
    p.add_argument("--variant", default=None, help="sweep: broken-1 (default) or fixed")
    p.add_argument("--write", metavar="TSV", help="sweep: also write the table here; wrk, overhead: "
                   "add each round's (each ledger's) row to this table (with its header when "
                   "it is new)")
    p.add_argument("--loadgen", metavar="PATH",
                   help="wrk: the racelab-loadgen to measure (default: this tree's build)")
    p.add_argument("--results", metavar="DIR", help="records (default results/war-<what>-<time>)")
    return p


def latency_list(text):
    out = []
    for part in text.split(","):
        lo, dash, hi = part.partition("-")
        if not (lo.isdigit() and hi.isdigit() and dash) or int(lo) > int(hi):
            raise Failure(f"--latencies: '{part}' is not MIN-MAX in ms")
        out.append(part)
    return out


def int_list(text, what):
    try:
        out = [int(x) for x in text.split(",")]
    except ValueError:
        raise Failure(f"--{what}: '{text}' is not a list of integers") from None
    if any(x < 1 or x > 10000 for x in out):
        raise Failure(f"--{what}: each must be 1 to 10000")
    return out


def gateway(latency, seed=1):
    return ["--gateway-latency-ms", latency, "--gateway-failure-rate", STORY_FAILURES,
            "--seed", seed]


def one_run(variant, latency, connections, duration, seed, extra=(), ledger=None):
    """One fresh service under one load: a record of what happened.
    ledger: "memory", or None for a fresh SQLite file."""
    binary = svc.service_bin("release", variant)
    with svc.Service(binary, gateway(latency, seed), ledger=ledger) as s:
        rc, run, err = svc.loadgen(s.url, ["-c", connections, "-d", duration,
                                           "--timeout-ms", 5000, *extra], duration + 90)
        alive = s.alive()
        m = {}
        if alive and run:
            try:
                m = svc.metrics(s.url)
            except Failure:
                # The broken service can crash between the check and the
                # read (a process dying of a signal still shows as running
                # for a moment): that is a crash, not an error of the
                # measurement.
                try:
                    s.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    raise Failure(f"the service is running but {s.url}/metrics does not "
                                  "answer") from None
                alive = False
        code = s.stop()
        words = "" if alive else s.crash_words()
    rec = {"variant": variant, "gateway_ms": latency, "connections": connections,
           "duration_s": duration, "seed": seed, "ledger": ledger or "sqlite", "loadgen_exit": rc, "crashed": not alive,
           "service_exit": code, "crash_words": words, "run": run, "metrics": m}
    if run is None:
        rec["loadgen_error"] = err.strip()[-300:]
    return rec


def judge(rec):
    """(crash, other errors, leaks, users charged twice) of one run record."""
    run = rec["run"] or {}
    kinds = run.get("errors_by_kind", {"status": {}})
    injected = kinds["status"].get("500", 0)
    other = run.get("errors", 0) - injected
    return (rec["crashed"] or rec["run"] is None, other, kinds.get("leak", 0),
            run.get("payments", {}).get("users_charged_twice", 0))


def results_dir(args, what):
    d = Path(args.results or scenario.root() / "results" /
             time.strftime(f"war-{what}-%Y%m%dT%H%M%SZ", time.gmtime()))
    d.mkdir(parents=True, exist_ok=True)
    return d


def save(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def show(run):
    lat = run["latency_ms"]
    return (f"{run['requests']} requests, {run['throughput_rps']:.0f}/s, errors: "
            f"{svc.summary(run)}; p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, "
            f"max {lat['max']:.1f} ms")


def do_fixed(args):
    conns = int_list(args.connections, "connections")[0] if args.connections != \
        parser().get_default("connections") else 200
    duration = args.duration or 30
    d = results_dir(args, "fixed")
    say(f"fixed service, {conns} connections, {duration} s, gateway {STORY_LATENCY} ms, "
        f"{STORY_FAILURES} failures, users user-w-(j%10)")
    rec = one_run("fixed", STORY_LATENCY, conns, duration, 1)
    save(d / "runs.jsonl", rec)
    if rec["run"] is None or rec["crashed"]:
        raise Failure(f"the run failed: {rec.get('loadgen_error') or rec['crash_words']}")
    say("  " + show(rec["run"]))
    _, other, _, _ = judge(rec)
    failures = int(rec["metrics"].get("racelab_gateway_failures_total", -1))
    injected = rec["run"]["errors_by_kind"]["status"].get("500", 0)
    good = other == 0 and injected == failures
    say(f"  {'ok  ' if good else 'FAIL'} errors other than injected gateway failures: {other} "
        f"(500s {injected}, the service's gateway failures {failures})")
    pay = rec["run"]["payments"]
    for ok, line in svc.ledger_checks(pay, rec["metrics"]):
        say(f"  {'ok  ' if ok else 'FAIL'} {line}")
        good = good and ok
    say(f"  records: {scenario.shown(d)}")
    return 0 if good else 1


def do_sweep(args):
    variant = args.variant or "broken-1"
    lats = latency_list(args.latencies)
    conns = int_list(args.connections, "connections")
    duration = args.duration or 3
    d = results_dir(args, "sweep")
    say(f"{variant} service, users user-w-(j%10), {args.runs} runs a point of {duration} s; "
        f"records in {scenario.shown(d)}")
    rows = []
    hdr = (f"{'gateway ms':>10} {'conns':>5} {'runs':>4} {'crash':>5} {'errors':>6} "
           f"{'leak':>4} {'twice':>5} {'any':>4} {'95% CI any':>10} {'p99 ms':>8}")
    say(hdr)
    for latency in lats:
        for c in conns:
            recs = []
            for i in range(args.runs):
                rec = one_run(variant, latency, c, duration, i + 1)
                save(d / "runs.jsonl", rec)
                recs.append(rec)
            j = [judge(r) for r in recs]
            crash = sum(bool(x[0]) for x in j)
            errors = sum(x[1] > 0 for x in j)
            leak = sum(x[2] > 0 for x in j)
            twice = sum(x[3] > 0 for x in j)
            anyk = sum(bool(x[0]) or x[1] > 0 or x[2] > 0 for x in j)
            low, high = stats.wilson(anyk, args.runs)
            p99s = [r["run"]["latency_ms"]["p99"] for r in recs if r["run"]]
            p99 = statistics.median(p99s) if p99s else float("nan")
            say(f"{latency:>10} {c:>5} {args.runs:>4} {crash:>5} {errors:>6} {leak:>4} "
                f"{twice:>5} {anyk:>4} {low:.2f}-{high:.2f} {p99:>8.1f}")
            rows.append([variant, latency, c, duration, args.runs, crash, errors, leak, twice,
                         anyk, f"{low:.2f}", f"{high:.2f}", f"{p99:.1f}"])
    if args.write:
        head = ["variant", "gateway_ms", "connections", "duration_s", "runs", "crash", "errors",
                "leak", "charged_twice", "any", "any_low", "any_high", "p99_ms_median"]
        lines = ["\t".join(head)] + ["\t".join(map(str, r)) for r in rows]
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text("\n".join(lines) + "\n")
        say(f"table written to {args.write}")
    return 0


WRK_LUA = f"""\
wrk.method = "POST"
wrk.body = '{{"user_id": "user-s-0", "amount": 49.99}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {svc.API_KEY}"
wrk.headers["Idempotency-Key"] = "user-s-0"
"""


def wrk_time_ms(v):
    """'9.34ms' -> 9.34, '1.20s' -> 1200.0, '512.00us' -> 0.512."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("m", 60000.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
    return float(v)


def wrk_numbers(text):
    """(requests/s, p99 ms, max ms, non-2xx, socket errors) from `wrk --latency`."""
    rps = p99 = top = None
    non2xx = errors = 0
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif parts[:1] == ["99%"]:
            p99 = wrk_time_ms(parts[1])
        elif parts[:1] == ["Latency"] and len(parts) >= 4:  # Avg, Stdev, Max
            top = wrk_time_ms(parts[3])
        elif "Non-2xx" in line:
            non2xx = int(parts[-1])
        elif line.strip().startswith("Socket errors:"):
            errors = sum(int(x.strip(",")) for x in parts[3::2])
    return rps, p99, top, non2xx, errors


def ratio(a, b):
    return a / b if a is not None and b else float("nan")


def wrk_round(args, s, conns, duration, lua, wrk_first):
    """racelab-loadgen and wrk, one after the other (wrk first when
    wrk_first: the first of the two meets a service with no threads yet),
    against the one service s: a record."""
    before = os.getloadavg()[0]
    threads = min(conns, os.cpu_count() or 2)

    def run_wrk():
        return subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s",
                               "--latency", "--timeout", "5s", "-s", lua,
                               s.url + "/process-payment"],
                              capture_output=True, text=True, timeout=duration + 60)
    w = run_wrk() if wrk_first else None
    rc, run, err = svc.loadgen(s.url, ["-c", conns, "-d", duration, "--users", "shared:1"],
                               duration + 60, binary=args.loadgen)
    if run is None:
        raise Failure(f"racelab-loadgen failed: {err.strip()}")
    w = w or run_wrk()
    rps, p99, top, non2xx, errors = wrk_numbers(w.stdout)
    lat = run["latency_ms"]
    return {"connections": conns, "duration_s": duration, "first": "wrk" if wrk_first else
            "racelab-loadgen", "loadavg_before": before,
            "loadavg_after": os.getloadavg()[0], "loadgen": run, "wrk_stdout": w.stdout,
            "wrk_exit": w.returncode,
            "wrk": {"rps": rps, "p99_ms": p99, "max_ms": top, "errors": non2xx + errors},
            "ratio_p99": ratio(lat["p99"], p99), "ratio_max": ratio(lat["max"], top)}


def show_round(rec):
    run, wrk, lat = rec["loadgen"], rec["wrk"], rec["loadgen"]["latency_ms"]
    say(f"  {rec['connections']} connections, {rec['duration_s']} s each, {rec['first']} first "
        f"(load average {rec['loadavg_before']:.2f} before, {rec['loadavg_after']:.2f} after)")
    say(f"    {'':<16} {'requests/s':>10} {'p99 ms':>9} {'max ms':>9} {'errors':>7}")
    say(f"    {'racelab-loadgen':<16} {run['throughput_rps']:>10.0f} {lat['p99']:>9.2f} "
        f"{lat['max']:>9.2f} {run['errors']:>7}")
    say(f"    {'wrk':<16} {wrk['rps'] or 0:>10.0f} {wrk['p99_ms'] or float('nan'):>9.2f} "
        f"{wrk['max_ms'] or float('nan'):>9.2f} {wrk['errors']:>7}")
    say(f"    {'loadgen / wrk':<16} {'':>10} {rec['ratio_p99']:>8.2f}x {rec['ratio_max']:>8.2f}x"
        f"   (the target: 1.2x at most)")


WRK_COLUMNS = ("loadgen", "connections", "duration_s", "round", "first", "loadavg_before",
               "loadavg_after", "loadgen_rps", "loadgen_p99_ms", "loadgen_max_ms", "wrk_rps",
               "wrk_p99_ms", "wrk_max_ms", "ratio_p99", "ratio_max")


def write_rounds(path, recs):
    """Adds one row a round to the table at path (expected/http/loadgen-wrk.tsv)."""
    rows = []
    for r in recs:
        run, wrk, lat = r["loadgen"], r["wrk"], r["loadgen"]["latency_ms"]
        # Which design measured: the event loop's JSON names its threads.
        design = "event-loop" if "threads" in run else "thread-per-connection"
        rows.append([design, r["connections"], r["duration_s"], r["round"], r["first"],
                     f"{r['loadavg_before']:.2f}", f"{r['loadavg_after']:.2f}",
                     f"{run['throughput_rps']:.0f}", f"{lat['p99']:.1f}", f"{lat['max']:.1f}",
                     f"{wrk['rps'] or 0:.0f}", f"{wrk['p99_ms'] or 0:.1f}",
                     f"{wrk['max_ms'] or 0:.1f}", f"{r['ratio_p99']:.2f}",
                     f"{r['ratio_max']:.2f}"])
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        if new:
            f.write("\t".join(WRK_COLUMNS) + "\n")
        for row in rows:
            f.write("\t".join(map(str, row)) + "\n")
    say(f"  {len(rows)} rows added to {scenario.shown(path)}")


def do_wrk(args):
    """racelab-loadgen beside wrk against the same service in the same run,
    closed loop both, round after round; ratios above 1 are the load
    generator's own latency (or the machine's noise: see the load average)."""
    if not shutil.which("wrk"):
        raise Failure("wrk is not installed (scripts/deps.sh)")
    if args.loadgen and not Path(args.loadgen).is_file():
        raise Failure(f"--loadgen {args.loadgen}: no such file")
    conns = [1000, 200] if args.connections == parser().get_default("connections") else \
        int_list(args.connections, "connections")
    rounds = 1 if args.runs == parser().get_default("runs") else args.runs
    duration = args.duration or 10
    d = results_dir(args, "wrk")
    say(f"fixed service, gateway 0 ms, one user (user-s-0: every request after the first is a "
        f"cache hit);\nracelab-loadgen ({scenario.shown(args.loadgen or svc.loadgen_bin())}) and wrk, against "
        f"the same service, {rounds} round(s), the first run alternating")
    binary = svc.service_bin("release", "fixed")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA)
        lua = f.name
    recs = []
    try:
        with svc.Service(binary, gateway("0-0")) as s:
            for r in range(rounds):
                for c in conns:
                    rec = dict(wrk_round(args, s, c, duration, lua, r % 2 == 1), round=r + 1)
                    save(d / "runs.jsonl", rec)
                    show_round(rec)
                    recs.append(rec)
    finally:
        os.unlink(lua)
    if args.write:
        write_rounds(Path(args.write), recs)
    if rounds > 1:
        for c in conns:
            mine = [x for x in recs if x["connections"] == c]
            say(f"  {c} connections, median of {rounds} rounds: p99 "
                f"{statistics.median(x['ratio_p99'] for x in mine):.2f}x, max "
                f"{statistics.median(x['ratio_max'] for x in mine):.2f}x wrk's")
    say(f"  records: {scenario.shown(d)}")
    return 0


OVERHEAD_COLUMNS = ("ledger", "connections", "duration_s", "gateway_ms", "gateway_p99_ms",
                    "requests", "errors", "p50_ms", "p99_ms", "overhead_p99_ms", "loadavg_before",
                    "date")


def do_overhead(args):
    from racelab import pgserver
    conns = 200 if args.connections == parser().get_default("connections") else \
        int_list(args.connections, "connections")[0]
    duration = args.duration or 20
    d = results_dir(args, "overhead")
    lo, hi = 100, 300
    # The gateway draws its latency uniformly from lo..hi ms: its own p99.
    gw_p99 = lo + 0.99 * (hi - lo)
    say(f"fixed service, gateway {lo}-{hi} ms (its own p99: {gw_p99:.0f} ms), {conns} "
        f"connections, {duration} s, every request a new user (a charge, no cache hit);")
    say("one run with the ledger in memory, one with the durable SQLite ledger (WAL, "
        "synchronous=FULL), one with PostgreSQL (a server of our own, fsync on)")
    rows = []
    with pgserver.Server() as pg:
        for ledger, words in (("memory", "in memory"), (None, "durable (SQLite)"),
                              (f"postgres:{pg.conninfo}", "durable (PostgreSQL)")):
            if ledger and ledger.startswith("postgres:"):
                pg.psql("SET client_min_messages = warning; DROP TABLE IF EXISTS payments")
            load = os.getloadavg()[0]
            rec = one_run("fixed", f"{lo}-{hi}", conns, duration, 1, ["--users", "unique"],
                          ledger=ledger)
            rec["loadavg_1m_before"] = load
            save(d / "runs.jsonl", rec)
            if rec["run"] is None:
                raise Failure(f"the run failed: {rec.get('loadgen_error')}")
            lat = rec["run"]["latency_ms"]
            p99 = lat["p99"]
            say(f"  ledger {words} (load average {load:.2f}):")
            say("    " + show(rec["run"]))
            say(f"    p99 {p99:.1f} ms - gateway p99 {gw_p99:.1f} ms = {p99 - gw_p99:+.1f} ms "
                f"({'within' if p99 - gw_p99 <= 5 else 'ABOVE'} the 5 ms budget)")
            rows.append((words.split(" (")[-1].rstrip(")") if "(" in words else "memory",
                         conns, duration, f"{lo}-{hi}", f"{gw_p99:.1f}",
                         rec["run"]["requests"], rec["run"]["errors"], f"{lat['p50']:.1f}",
                         f"{p99:.1f}", f"{p99 - gw_p99:+.1f}", f"{load:.2f}",
                         time.strftime("%Y-%m-%d")))
    if args.write:
        out = Path(args.write)
        new = not out.exists()
        with open(out, "a", encoding="utf-8") as f:
            if new:
                f.write("\t".join(OVERHEAD_COLUMNS) + "\n")
            for row in rows:
                f.write("\t".join(str(v) for v in row) + "\n")
        say(f"  added {len(rows)} rows to {scenario.shown(out)}")
    say(f"  records: {scenario.shown(d)}")
    return 0


def do_tsan(args):
    from racelab import match, tsan
    from racelab.tools import aslr_wrapper
    lats = latency_list(args.latencies if args.latencies != parser().get_default("latencies")
                        else "100-300,0-0")
    conns = 200 if args.connections == parser().get_default("connections") else \
        int_list(args.connections, "connections")[0]
    duration = args.duration or 10
    d = results_dir(args, "tsan")
    scen = scenario.load(1)
    race_file = scen.require("race_file")
    site = match.Site(race_file, scen.words("race_functions"),
                      (scenario.root() / race_file).read_text())
    binary = svc.service_bin("tsan-clang", "broken-1")
    say(f"tsan-clang broken-1 service, {conns} connections, {duration} s of load, "
        f"{args.runs} runs a latency: a report at {race_file} within the load, and when")
    for latency in lats:
        found, times = 0, []
        for i in range(args.runs):
            with svc.Service(binary, gateway(latency, i + 1), prefix=aslr_wrapper()) as s:
                load_start = time.monotonic() - s.started
                svc.loadgen(s.url, ["-c", conns, "-d", duration, "--timeout-ms", 5000],
                            duration + 90)
                load_end = time.monotonic() - s.started
                s.stop()
                text = s.stderr_text()
                first = next((t for t, line in s.lines if race_file in line), None)
            findings, err = tsan.parse(text, "tsan-clang")
            matched = [f for f in findings if match.judge(f, site).get("matched")]
            # Only what came while the load ran counts ("within the load").
            hit = bool(matched) and first is not None and first <= load_end
            found += hit
            if hit:
                times.append(first - load_start)
            save(d / "runs.jsonl", {"gateway_ms": latency, "run": i + 1, "matched": len(matched),
                                    "reports": len(findings), "tool_error": err,
                                    "first_s": None if first is None else first - load_start})
        low, high = stats.wilson(found, args.runs)
        when = (f"first report {min(times):.1f} to {max(times):.1f} s into the load, median "
                f"{statistics.median(times):.1f} s") if times else "no report"
        say(f"  gateway {latency} ms: {found}/{args.runs} runs (95% CI {low:.2f}-{high:.2f}); "
            f"{when}")
    say(f"  records: {scenario.shown(d)}")
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    return {"fixed": do_fixed, "sweep": do_sweep, "wrk": do_wrk,
            "overhead": do_overhead, "tsan": do_tsan}[args.what](args)


if __name__ == "__main__":
    try:
        sys.exit(cli.run(PROG, main))
    except KeyboardInterrupt:
        sys.exit(130)
