#!/usr/bin/env python3
"""ledger_check.py: after a load run, does the service's ledger hold exactly
the payments its clients were told about?

  scripts/ledger_check.py --json RUN.json --url http://127.0.0.1:PORT
  scripts/ledger_check.py --json RUN.json --metrics METRICS.txt

RUN.json is what `racelab-loadgen --json` wrote. Over its successful
responses, the distinct payment_ids' amounts must sum to the service's
racelab_ledger_cents_total and their count must equal racelab_charges_total
(nothing lost, nothing charged twice), no user may have been told of two
payment ids, and no payment id may have come with two amounts. The service
must have started empty and served only this run; read the metrics after
the load is over.

Exit 0: the ledger adds up; 1: it does not; 2: bad arguments or input.
"""

import json
import sys
import urllib.error
import urllib.request

from racelab import cli
from racelab import service as svc
from racelab.cli import Failure

PROG = "ledger_check.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("--json", required=True, metavar="FILE", help="racelab-loadgen's --json output")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--url", help="the service; its /metrics is read")
    src.add_argument("--metrics", metavar="FILE", help="a saved /metrics text instead")
    return p


def metrics_text(args):
    if args.metrics:
        try:
            with open(args.metrics, encoding="utf-8") as f:
                return f.read()
        except OSError as e:
            raise Failure(f"cannot read --metrics {args.metrics}: {e.strerror or e}") from None
    url = args.url.rstrip("/") + "/metrics"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Failure(f"cannot read {url}: {getattr(e, 'reason', e)}") from None


def load_run(path):
    try:
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
        pay = run["payments"]
        return run, {k: int(pay[k]) for k in
                     ("distinct", "cents_total", "users_charged_twice", "id_amount_conflicts")}
    except OSError as e:
        raise Failure(f"cannot read --json {path}: {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError):
        raise Failure(f"--json {path} is not racelab-loadgen's --json output") from None


def main(argv=None):
    args = parser().parse_args(argv)
    run, pay = load_run(args.json)
    results = svc.ledger_checks(pay, svc.parse_metrics(metrics_text(args)))
    for ok, line in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {line}")
    lost = sum(run.get("errors_by_kind", {}).get(k, 0) for k in ("timeout", "reset"))
    if lost:
        print(f"  note: {lost} requests timed out or were reset: a charge made for one of "
              "them was never seen by its client")
    good = all(ok for ok, _ in results)
    print(f"ledger check: {'PASS' if good else 'FAIL'}")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
