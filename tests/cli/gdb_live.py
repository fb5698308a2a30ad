#!/usr/bin/env python3
"""gdb_live.py: drives a live walkthrough as an instructor would, through a
pseudo-terminal, and checks what the screen shows.

For one lab it starts `scripts/gdb_walkthrough.py --lab N --interactive`
(what make gdb-lab-N runs) on the broken build in a terminal 160 columns
wide, and types, waiting for gdb's prompt after each command:

  1. rshow, then a prefix of steps and a first path that is not the
     script's interleaving (step-thread / run-to alone), then finish-all:
     the result must be the one the plan names (a symptom, or none and
     why: a wait or a poll the driver found);
  2. undo until the branch point (the first undo must take hundredths of
     a second, not the whole walkthrough again), then the other path and
     finish-all: its result too.

It prints TAP lines (ok / not ok) for tests/cli/test_gdb_live.sh, and the
seconds the lab took. Python 3 standard library only.
"""

import argparse
import fcntl
import os
import pty
import re
import select
import struct
import sys
import subprocess
import termios
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = b"(gdb) "
RESULT = re.compile(r"racesched: result: (.*)")

# lab: (prefix, path 1, what its result starts with, a line it must show,
#       path 2, its result, its line). Every path ends in finish-all.
PLANS = {
    1: (["ts B"], ["ts A", "ts A", "ts B"], "SYMPTOM", r"A stopped at cache\.put\.window",
        ["ts B", "ts A", "ts A"], "no symptom", r"B has finished its work"),
    2: (["ts B"], ["ts A", "ts A", "ts B"], "SYMPTOM lost_cents", r"what B read \(t\) +0",
        ["ts B", "ts A", "ts A"], "no symptom", r"B has finished its work"),
    3: (["rt B payflow.charge.window"],
        ["rt A payflow.charge.window", "rt A end", "rt B end"], "SYMPTOM double_charges",
        r"charges booked at the gateway 2",
        ["rt B end", "rt A end"], "no symptom", r"charges booked at the gateway 1"),
    4: (["ts B"], ["ts A", "ts A", "ts B"], "SYMPTOM hang",
        r"A cannot go on: it waits in pthread_mutex_lock",
        ["ts B", "ts A", "ts A"], "no symptom", r"A has finished its work"),
    5: (["ts A"], ["ts B", "ts A"], "SYMPTOM wrong_user", r"B has finished its work",
        ["ts A", "ts B"], "no symptom", r"A has finished its work"),
    6: (["ts B"], ["ts A", "ts B", "ts A"], "SYMPTOM constructions_extra",
        r"A stopped at gwclient\.get\.window",
        ["ts B", "ts A"], "no symptom", r"B has finished its work"),
    7: (["ts B"], ["ts B", "ts A"], "no symptom", r"A is polling in produce",
        ["ts A", "ts B"], "SYMPTOM unsettled", r"A cannot go on: it waits in pthread_mutex_lock"),
    8: ([], ["ts B", "ts A", "ts A", "ts B"], "no symptom", r"B is polling in sender",
        ["ts A", "ts A", "ts B"], "no symptom", r"the flag \(ready\) +1"),
    9: (["ts B", "ts B"], ["rt A end", "rt B end"], "SYMPTOM lost_payments",
        r"B is recording for user +0",
        ["rt B end", "rt A end"], "no symptom", r"B has finished its work"),
}


class Terminal:
    """A program in a pseudo-terminal: type a line, read until the prompt."""

    def __init__(self, argv, cols=160, rows=50):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(ROOT)
            os.environ["COLUMNS"], os.environ["LINES"] = str(cols), str(rows)
            os.execvp(argv[0], argv)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.screen = ""

    def read_until_prompt(self, timeout):
        buf = b""
        end = time.monotonic() + timeout
        while not buf.endswith(PROMPT):
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no prompt within {timeout} s; last: {buf[-300:]!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                raise TimeoutError(f"the terminal closed; last: {buf[-300:]!r}") from None
            if not chunk:
                raise TimeoutError("the terminal closed")
            buf += chunk
        text = buf.decode(errors="replace").replace("\r", "")
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # colours, if any
        self.screen += text
        return text

    def type(self, line, timeout=30):
        os.write(self.fd, line.encode() + b"\n")
        return self.read_until_prompt(timeout)

    def close(self):
        try:
            os.write(self.fd, b"quit\n")
            time.sleep(0.2)
        except OSError:
            pass
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def result_of(text):
    found = RESULT.findall(text)
    return found[-1] if found else None


def script_then_save(term, ok):
    """Lab 2: the script's predict asks before the deciding step and answers
    on the next command; a live step leaves the script; save writes the
    steps as a schedule that replays them to the same result."""
    term.type("restart")
    text = term.type("rt A ledger.add.windw") + term.type("ts C")
    ok("no race point 'ledger.add.windw' in this lab (its points: ledger.add.window; or end)"
       in text and "there is no worker C (workers: A, B)" in text and ">>>" not in text,
       "a misspelled point or thread: one line with the valid names, nothing runs", text[-300:])
    text = term.type("next")
    ok("'next' refused" in text and "Traceback" not in text,
       "gdb's next is refused with one line", text[-300:])
    text = term.type("step-schedule") + term.type("step-schedule")
    ok("B ran its whole add while A waited" in text,
       "step-schedule after restart: the script from its beginning, its lines told",
       text[-300:])
    text = term.type("step-schedule")
    ok("? A now goes on and writes" in text and ">>> A runs" not in text,
       "predict: the question is asked, nothing runs", text[-300:])
    text = term.type("step-schedule")
    ok("= the answer:" in text and "payment is overwritten" in text,
       "predict: the next step-schedule runs the step and tells the answer", text[-300:])
    term.type("undo")
    term.type("undo")
    text = term.type("ts B")
    ok("off the script" in text, "a live step other than the script's leaves it", text[-300:])
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"racelab-live-{os.getpid()}.sched")
    text = term.type(f"save {path}")
    ok("saved 2 steps" in text, "save writes the steps taken", text[-200:])
    try:

        p = subprocess.run([sys.executable, "scripts/gdb_walkthrough.py", "--lab", "2",
                            "--build", "broken", "--schedule", path], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        steps = re.findall(r"^>>> (.*)", p.stdout, re.M)
        ok(p.returncode == 0 and steps[:2] == ["A runs to ledger.add.window",
                                                "B runs to ledger.add.window"],
           "the saved schedule passes the check and replays the steps: " + "; ".join(steps),
           p.stdout[-300:])
    finally:
        os.unlink(path)


def drive(lab):
    prefix, path1, want1, line1, path2, want2, line2 = PLANS[lab]
    began = time.monotonic()
    term = Terminal([sys.executable, "scripts/gdb_walkthrough.py", "--lab", str(lab),
                     "--interactive", "--build", "broken"])
    fails = []

    def ok(cond, what, why=""):
        print(("ok - " if cond else "not ok - ") + f"lab {lab}: {what}"
              + ("" if cond else f": {why}"))
        if not cond:
            fails.append(what)

    def take(cmds, want, line, what=""):
        """One path of the session: its commands, then rf (finish-all); the
        result must start with `want` and the screen show /line/."""
        shown = "".join(term.type(cmd) for cmd in cmds) + term.type("rf")
        result = result_of(shown) or ""
        ok(result.startswith(want) and re.search(line, shown) is not None,
           f"{what}{' ; '.join(cmds)} ; rf: {result}",
           f"want '{want}' and /{line}/: {shown[-600:]}")

    try:
        text = term.read_until_prompt(60)
        ok("workers parked" in text, "the live walkthrough starts, every worker parked",
           text[-200:])
        text = term.type("rshow")
        ok(re.search(r"^A: .*\S +B: ", text, re.M) is not None,
           "rshow shows A's and B's lines side by side", text[:300])
        take(prefix + path1, want1, line1)
        ok("Traceback" not in term.screen and "Python Exception" not in term.screen,
           "no Python traceback on the screen", term.screen[-300:])
        t0 = time.monotonic()
        text = term.type("undo")
        undo_secs = time.monotonic() - t0
        m = re.search(r"undone: the finish \(\d+ steps? replayed in ([0-9.]+) s\)", text)
        ok(m is not None and undo_secs < 5, f"undo takes back the finish in {undo_secs:.2f} s "
           f"(the replay {m.group(1) if m else '?'} s)", text[-300:])
        for _ in path1:
            text = term.type("undo")
        left = len(prefix)
        ok(f"({left} step{'s' if left != 1 else ''} replayed in" in text,
           f"undone back to the branch point ({left} step{'s' if left != 1 else ''} in)",
           text[-300:])
        take(path2, want2, line2, "the other branch, ")
        if lab == 2:
            script_then_save(term, ok)
    except TimeoutError as e:
        ok(False, "the session answers", str(e))
    finally:
        term.close()
    print(f"# lab {lab}: {time.monotonic() - began:.1f} s")
    return 1 if fails else 0


def main():
    p = argparse.ArgumentParser(prog="gdb_live.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--lab", type=int, required=True, choices=sorted(PLANS))
    args = p.parse_args()
    return drive(args.lab)


if __name__ == "__main__":
    sys.exit(main())
