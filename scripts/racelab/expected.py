"""The expected-results tables, labs/lab-N-<name>/expected.tsv.

Each lab's table lives in its folder and holds only that lab's rows. A
folder of tables is laid out as labs/ is: DIR/lab-N-<name>/expected.tsv
(make measure writes its new tables to results/expected-new/ that way, so
that each diffs against its lab's).

One row per (lab, build, tool, config): the band of rates the measurement
is expected to fall in, how many successes out of how many trials the band
was measured from, and a short note on why. Plain TSV with a fixed header
so it diffs well in review and opens in any spreadsheet:

  lab  build  tool  config  metric  band_low  band_high  successes  trials  note

A row whose metric does not fit its build and tool (say "detection" for a
fixed build) is an error: the report would otherwise compare the wrong rate.

A fixed (correct) build's band is 0 to 0: one broken invariant or one report
there is a bug. The one exception is an intended false positive, a correct
build that a detector is known to flag (Helgrind's lock-order report on two
locks always taken under one global lock, the textbook case): its row says
so with the metric `expected-false-positive` (counted as false-positive is:
any report but a crash), a band that is not 0 to 0, and a note that says
why. A fixed row with any other metric and a band other than 0 to 0 is an
error, as is an expected-false-positive row without a reason.

A service lab's table (labs/lab-N-<name>/ whose manifest says kind =
service) has the same header, but its tool runs service processes
(SERVICE_TOOLS: `replicas`, two or more racelab-service over one
database), and its metric is the invariant's, symptom or violation, as a
native tool's; or it is a detector's (tsan-clang: the replicas built with
ThreadSanitizer), counted as in a lab table. read_dir() leaves those
tables out: what reads it (the report, check_rates, grading, the
documents' figures over every lab) measures the stress driver.
service_dir() and read_service_tables() read them.
"""

from pathlib import Path

from . import scenario, stats, tools, tsv
from .cli import Failure
from .records import lab_key, program_name, write_atomically
from .scenario import shown

# A lab's table, in its folder.
TABLE = "expected.tsv"

HEADER = ("lab", "build", "tool", "config", "metric", "band_low", "band_high",
          "successes", "trials", "note")

# The tools of a service lab's table, which judge by the invariant (the
# ledger against the responses), as the native tools do.
SERVICE_TOOLS = ("replicas",)

# Notes that say nothing about why (what report.py --write-expected writes).
_NO_REASON = ("", "measured", "by design")


def _row(fields, where):
    if len(fields) != len(HEADER):
        raise Failure(f"{where}: expected {len(HEADER)} tab-separated fields, got {len(fields)}")
    row = dict(zip(HEADER, fields))
    try:
        # A course pack's table names its programs where a lab table has
        # numbers (racelab/records.py, program_name).
        lab = int(row["lab"]) if row["lab"].isdigit() else row["lab"]
        low, high = float(row["band_low"]), float(row["band_high"])
        successes, trials = int(row["successes"]), int(row["trials"])
    except ValueError:
        raise Failure(f"{where}: band_low, band_high, successes and trials must be numbers") from None
    if isinstance(lab, str) and not program_name(lab):
        raise Failure(f"{where}: lab '{lab}' is neither a lab number nor a program's name")
    if not 0 <= low <= high <= 1:
        raise Failure(f"{where}: the band {low}-{high} is not within 0-1, low first")
    if not 0 <= successes <= trials:
        raise Failure(f"{where}: {successes} successes out of {trials} trials")
    if row["build"] not in ("broken", "fixed"):
        raise Failure(f"{where}: unknown build '{row['build']}'")
    want = stats.metric(row["build"], row["tool"])
    if row["metric"] == stats.EXPECTED_FP and want == "false-positive":
        if high == 0:
            raise Failure(f"{where}: an {stats.EXPECTED_FP} row needs a band above 0 "
                          f"(a band of 0-0 is metric 'false-positive')")
        if row["note"].strip().lower() in _NO_REASON:
            raise Failure(f"{where}: an {stats.EXPECTED_FP} row needs a note saying why "
                          f"the tool flags the correct build")
    elif row["metric"] != want:
        raise Failure(f"{where}: metric '{row['metric']}' does not fit {row['build']} "
                      f"{row['tool']} (it is '{want}'"
                      + (f", or {stats.EXPECTED_FP} for an intended false positive)"
                         if want == "false-positive" else ")"))
    elif row["build"] == "fixed" and (low, high) != (0, 0):
        raise Failure(f"{where}: a fixed build's band is 0-0 (one finding is a bug); a "
                      f"correct build a detector is known to flag is metric "
                      f"{stats.EXPECTED_FP}, with a note saying why")
    return (lab, row["build"], row["tool"], row["config"]), {
        "metric": row["metric"], "band": (low, high), "successes": successes,
        "trials": trials, "note": row["note"], "where": where}


def _service_row(fields, where):
    """A row of a service lab's table; Failure names where it is wrong."""
    if len(fields) != len(HEADER):
        return _row(fields, where)
    tool = fields[HEADER.index("tool")]
    if tool not in SERVICE_TOOLS and tool not in tools.TOOLS:
        raise Failure(f"{where}: tool '{tool}' is not a service lab's "
                      f"({', '.join(SERVICE_TOOLS)}, or a detector's name)")
    if tool in tools.TOOLS:  # a detector run over the replicas: as in a lab table
        return _row(fields, where)
    build, metric = fields[HEADER.index("build")], fields[HEADER.index("metric")]
    want = stats.metric(build, "stress") if build in ("broken", "fixed") else None
    if want and metric != want:
        raise Failure(f"{where}: metric '{metric}' does not fit {build} {tool} "
                      f"(it is '{want}': the invariant, as a native tool's)")
    # Judged as a native tool's row: by the invariant.
    fields = list(fields)
    fields[HEADER.index("tool")] = "stress"
    key, row = _row(fields, where)
    return (key[0], key[1], tool, key[3]), row


def labs(table):
    """The labs a table read by read_dir() has rows for."""
    return sorted({key[0] for key in table}, key=lab_key)


def tree_dir():
    """The folder of the tree's own tables: labs/."""
    return scenario.root() / "labs"


def table_path(lab, directory=None):
    """Lab `lab`'s table: in its folder, or in DIR/<its folder's name>/
    (a folder of new tables). Failure for an unknown lab."""
    folder = scenario.lab_dir(lab)
    return (Path(directory) / folder.name if directory else folder) / TABLE


def table_name(lab):
    """'lab-1-cache/expected.tsv', a table's name in a folder of tables;
    'lab-N-*/expected.tsv' for a lab with no folder (for messages)."""
    try:
        return f"{scenario.lab_dir(lab).name}/{TABLE}"
    except Failure:
        return f"lab-{lab}-*/{TABLE}"


def read_dir(directory=None):
    """{(lab, build, tool, config): row} from every DIR/lab-*/expected.tsv,
    DIR labs/ unless given, or from one table when DIR is a file (a course
    pack's expected.tsv). A DIR of lab-N.tsv files is the old layout, which
    would read as no tables at all: refused."""
    directory = Path(directory) if directory is not None else tree_dir()
    if directory.is_file():
        return _read_tables([directory])
    if not directory.is_dir():
        raise Failure(f"no expected directory {shown(directory)}")
    old = sorted(directory.glob("lab-*.tsv"))
    if old:
        raise Failure(f"{shown(old[0])}: the old layout; a lab's table is now "
                      f"<DIR>/lab-N-<name>/{TABLE} (the tree's: labs/lab-N-<name>/{TABLE})")
    return _read_tables(sorted(p for p in directory.glob(f"lab-*/{TABLE}")
                               if not scenario.is_service(p.parent)))


def service_dir(directory=None):
    """{(lab, build, tool, config): row} of the service labs' tables under
    DIR (labs/ unless given)."""
    directory = Path(directory) if directory is not None else tree_dir()
    return read_service_tables(sorted(p for p in directory.glob(f"lab-*/{TABLE}")
                                      if scenario.is_service(p.parent)))


def read_service_tables(paths):
    """{(lab, build, tool, config): row} from service labs' tables: a
    SERVICE_TOOLS row's metric symptom (broken) or violation (fixed), a
    detector's as in a lab table; a fixed build's band 0 to 0."""
    return _read_tables(paths, service=True)


def _read_tables(paths, service=False):
    """{(lab, build, tool, config): row} from these table files (service
    labs' tables, in their form, with service=True)."""
    table = {}
    for path in paths:
        for where, fields in tsv.rows(path, HEADER):
            key, row = (_service_row if service else _row)(fields, where)
            if key in table:
                raise Failure(f"{where}: duplicates {table[key]['where']}")
            table[key] = row
    return table


def write(path, rows):
    """Writes rows (dicts with HEADER keys) as one TSV file, atomically."""
    lines = ["\t".join(HEADER)]
    for row in rows:
        lines.append("\t".join(str(row[h]) for h in HEADER))
    write_atomically(Path(path), ("\n".join(lines) + "\n").encode("utf-8"))
