"""Trial records as CSV: one row per trial, for a spreadsheet or R.

Every field of every record becomes a column, flattened so that each cell
holds one value:

  nested objects   one column per leaf, named by its path: exit.code,
                   invariants.lost, program.ops_done
  lists of plain   one cell, the values joined by spaces: cpus = "0 1"
  values
  lists of objects one cell holding their JSON (the findings: a finding has
                   two stacks, which no fixed set of columns holds); their
                   number is in findings_total

Columns are in the order they first appear, so the common fields come
first and an old record without a newer field leaves its cell empty.
"""

import csv
import json


def flatten(record, prefix=""):
    """{"exit": {"code": 0}} -> {"exit.code": 0}, in the record's order."""
    out = {}
    for key, value in record.items():
        name = prefix + key
        if isinstance(value, dict):
            inner = flatten(value, name + ".")
            out.update(inner if inner else {name: ""})
        elif isinstance(value, list):
            if all(not isinstance(v, (dict, list)) for v in value):
                out[name] = " ".join(_scalar(v) for v in value)
            else:
                out[name] = json.dumps(value, separators=(",", ":"))
        else:
            out[name] = _scalar(value)
    return out


def _scalar(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write(out, recs):
    """Writes recs as CSV to the open text file `out`; returns the row count."""
    rows = [flatten(r) for r in recs]
    columns = {}
    for row in rows:
        for name in row:
            columns.setdefault(name, None)
    writer = csv.DictWriter(out, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return len(rows)
