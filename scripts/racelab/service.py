"""Starting and stopping racelab-service, and driving it with racelab-loadgen,
for the war story (war_story.py) and its measurements (war_measure.py).

Nothing hangs and nothing is left running: the service is started in its
own process group, every wait has a time limit, and stop() ends it with
SIGTERM, then SIGKILL. A service that died on its own is reported with its
signal and its last words (glibc's "double free or corruption", a
sanitizer's summary).
"""

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .cli import Failure
from .scenario import root

LISTENING = re.compile(r"^racelab-service: listening on (http://\S+)$")
# The story's one merchant and its API key (the scripts' key file).
MERCHANT, API_KEY = "story", "sk_racelab_story_0123456789abcdef"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def service_bin(flavour, variant):
    return root() / "build" / flavour / variant / "racelab-service"


def loadgen_bin():
    return root() / "build" / "release" / "loadgen" / "racelab-loadgen"


def signal_name(code):
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class Service:
    """One racelab-service process. Use as a context manager.

    It is given a key file naming the story's merchant (MERCHANT, API_KEY)
    and, unless ledger= names one ("memory", or "sqlite:FILE" to keep it
    across services), a fresh SQLite ledger in a temporary folder."""

    def __init__(self, binary, args=(), env=None, stderr_path=None, prefix=(), ledger=None):
        if not Path(binary).exists():
            raise Failure(f"{binary} is not built (make service)")
        self.name = f"{Path(binary).parent.parent.name}/{Path(binary).parent.name} racelab-service"
        self._dir = tempfile.TemporaryDirectory(prefix="racelab-service-")
        keys = Path(self._dir.name) / "keys"
        keys.write_text(f"{MERCHANT} {API_KEY}\n")
        ledger = ledger or f"sqlite:{Path(self._dir.name) / 'ledger.db'}"
        self.cmd = [*prefix, str(binary), "--port", "0", "--keys", str(keys), "--ledger", ledger,
                    *map(str, args)]
        self.env = env
        self._tmp = None
        if stderr_path is None:
            self._tmp = tempfile.NamedTemporaryFile(prefix="racelab-service-", suffix=".err")
            stderr_path = self._tmp.name
        self.stderr_path = Path(stderr_path)
        self.proc = None
        self.url = None
        self.started = None
        self.lines = []  # (seconds since start, stderr line), read as they come
        self._reader = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=30):
        err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=self.env, text=True,
                                     start_new_session=True)
        self.started = time.monotonic()
        self._reader = threading.Thread(target=self._read_stderr, args=(err,), daemon=True)
        self._reader.start()
        box = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        m = LISTENING.match(box[0].strip()) if box else None
        if not m:
            self.stop()
            said = box[0].strip() if box and box[0].strip() else self.last_words()
            raise Failure(f"{self.name} did not start: {said or 'no listening line'}")
        self.url = m.group(1)
        # The rest of stdout is not read: drain it so the service never blocks.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    def _read_stderr(self, out):
        with out:
            for line in self.proc.stderr:
                self.lines.append((time.monotonic() - self.started, line))
                out.write(line)
                out.flush()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=10):
        """Ends the service; returns its exit status (negative: a signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        if self._reader:
            self._reader.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass  # the drain thread may be reading it: it ends with the process
        self._dir.cleanup()
        return self.proc.returncode

    def kill(self):
        """SIGKILL, as a crash: nothing of the service's runs after it."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stderr_text(self):
        return "".join(line for _, line in self.lines)

    def last_words(self):
        lines = [line.strip() for _, line in self.lines if line.strip()]
        return lines[-1] if lines else ""

    def crash_words(self):
        """The line that says why a dead service died: glibc's abort message
        or a sanitizer's summary, else its last line."""
        for _, line in self.lines:
            if re.search(r"double free|corrupt|free\(\)|malloc\(\)|SUMMARY:|"
                         r"AddressSanitizer|Segmentation", line):
                return line.strip()
        return self.last_words()


def metrics(url, timeout=10):
    """{name: value} of the unlabelled samples of the service's /metrics."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=timeout) as r:
            text = r.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Failure(f"cannot read {url}/metrics: {getattr(e, 'reason', e)}") from None
    return parse_metrics(text)


def parse_metrics(text):
    """{name: value} of the unlabelled samples of a Prometheus text page."""
    values = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and not m.group(2):
            try:
                values[m.group(1)] = float(m.group(3))
            except ValueError:
                pass
    return values


def ledger_checks(pay, metrics):
    """ledger_check.py's checks of a load run's payments (racelab-loadgen
    --json's "payments") against the service's metrics, as (ok, line) pairs."""
    need = ("racelab_ledger_cents_total", "racelab_charges_total")
    missing = [n for n in need if n not in metrics]
    if missing:
        raise Failure(f"the metrics have no {', '.join(missing)}")
    ledger, charges = int(metrics[need[0]]), int(metrics[need[1]])
    cents = pay["cents_total"]
    out = [
        (ledger == cents, f"ledger {ledger} cents, payments the clients saw {cents} cents"),
        (charges == pay["distinct"],
         f"charges {charges}, distinct payment ids the clients saw {pay['distinct']}"),
        (pay["users_charged_twice"] == 0,
         f"users told of two payment ids: {pay['users_charged_twice']}"),
        (pay["id_amount_conflicts"] == 0,
         f"payment ids seen with two amounts: {pay['id_amount_conflicts']}"),
    ]
    return out


def loadgen(url, args, limit, binary=None):
    """Runs racelab-loadgen (this tree's, or `binary`) --json - as the
    story's merchant; returns (exit status, results or None, stderr).
    Killed (and results None) past `limit` seconds."""
    binary = Path(binary) if binary else loadgen_bin()
    if not binary.exists():
        raise Failure(f"{binary} is not built (make loadgen)")
    try:
        p = subprocess.run([str(binary), "--url", url, "--json", "-", "--api-key", API_KEY,
                            *map(str, args)],
                           capture_output=True, text=True, timeout=limit,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, None, f"racelab-loadgen passed its {limit} s limit"
    try:
        return p.returncode, json.loads(p.stdout), p.stderr
    except ValueError:
        return p.returncode, None, p.stderr


def summary(run):
    """One line of errors by kind, as racelab-loadgen counts them."""
    kinds = run["errors_by_kind"]
    parts = [f"{n} x status {code}" for code, n in sorted(kinds["status"].items())]
    parts += [f"{kinds[k]} {k}" for k in ("timeout", "reset", "connect", "protocol", "leak")
              if kinds[k]]
    return ", ".join(parts) if parts else "none"
