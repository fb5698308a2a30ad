"""Shards: a check's cells split N ways, so N machines (a Slurm job array,
a CI job matrix) each measure one part and report.py merges the parts.

The assignment depends on the plan alone, never on the machine: the cells
are sorted by their expected cost (trials times TRIAL_COST of the tool),
the dearest first, ties by their name, and each goes to the shard with
the least cost so far, the lowest-numbered on a tie (greedy longest-first,
within 4/3 of the best balance). Every shard computes the whole plan and
keeps its own part, so the shards need not talk to each other.

A trial's seed depends on its cell and its number only (cell_seed): trial
k of a cell gets the same seed whichever shard, machine or run order ran
it, so N shards measure the very trials one unsharded run would.

Each shard writes SHARD_FILE into its results folder: its number, the
count and the cells it was given. report.py reads these when merging
folders: a shard missing from the set, or a cell a shard was given but
has no trial of, fails the check (complete()).
"""

import hashlib
import json
from pathlib import Path

from .cli import Failure

# Rough seconds of one trial by tool, for balance only (ratios matter):
# ThreadSanitizer runs a few times slower than native, the Valgrind tools
# run one thread at a time on a smaller workload and are dearer still.
TRIAL_COST = {"stress": 1, "chaos": 1, "tsan-clang": 3, "tsan-gcc": 3, "helgrind": 10,
              "drd": 10}
SHARD_FILE = "shard.json"
SEED_SPAN = 2**31 - 2**24  # a cell's first seed; room above it for its trials


def assign(entries, count, cost, name):
    """[shard number, 1-based, of each entry], in the entries' order: the
    dearest entry first to the least loaded shard (see the module's
    comment). cost(entry) and name(entry) give its weight and its
    tie-breaking name."""
    load = [0.0] * count
    out = [0] * len(entries)
    order = sorted(range(len(entries)), key=lambda i: (-cost(entries[i]), name(entries[i])))
    for i in order:
        best = min(range(count), key=lambda s: (load[s], s))
        load[best] += cost(entries[i])
        out[i] = best + 1
    return out


def cell_seed(campaign, lab, build, tool, config):
    """The seed of a cell's first trial (trial k: this + k - 1), from the
    campaign's seed and the cell's name alone."""
    digest = hashlib.sha256(f"{campaign}/{lab}/{build}/{tool}/{config}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_SPAN + 1


def write(results, index, count, cells):
    """SHARD_FILE in `results`: this shard and its cells [(lab, build,
    tool, config)]."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    data = {"shard": {"index": index, "count": count},
            "cells": [list(c) for c in cells]}
    (results / SHARD_FILE).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read(folders):
    """[(path, index, count, [cell keys])] of every SHARD_FILE under the
    folders; Failure naming a bad one."""
    out = []
    for folder in folders:
        for path in sorted(Path(folder).rglob(SHARD_FILE)):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                index, count = data["shard"]["index"], data["shard"]["count"]
                cells = [tuple(c) for c in data["cells"]]
                if not (isinstance(index, int) and isinstance(count, int)
                        and 1 <= index <= count and all(len(c) == 4 for c in cells)):
                    raise ValueError("bad fields")
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise Failure(f"{path}: not a shard file ({e})") from None
            out.append((path, index, count, cells))
    return out


def complete(shard_files, measured, lab=None, part=False):
    """What keeps a merged set of shards from being one whole run: a list
    of one-line problems (empty: whole). measured: the cell keys with at
    least one trial; lab: judge that lab's cells only (None: all); part:
    some of the shards only, so a missing one is no problem."""
    problems = []
    counts = sorted({count for _, _, count, _ in shard_files})
    if len(counts) > 1:
        problems.append(f"shards of different counts merged ({', '.join(map(str, counts))})")
        return problems
    if not counts:
        return problems
    seen = {}
    for path, index, count, cells in shard_files:
        if index in seen:
            problems.append(f"shard {index}/{count} merged twice ({seen[index]} and {path})")
        seen[index] = path
        for cell in cells:
            if tuple(cell) not in measured and lab in (None, cell[0]):
                problems.append(f"shard {index}/{count} was given lab {cell[0]} {cell[1]} "
                                f"{cell[2]} {cell[3]} but has no trial of it")
    missing = [i for i in range(1, counts[0] + 1) if i not in seen]
    if missing and not part:
        problems.append(f"shard {', '.join(f'{i}/{counts[0]}' for i in missing)} missing "
                        f"from the merge")
    return problems
