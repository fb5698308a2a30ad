"""Lab 11: racelab-service as several processes (replicas) sharing one
PostgreSQL ledger, and the double charge that moves into the database.

A trial: a fresh payments table; `replicas` service processes of one build
(fixed, or broken-11: lab 11's module pgledger swapped), each on its own
port; racelab-loadgen against each of them at once, every load sending the
same idempotency keys in the same order (--users seq), so two requests for
one key arrive at two processes together. The ledger is then asked how
many keys were charged more than once. Inside each process the flow's
claim keeps two threads off one key, so whatever goes wrong goes wrong
between processes, where no detector of one process can look.

force() is the lab's walkthrough without gdb: a session of our own holds
a SHARE lock on the payments table, which lets SELECTs through and stops
every INSERT. Two requests for one key, one to each replica, are let go;
once both wait at their INSERT the lock is released. The broken build
checked before it waited, so both insert; the fixed one inserts once.
"""

import http.client
import json
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from . import scenario, tsv
from .cli import Failure

MERCHANT = "shop"
API_KEY = "sk_lab11_shop_0123456789"
LAB = 11
# The gateway answers in 1 to 5 ms and never fails: a trial takes well
# under a second, and every request that is not answered 200 is the lab's
# business, not the simulated gateway's.
SERVICE_ARGS = ("--gateway-latency-ms", "1-5", "--gateway-failure-rate", "0")
# The lab's expected table: its columns, and its tools with the flavour
# each runs the replicas in.
COLUMNS = ("lab", "build", "tool", "config", "metric", "band_low", "band_high", "successes",
           "trials", "note")
TOOLS = {"replicas": "release", "tsan-clang": "tsan-clang"}
START_LIMIT_S = 20
LOAD_LIMIT_S = 120


def variant(build):
    return "fixed" if build == "fixed" else f"broken-{LAB}"


def service_binary(build, flavour="release"):
    path = scenario.root() / "build" / flavour / variant(build) / "racelab-service"
    if not path.is_file():
        raise Failure(f"{scenario.shown(path)} is not built: make lab-{LAB} builds it")
    return path


def loadgen_binary():
    path = scenario.root() / "build" / "release" / "loadgen" / "racelab-loadgen"
    if not path.is_file():
        raise Failure(f"{scenario.shown(path)} is not built: make lab-{LAB} builds it")
    return path


class Cluster:
    """`replicas` racelab-service processes of one build, one ledger."""

    def __init__(self, pg, build, replicas=2, flavour="release", args=()):
        self.binary = service_binary(build, flavour)
        self.dir = tempfile.TemporaryDirectory(prefix="racelab-replicas-")
        keys = Path(self.dir.name) / "keys"
        keys.write_text(f"{MERCHANT} {API_KEY}\n", encoding="utf-8")
        self.procs, self.ports, self.logs = [], [], []
        try:
            for i in range(replicas):
                log = Path(self.dir.name) / f"replica-{i + 1}.stderr"
                self.logs.append(log)
                with open(log, "wb") as err:
                    proc = subprocess.Popen(
                        [str(self.binary), "--port", "0", "--keys", str(keys), "--ledger",
                         f"postgres:{pg.conninfo}", *SERVICE_ARGS, *args],
                        stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                        text=True)
                self.procs.append(proc)
                self.ports.append(self._listening(proc, log))
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _listening(proc, log):
        box = []
        reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(START_LIMIT_S)
        line = box[0] if box else ""
        prefix = "racelab-service: listening on http://127.0.0.1:"
        if not line.startswith(prefix):
            proc.kill()
            proc.wait()
            why = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise Failure("a replica did not start: " + (why[-1] if why else
                                                         f"nothing said in {START_LIMIT_S} s"))
        return int(line[len(prefix):].strip())

    def stop(self):
        """SIGTERM every replica (they drain, then exit); the stderr of each."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        texts = [log.read_text(encoding="utf-8", errors="replace") for log in self.logs
                 if log.exists()]
        self.procs = []
        self.dir.cleanup()
        return texts

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.procs:
            self.stop()


def fresh_ledger(pg):
    """No payments table: the replicas create it (and the build's index)."""
    pg.psql("SET client_min_messages = warning; DROP TABLE IF EXISTS payments")


def ledger(pg):
    """What the ledger holds: keys charged, charges, keys charged more than
    once, and the cents of the charges beyond the first under a key."""
    out = pg.psql(
        "WITH k AS (SELECT count(*) AS n, sum(cents) AS cents, min(cents) AS one "
        "FROM payments WHERE state = 'charged' AND idem_key IS NOT NULL "
        "GROUP BY merchant, idem_key) "
        "SELECT count(*), coalesce(sum(n), 0), count(*) FILTER (WHERE n > 1), "
        "coalesce(sum(cents - one), 0) FROM k").strip()
    keys, charges, doubled, extra = (int(v) for v in out.split("|"))
    return {"keys": keys, "charges": charges, "doubled": doubled, "extra_cents": extra}


def load(ports, connections, keys, prefix, extra=()):
    """racelab-loadgen against every port at once, each sending requests for
    keys prefix+seq-0 ... in that order (keys None: extra says what to
    send and for how long; "{port}" in it is each load's port); the JSON
    result of each."""
    what = ["-n", str(keys), "--users", "seq"] if keys else []
    cmds = [[str(loadgen_binary()), "-u", f"http://127.0.0.1:{port}", "-c", str(connections),
             *what, "--key-prefix", prefix, "--api-key", API_KEY, "--threshold", "100", "-q",
             "--json", "-", *[a.replace("{port}", str(port)) for a in extra]] for port in ports]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL) for c in cmds]
    results = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=LOAD_LIMIT_S)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise Failure(f"racelab-loadgen ran past {LOAD_LIMIT_S} s") from None
        try:
            results.append(json.loads(out))
        except ValueError:
            raise Failure(f"racelab-loadgen printed no result (exit {proc.returncode})") from None
    return results


TSAN_WARNING = "WARNING: ThreadSanitizer:"


def trial(pg, build, connections, keys, index, replicas=2, flavour="release"):
    """One trial (see the module's comment): the ledger's counts, the
    answers, and the ThreadSanitizer reports the replicas printed."""
    fresh_ledger(pg)
    with Cluster(pg, build, replicas, flavour) as cluster:
        results = load(cluster.ports, connections, keys, f"t{index}-")
        stderr = cluster.stop()
    out = ledger(pg)
    out.update(build=build, flavour=flavour, replicas=replicas, connections=connections,
               requests=sum(r["requests"] for r in results),
               answered_200=sum(r["successes"] for r in results),
               errors=sum(r["errors"] for r in results),
               tsan_reports=sum(text.count(TSAN_WARNING) for text in stderr))
    return out


def _post(port, key, box, i):
    body = json.dumps({"user_id": "forced-user", "amount": 25.0})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/process-payment", body=body,
                     headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        box[i] = (r.status, json.loads(r.read() or b"{}"))
    except (OSError, ValueError) as e:
        box[i] = (None, {"message": str(e)})
    finally:
        conn.close()


def waiting_inserts(pg):
    return int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND query LIKE 'INSERT INTO payments%'").strip())


def force(pg, build, limit_s=20):
    """The forced interleaving (module comment): the ledger's counts and the
    two answers [(status, body)], one per replica."""
    fresh_ledger(pg)
    with Cluster(pg, build, 2) as cluster:
        locker = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                   pg.conninfo], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            locker.stdin.write("BEGIN;\nLOCK TABLE payments IN SHARE MODE;\nSELECT 'locked';\n")
            locker.stdin.flush()
            if locker.stdout.readline().strip() != "locked":
                raise Failure("could not lock the payments table: " + locker.stderr.read()[:200])
            box = [None, None]
            posts = [threading.Thread(target=_post, args=(port, "forced-1", box, i))
                     for i, port in enumerate(cluster.ports)]
            for t in posts:
                t.start()
            deadline = time.monotonic() + limit_s
            while waiting_inserts(pg) < 2:
                if time.monotonic() > deadline:
                    raise Failure(f"the two requests did not both reach their INSERT in "
                                  f"{limit_s} s")
                time.sleep(0.02)
            locker.stdin.write("COMMIT;\n\\q\n")
            locker.stdin.flush()
            locker.wait(timeout=limit_s)
            for t in posts:
                t.join(limit_s)
        finally:
            if locker.poll() is None:
                locker.kill()
                locker.wait()
        cluster.stop()
    out = ledger(pg)
    out["answers"] = box
    return out



def charged_ids(pg):
    return {int(v) for v in pg.psql("SELECT id FROM payments WHERE state = 'charged'").split()}


def cluster(pg, build, connections, duration_s, replicas=2, flavour="release"):
    """The war story on replicas: every load repeats the story's users (each
    connection pays for its ten users over and over, one key a user), so
    most requests are retries, sent to both replicas. Returns the ledger's
    counts, the loads' results, and the payment ids answered 200 that the
    ledger does not hold, and the ledger's that no answer named."""
    fresh_ledger(pg)
    with tempfile.TemporaryDirectory(prefix="racelab-cluster-") as tmp:
        with Cluster(pg, build, replicas, flavour) as c:
            results = load(c.ports, connections, None, "story-",
                           ("--users", "story", "-d", str(duration_s), "--payments",
                            str(Path(tmp) / "answers-{port}.txt")))
            c.stop()
        answered = set()
        for path in Path(tmp).glob("answers-*.txt"):
            for line in path.read_text(encoding="utf-8").splitlines():
                fields = line.split()
                if len(fields) >= 2 and fields[1].isdigit():
                    answered.add(int(fields[1]))
    out = ledger(pg)
    booked = charged_ids(pg)
    out.update(results=results, unbooked=sorted(answered - booked),
               unanswered=sorted(booked - answered))
    return out


def table_path():
    return scenario.root() / "labs" / "lab-11-replicas" / "expected.tsv"


def config_name(connections, keys):
    """A row's config; parse_config reads it back."""
    return f"replicas=2,connections={connections},keys={keys}"


def parse_config(text):
    try:
        fields = dict(part.split("=", 1) for part in text.split(","))
        return int(fields["connections"]), int(fields["keys"])
    except (ValueError, KeyError):
        raise Failure(f"{scenario.shown(table_path())}: config '{text}' is not "
                      "replicas=2,connections=N,keys=K") from None


def read_table(path=None):
    rows = []
    for where, cells in tsv.rows(path or table_path(), COLUMNS):
        if len(cells) != len(COLUMNS):
            raise Failure(f"{where}: {len(cells)} columns, not {len(COLUMNS)}")
        row = dict(zip(COLUMNS, cells))
        if row["tool"] not in TOOLS or row["build"] not in ("broken", "fixed"):
            raise Failure(f"{where}: tool {row['tool']} or build "
                          f"{row['build']} is not one of this lab's")
        try:
            row["band"] = (float(row["band_low"]), float(row["band_high"]))
        except ValueError:
            raise Failure(f"{where}: the band is not two numbers") from None
        row["connections"], row["keys"] = parse_config(row["config"])
        rows.append(row)
    return rows
