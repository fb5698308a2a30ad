"""The expected-results tables, expected/*.tsv.

One row per (lab, build, tool, config): the band of rates the measurement
is expected to fall in, how many successes out of how many trials the band
was measured from, and a short note on why. Plain TSV with a fixed header
so it diffs well in review and opens in any spreadsheet:

  lab  build  tool  config  metric  band_low  band_high  successes  trials  note

A row whose metric does not fit its build and tool (say "detection" for a
fixed build) is an error: the report would otherwise compare the wrong rate.
"""

from pathlib import Path

from . import stats
from .cli import Failure
from .records import write_atomically
from .scenario import shown

HEADER = ("lab", "build", "tool", "config", "metric", "band_low", "band_high",
          "successes", "trials", "note")


def _row(fields, where):
    if len(fields) != len(HEADER):
        raise Failure(f"{where}: expected {len(HEADER)} tab-separated fields, got {len(fields)}")
    row = dict(zip(HEADER, fields))
    try:
        lab, low, high = int(row["lab"]), float(row["band_low"]), float(row["band_high"])
        successes, trials = int(row["successes"]), int(row["trials"])
    except ValueError:
        raise Failure(f"{where}: lab, band_low, band_high, successes and trials must be numbers") from None
    if not 0 <= low <= high <= 1:
        raise Failure(f"{where}: the band {low}-{high} is not within 0-1, low first")
    if not 0 <= successes <= trials:
        raise Failure(f"{where}: {successes} successes out of {trials} trials")
    if row["build"] not in ("broken", "fixed"):
        raise Failure(f"{where}: unknown build '{row['build']}'")
    want = stats.metric(row["build"], row["tool"])
    if row["metric"] != want:
        raise Failure(f"{where}: metric '{row['metric']}' does not fit {row['build']} "
                      f"{row['tool']} (it is '{want}')")
    return (lab, row["build"], row["tool"], row["config"]), {
        "band": (low, high), "successes": successes, "trials": trials,
        "note": row["note"], "where": where}


def read_dir(directory):
    """{(lab, build, tool, config): row} from every DIR/*.tsv."""
    directory = Path(directory)
    if not directory.is_dir():
        raise Failure(f"no expected directory {shown(directory)}")
    table = {}
    for path in sorted(directory.glob("*.tsv")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise Failure(f"cannot read {shown(path)}: {getattr(e, 'strerror', None) or e}") from None
        if not lines or tuple(lines[0].split("\t")) != HEADER:
            raise Failure(f"{shown(path)}:1: the header must be: {' '.join(HEADER)} (tab-separated)")
        for number, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            where = f"{shown(path)}:{number}"
            key, row = _row(line.split("\t"), where)
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
