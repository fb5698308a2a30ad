#!/usr/bin/env python3
"""Recaptures the real tool outputs in tests/fixtures/ (run by hand, not by the tests).

The parser tests run on what the tools really print, not on text written to
fit the parser. This script makes those fixtures reproducible: it runs the
lab 1 binaries (make builds them) under TSan (clang, gcc) and Helgrind,
keeps the first few reports of each so the files stay readable, and
replaces the checkout's absolute path with nothing so no machine path is
committed. It also builds a tiny program of its own, written below, for
the report kinds lab 1 does not produce (lock-order inversion, use after
free, a crash, a thread leak), and a plain program with its own main()
outside racelab's source roots, in a folder whose name is not UTF-8 (the
outside-* fixtures: a data race, a lock-order inversion, a C++ function
with a parameter list, ThreadSanitizer with color=always).

  python3 tests/scripts/capture_fixtures.py        # from the repository root
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures"
SCENARIO = "labs/lab-1-cache/scenario.conf"
KEEP_REPORTS = 3

KINDS_C = r"""
/* Each argument makes one kind of report that lab 1 does not produce. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static int *p;
static void *use_freed(void *x) { (void)x; p[0] = 1; return NULL; }
static void *idle(void *x) { (void)x; return NULL; }
int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	pthread_t t;
	if (!strcmp(m, "uaf")) {
		p = malloc(8);
		free(p);
		pthread_create(&t, 0, use_freed, 0);
		pthread_join(t, 0);
	} else if (!strcmp(m, "lock")) {
		pthread_mutex_lock(&a); pthread_mutex_lock(&b);
		pthread_mutex_unlock(&b); pthread_mutex_unlock(&a);
		pthread_mutex_lock(&b); pthread_mutex_lock(&a);
		pthread_mutex_unlock(&a); pthread_mutex_unlock(&b);
	} else if (!strcmp(m, "leak")) {
		pthread_create(&t, 0, idle, 0);
		sleep(1);
	} else if (!strcmp(m, "segv")) {
		*(volatile int *)8 = 1;
	}
	return 0;
}
"""


OUTSIDE_C = r"""
/* A plain program of its own: a lock-order inversion, then a data race. */
#include <pthread.h>
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void take_ab(void)
{
	pthread_mutex_lock(&a);
	pthread_mutex_lock(&b);
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
}
static void take_ba(void)
{
	pthread_mutex_lock(&b);
	pthread_mutex_lock(&a);
	pthread_mutex_unlock(&a);
	pthread_mutex_unlock(&b);
}
static void *worker(void *x)
{
	(void)x;
	counter++;
	return 0;
}
int main(void)
{
	pthread_t t;
	take_ab();
	take_ba();
	pthread_create(&t, 0, worker, 0);
	counter++;
	pthread_join(t, 0);
	return 0;
}
"""

OUTSIDE_CC = r"""
// A C++ function whose name prints with a parameter list: a signal handler.
#include <pthread.h>
#include <signal.h>
static long hits;
static void handler(int sig, siginfo_t *info, void *ctx)
{
	(void)sig; (void)info; (void)ctx;
	hits++;
}
static void *worker(void *)
{
	handler(0, nullptr, nullptr);
	return nullptr;
}
int main()
{
	pthread_t t;
	pthread_create(&t, nullptr, worker, nullptr);
	handler(0, nullptr, nullptr);
	pthread_join(t, nullptr);
	return 0;
}
"""

# Where the outside fixtures say the program lived: not a racelab root, so
# its frames must be recognised as the program's own by the general rule.
OUTSIDE_HOME = "/home/user/proj"


def scrub(text, *prefixes):
    for prefix in prefixes:
        text = text.replace(str(prefix) + "/", "").replace(str(prefix), ".")
    return text


def trim_tsan(text):
    """The first KEEP_REPORTS WARNING blocks, the lines before the first block
    and the lines after the last one (crash reports, the summary lines)."""
    lines = text.splitlines(keepends=True)
    sep = "==================\n"
    blocks, i = [], 0  # (start, end) line index pairs, end exclusive
    while i < len(lines) - 1:
        if lines[i] == sep and lines[i + 1].startswith("WARNING: ThreadSanitizer"):
            j = i + 1
            while j < len(lines) and lines[j] != sep:
                j += 1
            blocks.append((i, min(j + 1, len(lines))))
            i = j + 1
        else:
            i += 1
    if len(blocks) <= KEEP_REPORTS:
        return text
    kept = lines[:blocks[0][0]]
    for first, last in blocks[:KEEP_REPORTS]:
        kept += lines[first:last]
    return "".join(kept + lines[blocks[-1][1]:])


def trim_xml(text):
    """Drops <error> elements after the first KEEP_REPORTS; the rest is as written."""
    count = 0

    def keep(m):
        nonlocal count
        count += 1
        return m.group(0) if count <= KEEP_REPORTS else ""
    return re.sub(r"(?s)<error>.*?</error>\n*", keep, text)


def run(argv, **kw):
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, **kw)


def driver(flavour, variant):
    return [str(ROOT / "build" / flavour / variant / "racelab-stress"), "--scenario", SCENARIO,
            "--seed", "1", "--time-limit", "120"]


def capture_lab1():
    for flavour in ("tsan-clang", "tsan-gcc"):
        for variant, name in (("broken-1", "broken"), ("fixed", "fixed")):
            r = run(driver(flavour, variant) + ["--profile", "tsan"])
            text = scrub(trim_tsan(r.stderr), ROOT)
            (OUT / f"{flavour}-{name}.txt").write_text(text)
            print(f"{flavour} {name}: exit {r.returncode}, {text.count('WARNING:')} reports kept")
    with tempfile.TemporaryDirectory() as tmp:
        for variant, name in (("broken-1", "broken"), ("fixed", "fixed")):
            xml = Path(tmp) / f"{name}.xml"
            r = run(["valgrind", "--tool=helgrind", "--xml=yes", f"--xml-file={xml}"]
                    + driver("debug", variant) + ["--profile", "valgrind"])
            text = scrub(trim_xml(xml.read_text()), ROOT, tmp)
            text = re.sub(r"<(pid|ppid)>\d+</", r"<\1>0</", text)
            (OUT / f"helgrind-{name}.xml").write_text(text)
            print(f"helgrind {name}: exit {r.returncode}, {text.count('<error>')} errors kept")


def capture_kinds():
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "broken" / "kinds.c"
        src.parent.mkdir()
        src.write_text(KINDS_C)
        for cc in ("clang", "gcc"):
            exe = Path(tmp) / f"kinds-{cc}"
            subprocess.run([cc, "-fsanitize=thread", "-g", "-O0", f"-ffile-prefix-map={tmp}=.",
                            "broken/kinds.c", "-o", str(exe), "-lpthread"], cwd=tmp, check=True)
            for case in ("lock", "uaf", "segv", "leak"):
                r = subprocess.run([str(exe), case], cwd=tmp, capture_output=True, text=True)
                text = scrub(r.stderr, tmp)
                (OUT / f"tsan-{cc}-kinds-{case}.txt").write_text(text)
                print(f"kinds {cc} {case}: exit {r.returncode}")


def capture_outside():
    """The outside-* fixtures. The folder's name is Latin-1 'cafe' with an
    e acute (byte 0xe9), which Valgrind writes into its XML as it is."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "proj"
        src_dir = home / os.fsdecode(b"caf\xe9")
        src_dir.mkdir(parents=True)
        (src_dir / "outside.c").write_text(OUTSIDE_C)
        (src_dir / "outside.cc").write_text(OUTSIDE_CC)
        raw_home = os.fsencode(str(home))

        def save(name, data):
            data = data.replace(raw_home, OUTSIDE_HOME.encode())
            data = re.sub(rb"<(pid|ppid)>\d+</", rb"<\1>0</", data)
            (OUT / name).write_bytes(data)
            print(f"{name}: {len(data)} bytes")

        debug = home / "outside-debug"
        subprocess.run(["gcc", "-g", "-O0", "-o", str(debug), str(src_dir / "outside.c"),
                        "-lpthread"], check=True)
        for tool in ("helgrind", "drd"):
            xml = home / f"{tool}.xml"
            subprocess.run(["valgrind", f"--tool={tool}", "--xml=yes", f"--xml-file={xml}",
                            str(debug)], capture_output=True, timeout=600)
            save(f"{tool}-outside.xml", xml.read_bytes())
        env = dict(os.environ, TSAN_OPTIONS="")
        for cc, cxx in (("clang", "clang++"), ("gcc", "g++")):
            exe = home / f"outside-{cc}"
            subprocess.run([cc, "-fsanitize=thread", "-g", "-O0", "-o", str(exe),
                            str(src_dir / "outside.c"), "-lpthread"], check=True)
            r = subprocess.run([str(exe)], capture_output=True, env=env)
            save(f"tsan-{cc}-outside.txt", r.stderr)
            exe = home / f"outside-{cxx}"
            subprocess.run([cxx, "-fsanitize=thread", "-g", "-O0", "-o", str(exe),
                            str(src_dir / "outside.cc"), "-lpthread"], check=True)
            r = subprocess.run([str(exe)], capture_output=True, env=env)
            save(f"tsan-{cc}-outside-cxx.txt", r.stderr)
        r = subprocess.run([str(home / "outside-clang")], capture_output=True,
                           env=dict(env, TSAN_OPTIONS="color=always"))
        save("tsan-clang-outside-color.txt", r.stderr)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    capture_lab1()
    capture_kinds()
    capture_outside()
    return 0


if __name__ == "__main__":
    sys.exit(main())
