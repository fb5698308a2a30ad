"""Command-line conventions shared by trials.py and report.py.

Every racelab command exits 2 with exactly one line on stderr when its
arguments or its input are bad (`trials.py: error: ...`), never with a
traceback: a student should read what to fix, not where Python was.
argparse's own error() prints a usage block first, so it is overridden here.
"""

import argparse
import re
import sys


def say(text=""):
    """A line of a script's running story on stdout, flushed at once so it
    interleaves with the output of the tools the script runs."""
    print(text, flush=True)


def heading(text):
    """A step of that story: a blank line, then '== text'."""
    say()
    say(f"== {text}")


class Failure(Exception):
    """A problem the user can fix: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (try --help)\n")
        sys.exit(2)


def script_parser(prog, doc, exits):
    """A script's Parser in racelab's shape: the description is the first
    paragraph of its docstring after "name.py: ", the epilog its exit
    statuses ("0 ...; 1 ...; 2 bad arguments."), so --help says what the
    module says and how it ends, and neither is written twice."""
    return Parser(prog=prog, description=doc.split("\n\n")[0].split(": ", 1)[1],
                  epilog=f"Exit status: {exits}")


def int_at_least(low):
    """An argparse type: an integer >= low, or a one-line error."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def key_value(text):
    """argparse type: KEY=VALUE with a plain key (the driver checks that
    the lab has the key and that the value is in range)."""
    key, eq, value = text.partition("=")
    if not eq or not key or not value or not key.replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE")
    return text


def shard(text):
    """argparse type: a shard 'I/N' (1 <= I <= N) -> (I, N)."""
    m = re.fullmatch(r"([1-9]\d*)/([1-9]\d*)", text)
    if not m or int(m[1]) > int(m[2]):
        raise argparse.ArgumentTypeError(f"'{text}' is not a shard I/N with 1 <= I <= N "
                                         f"(e.g. 2/4)")
    return int(m[1]), int(m[2])


def cpu_list(text):
    """argparse type: a CPU list such as '0,2-3' -> [0, 2, 3], in the order given.

    The same syntax as the driver's --cpus (topo_parse_cpulist), checked here
    so a typo fails before any trial runs. Like the driver, a CPU may be named
    more than once: '1,1,0' puts two of every three threads on CPU 1.
    """
    cpus = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise argparse.ArgumentTypeError(f"'{text}' is not a CPU list like 0,2-3")
        first, last = int(lo), int(hi) if dash else int(lo)
        if last < first:
            raise argparse.ArgumentTypeError(f"'{part}' is a backwards range in '{text}'")
        cpus.extend(range(first, last + 1))
    return cpus


def run(prog, main, argv=None):
    """Runs main(argv); turns a Failure into one line and exit 2."""
    try:
        return main(argv)
    except Failure as e:
        sys.stderr.write(f"{prog}: error: {e}\n")
        return 2
    except BrokenPipeError:
        # `report.py | head` is not an error worth a traceback.
        return 0
    except KeyboardInterrupt:
        # Ctrl-C ends a long check: one line, and the shell's 128 + SIGINT.
        # trial.execute kills the running trial's process group on the way
        # out, and an unfinished run's records stay in .partial/, never in
        # the results file. On a terminal the line starts after the "^C".
        sys.stderr.write(("\n" if sys.stderr.isatty() else "") + f"{prog}: interrupted\n")
        return 130
