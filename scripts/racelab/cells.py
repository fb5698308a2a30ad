"""Cells: the trial records of a results folder grouped by (lab, build,
tool, config), each with its rate, its interval and its row of expected/,
and their table (markdown, summary). report.py prints and judges them;
check_rates.py reruns the ones out of their band; check_pack.py judges a
course pack's. (Not grading's SafeCell, one row of SAFE's plan.)"""

from collections import defaultdict
from pathlib import Path

from . import expected, records, stats, tools
from .cli import Failure

COLUMNS = ("lab", "build", "tool", "config", "metric", "rate", "95% CI",
           f"{stats.CHECK_CONFIDENCE} CI", "expected", "n", "tool errors", "verdict")
# The verdicts that fail a check (report.py --check, check_pack.py).
FAILING = ("OUT", "tool errors")


class Cell:
    """The trials of one (lab, build, tool, config) and its expectation."""

    def __init__(self, key):
        self.key = key
        self.lab, self.build, self.tool, self.config = key
        self.metric = stats.metric(self.build, self.tool)
        self.n = self.successes = self.tool_errors = 0
        self.expected = None

    def add(self, record):
        if record["outcome"] == "tool-error":
            self.tool_errors += 1
        else:
            self.n += 1
            self.successes += stats.success(record, self.metric)

    @property
    def rate(self):
        return self.successes / self.n if self.n else None

    @property
    def interval(self):
        return stats.wilson(self.successes, self.n)

    @property
    def check_interval(self):
        """The interval the verdict is judged on (wider than the one shown
        as the rate's 95% interval: see stats.Z_CHECK)."""
        return stats.wilson(self.successes, self.n, stats.Z_CHECK)

    @property
    def verdict(self):
        if self.n == 0 and self.tool_errors == 0:
            return "no data"
        if self.expected is None:
            return "no expectation"
        if self.n and not stats.meets(self.check_interval, self.expected["band"]):
            return "OUT"
        if self.tool_errors:
            return "tool errors"
        return "ok"

    def sort_key(self):
        order = list(tools.TOOLS)
        return (records.lab_key(self.lab), tools.BUILDS.index(self.build),
                order.index(self.tool) if self.tool in order else len(order), self.tool,
                self.config)


def read_all(folders):
    """The records under one folder or a list of them (a sharded check's
    parts, merged); Failure on a trial read twice (a folder given twice,
    or inside another given one), which would count twice."""
    folders = [folders] if isinstance(folders, (str, Path)) else folders
    seen = set()
    for folder in folders:
        for record in records.read_dir(folder):
            key = (record["run"], record["trial"], record["lab"], record["build"],
                   record["tool"], record["config"])
            if key in seen:
                raise Failure(f"trial {record['trial']} of run {record['run']} (lab "
                              f"{record['lab']} {record['build']} {record['tool']} "
                              f"{record['config']}) read twice: is a folder given twice, "
                              f"or inside another?")
            seen.add(key)
            yield record


def collect(results_dir, expected_dir, lab):
    """Every cell with records under results_dir (a folder or a list of
    them) or a row under expected_dir (of lab `lab` alone, unless None), in
    the report's order."""
    cells = {}
    for record in read_all(results_dir):
        if lab is not None and record["lab"] != lab:
            continue
        key = (record["lab"], record["build"], record["tool"], record["config"])
        cells.setdefault(key, Cell(key)).add(record)
    for key, row in expected.read_dir(expected_dir).items():
        if lab is None or key[0] == lab:
            cell = cells.setdefault(key, Cell(key))
            cell.expected = row
            if row["metric"] == stats.EXPECTED_FP:  # the same count, named as intended
                cell.metric = row["metric"]
    return sorted(cells.values(), key=Cell.sort_key)


def markdown(cells):
    def fmt(cell):
        band = cell.expected["band"] if cell.expected else None
        return (str(cell.lab), cell.build, cell.tool, cell.config, cell.metric,
                "-" if cell.rate is None else f"{cell.rate:.2f}",
                stats.fmt_interval(cell.interval), stats.fmt_interval(cell.check_interval),
                stats.fmt_interval(band),
                str(cell.n), str(cell.tool_errors), cell.verdict)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(c)) + " |" for c in cells]
    return "\n".join(lines)


def summary(cells):
    counts = defaultdict(int)
    for c in cells:
        counts[c.verdict] += 1
    line = f"{len(cells)} cells: {counts['ok']} ok, {counts['OUT']} out"
    for verdict in ("tool errors", "no expectation", "no data"):
        if counts[verdict]:
            line += f", {counts[verdict]} {verdict}"
    return line
