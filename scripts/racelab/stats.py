"""Rates with honest error bars, and what each rate counts.

Principle 3 of DESIGN.md: every claim is a rate over trials with a 95%
confidence interval, and a check fails only when the measured interval and
the expected band do not meet, so a lucky or unlucky run does not flip CI.

The Wilson score interval is used rather than the textbook p +- z*sqrt(pq/n)
because it behaves at the edges that matter here: 0/10 and 10/10 give a
real interval ([0, 0.28] and [0.72, 1]), not a zero-width one.
"""

import math

Z95 = 1.959964

# What is counted, by build and by whether the tool reports anything.
#   broken + stress -> symptom         the program saw the race (manifested)
#   broken + tool   -> detection       the tool pointed at the race site
#   fixed  + stress -> violation       the fix broke an invariant (manifested)
#   fixed  + tool   -> false-positive  the tool reported anything at all
#   a student's build is judged as the fixed build is
METRICS = ("symptom", "detection", "violation", "false-positive")
WORDS = {"symptom": "manifested", "detection": "detected",
         "violation": "violated", "false-positive": "with findings"}


def metric(build, tool):
    if build == "broken":
        return "symptom" if tool == "stress" else "detection"
    return "violation" if tool == "stress" else "false-positive"


def success(record, name):
    """Whether one (non tool-error) trial record counts towards metric `name`.

    A false positive is any report except a crash: a program that dies under
    the tool has a problem, but the tool did not claim a race.
    """
    if name in ("symptom", "violation"):
        return bool(record["manifested"])
    if name == "detection":
        return bool(record["detected"])
    return any(f.get("kind") != "crash" for f in record["findings"])


def wilson(successes, trials, z=Z95):
    """The Wilson score interval (low, high) of successes/trials, or None
    when there are no trials. Exact at the edges: 0 successes gives low 0,
    all successes gives high 1."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def meets(interval, band):
    """Whether two closed intervals (low, high) overlap."""
    return interval[0] <= band[1] and band[0] <= interval[1]


def round_outward(low, high, places=2):
    """(0.4361, 0.9987) -> (0.43, 1.0): the band never shrinks by rounding.
    A tiny slack absorbs float noise such as 0.29000000000000004."""
    scale = 10 ** places
    return (math.floor(low * scale + 1e-9) / scale,
            math.ceil(high * scale - 1e-9) / scale)


def fmt_interval(interval):
    return "-" if interval is None else f"{interval[0]:.2f}-{interval[1]:.2f}"
