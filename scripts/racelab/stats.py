"""Rates with honest error bars, and what each rate counts.

Principle 3 of ARCHITECTURE.md: every claim is a rate over trials with a 95%
confidence interval, and a check fails only when the measured interval and
the expected band do not meet, so a lucky or unlucky run does not flip CI.

The Wilson score interval is used rather than the textbook p +- z*sqrt(pq/n)
because it behaves at the edges that matter here: 0/10 and 10/10 give a
real interval ([0, 0.28] and [0.72, 1]), not a zero-width one.
"""

import math

from .tools import NATIVE

Z95 = 1.959964

# What is counted, by build and by whether the tool reports anything.
#   broken + stress -> symptom         the program saw the race (manifested)
#   broken + tool   -> detection       the tool pointed at the race site
#   fixed  + stress -> violation       the fix broke an invariant (manifested)
#   fixed  + tool   -> false-positive  the tool reported anything at all
#   a student's build is judged as the fixed build is
#   fixed  + tool   -> expected-false-positive  the same count, for a
#                      correct build the tool is known to flag (a row of
#                      an expected table says so, and why: racelab.expected)
EXPECTED_FP = "expected-false-positive"
METRICS = ("symptom", "detection", "violation", "false-positive", EXPECTED_FP)
WORDS = {"symptom": "manifested", "detection": "detected",
         "violation": "violated", "false-positive": "with findings",
         EXPECTED_FP: "with findings"}


def metric(build, tool):
    native = tool in NATIVE  # judged by the invariants only
    if build == "broken":
        return "symptom" if native else "detection"
    return "violation" if native else "false-positive"


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


# --- the check, and how often it fails a correct build -----------------------
#
# The quick check runs few trials a cell, many cells at once, on every
# `make test`. Judged with the 95% interval above, a correct build would
# fail one cell or another in several runs out of a hundred (measured and
# computed: expected/README.md). So the check judges with a wider interval,
# and a broken-build cell that still falls out of its band is rerun with
# more trials and judged on all of them, the way LLVM's lit reruns a racy
# test: shown in the output, never hidden. Fixed-build cells and cells
# whose band is 0 to 0 by design are never rerun: one finding there is a
# bug, not bad luck.

Z_CHECK = 3.890592  # two-sided 99.99%
CHECK_CONFIDENCE = "99.99%"


def out_of_band(successes, trials, band, z=Z_CHECK):
    """Whether k/n's interval at z cannot meet band: the check's verdict."""
    return not meets(wilson(successes, trials, z), band)


def _log_choose(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_beta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def check_fails(band, p, first, rerun, z=Z_CHECK):
    """P(the check fails one cell) when its true rate is p: `first` trials
    out of band, and then, with `rerun` more, all of them out of band too."""
    return _check_fails(band, first, rerun, z,
                        lambda n, k: _log_choose(n, k) + _log_pow(p, k) + _log_pow(1 - p, n - k))


def check_fails_posterior(band, successes, trials, first, rerun, z=Z_CHECK):
    """The same, averaged over what the expected table's own measurement
    (successes out of trials) says the true rate may be: a uniform prior
    updated by that measurement, Beta(successes + 1, failures + 1). A cell
    measured 30 out of 30 may still have a true rate of 0.9, and this
    counts it; assuming p = 30/30 = 1 would call every failure impossible."""
    a, b = successes + 1, trials - successes + 1
    return _check_fails(band, first, rerun, z,
                        lambda n, k: _log_choose(n, k) + _log_beta(a + k, b + n - k)
                        - _log_beta(a, b))


def _log_pow(x, k):
    if k == 0:
        return 0.0
    return -math.inf if x <= 0 else k * math.log(x)


def _check_fails(band, first, rerun, z, log_joint):
    """Sums P(k1 of the first trials, k2 of the rerun) over the outcomes
    the check fails on. log_joint(n, k) is log P(a given sequence of n
    trials has k successes) times C(n, k); the split into k1 and k2 only
    adds the binomial coefficients' ratio."""
    total = 0.0
    for k1 in range(first + 1):
        if not out_of_band(k1, first, band, z):
            continue
        if rerun == 0:
            total += math.exp(log_joint(first, k1))
            continue
        n = first + rerun
        for k2 in range(rerun + 1):
            k = k1 + k2
            if out_of_band(k, n, band, z):
                total += math.exp(log_joint(n, k) - _log_choose(n, k) + _log_choose(first, k1)
                                  + _log_choose(rerun, k2))
    return total
