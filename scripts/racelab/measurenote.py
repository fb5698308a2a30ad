"""The note of a row that report.py --write-expected writes: what the
measurement was, read off the cell's own trial records, so that every row
of an expected table says when, how and on how busy a machine it was
measured (a hand-written note goes stale the day its rate is measured
again; this one is rewritten with it).

A note reads, for example:

  by design: any report on the fixed build is a false positive; 0 of 50;
  measured 2026-12-05 (shard 3 of 8 of a sharded run), seeds 1 to 50,
  load average 1.12 to 2.40; trials 0.05 to 0.31 s (a 5 s limit when
  measured)

Two kinds of clause of the old note are carried over, first: a reason
("why: lab 3's race is not a data race ..."), which holds whatever the
counts, and the clause other code reads, cpus.NOTE ("needs 2 CPUs ..."),
which says a band holds only on two CPUs (cpus.needs_two). Whatever else
the old note said was about the old measurement and goes with it.
"""

from collections import Counter

from . import cpus

# A clause of a note that starts with WHY is a reason, kept when the row is
# measured again; it must hold whatever the counts (no figures in it).
WHY = "why: "

# What the row of a fixed build stands for, by its metric (a 0-0 band).
BY_DESIGN = {
    "violation": "by design: any broken invariant, hang or deadlock on the fixed build "
                 "is a failure",
    "false-positive": "by design: any report on the fixed build is a false positive",
}


def _day(run):
    """'2026-12-05' from a run id '20261205T012705Z-ab12' (trials.py)."""
    stamp = run.split("T", 1)[0]
    if len(stamp) == 8 and stamp.isdigit():
        return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}"
    return None


def _span(values, fmt="{}"):
    """'A to B' of the values, 'A' when they are all one, None when none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return low if low == high else f"{low} to {high}"


def _how(recs):
    """Which part of which kind of run measured the trials (the records
    carry their shard, racelab.shards)."""
    shards = {(r["shard"]["index"], r["shard"]["count"]) for r in recs if r.get("shard")}
    if len(shards) == 1:
        index, count = shards.pop()
        return f"shard {index} of {count} of a sharded run"
    if shards:
        return f"{len(shards)} shards of a sharded run"
    return "one run"


def _outcomes(recs):
    """'33 crash, 17 manifested' when some trials crashed, hung or failed
    in their tool (the rate alone does not say so), else None."""
    outcomes = Counter(r["outcome"] for r in recs)
    if not set(outcomes) - {"clean", "manifested", "detected"}:
        return None
    return ", ".join(f"{n} {o}" for o, n in outcomes.most_common())


def _symptoms(recs):
    """'broken: lost_cents in 50 (3,804,462 to 516,886,563), wrong_totals in
    50 (4)': the driver's invariants that broke, in how many trials and
    by how much a trial, the three most often broken first; None when none
    broke (or the records carry no invariants)."""
    broke = {}
    for r in recs:
        for key, value in (r.get("invariants") or {}).items():
            if value:
                broke.setdefault(key, []).append(value)
    if not broke:
        return None
    top = sorted(broke.items(), key=lambda item: (-len(item[1]), item[0]))[:3]
    words = [f"{key} in {len(values)} ({_span(values, '{:,}')})" for key, values in top]
    return "broken: " + ", ".join(words)


def _reports(recs):
    """'1 to 5 reports a trial (data-race 120, lock-order-inversion 26), all
    at the race site': a detector's findings, or None when it had none."""
    per_trial = [len(r.get("findings") or []) for r in recs]
    if not any(per_trial):
        return None
    kinds = Counter(f.get("kind", "?") for r in recs for f in r.get("findings") or [])
    total = sum(kinds.values())
    matched = sum(1 for r in recs for f in r.get("findings") or [] if f.get("matched"))
    where = ("all at the race site" if matched == total
             else f"{matched} of {total} at the race site")
    kinds_text = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
    count = _span(per_trial)
    return f"{count} report{'' if count == '1' else 's'} a trial ({kinds_text}), {where}"


def _carried(old_note):
    """The clauses of the old note that outlive a measurement: a reason
    ("why: ..."; the lab's design, not a count) and the clause other code
    reads (cpus.NOTE, "needs 2 CPUs ..."), in their old order."""
    return [clause.strip() for clause in (old_note or "").split(";")
            if clause.strip().startswith(WHY) or cpus.NOTE in clause]


def note(cell, recs, old_note=""):
    """The note of the measured cell `cell` (racelab.cells.Cell) from its
    records `recs` (the cell's trials, tool errors included) and the note
    of the row it replaces."""
    parts = []
    if cell.build == "fixed":
        parts.append(BY_DESIGN.get(cell.metric, f"by design: a {cell.metric} row"))
    parts.append(f"{cell.successes} of {cell.n}")
    for clause in (_outcomes(recs), _reports(recs), _symptoms(recs)):
        if clause:
            parts.append(clause)
    day = _span({_day(r.get("run", "")) for r in recs} - {None})
    when = f"measured {day}" if day else "measured"
    parts.append(f"{when} ({_how(recs)})")
    seeds = _span([r.get("seed") for r in recs])
    if seeds:
        parts[-1] += f", seeds {seeds}"
    load = _span([r.get("loadavg") for r in recs], "{:.2f}")
    parts[-1] += f", load average {load}" if load else ", load average not recorded"
    elapsed = _span([r.get("elapsed_s") for r in recs], "{:.2f}")
    limits = {r.get("time_limit_s") for r in recs} - {None}
    if elapsed:
        limit = f" (a {limits.pop()} s limit when measured)" if len(limits) == 1 else ""
        parts.append(f"trials {elapsed} s{limit}")
    steps = _span([((r.get("program") or {}).get("schedule") or {}).get("steps")
                   for r in recs])
    if cell.tool == "sched" and steps:
        parts.append(f"{steps} scheduler steps a trial; the interleaving follows from the "
                     f"seed, so the rate holds on one CPU as on two")
    carried = _carried(old_note)
    reasons = [c for c in carried if c.startswith(WHY)]
    lead = 2 if cell.build == "fixed" else 1  # after "by design" and the count
    parts[lead:lead] = reasons
    return "; ".join(parts + [c for c in carried if c not in reasons])

