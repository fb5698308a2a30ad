#!/bin/sh
# run.sh: every test of racelab, called by `make test` after the build.
#
#   1. the CMocka suites in build/tests/
#   2. the command-line tests in tests/cli/ (TAP-style ok / not ok lines)
#   3. the scripts' unit tests in tests/scripts/ (Python unittest), and
#      the documents' facts (scripts/check_docs.py, make check-docs)
#   4. the quick rate check (scripts/check_rates.py --profile quick), which
#      RACELAB_SKIP_RATES=1 leaves out while working on something else
#   5. grading's quick self-test (scripts/grade_selftest.py --quick: one
#      wrong fix of every lab's catalogue graded as make grade-N would), which
#      RACELAB_SKIP_SELFTEST=1 leaves out
#
# With --check (make check), parts 1 and 3 alone: the fast loop.
#
# Each part prints its own output; the last line is "N passed, N failed",
# and the exit status is 1 when anything failed.
usage() {
	cat <<'EOF'
usage: tests/run.sh [--check]

Runs racelab's tests on an existing build (make test; make check runs it
with --check) and ends with the line "N passed, N failed".

  (no option)  every part: the CMocka suites, the command-line tests, the
               scripts' tests and the documents' facts, the quick rate
               check, grading's quick self-test
  --check      the CMocka suites, the scripts' tests and the documents'
               facts alone
  -h, --help   this text

Environment: RACELAB_SKIP_RATES=1 leaves out the quick rate check,
RACELAB_SKIP_SELFTEST=1 grading's self-test; PYTHON (default python3).

Exit status: 0 when nothing failed, 1 when a test failed, 2 bad arguments.
EOF
}
check_only=
case $# in
0) ;;
1)
	case $1 in
	--check) check_only=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "run.sh: error: unknown argument '$1' (try --help)" >&2
		exit 2
		;;
	esac
	;;
*)
	echo "run.sh: error: one argument at most (try --help)" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/.." || exit 2
PYTHON=${PYTHON:-python3}
started=$(date +%s)
passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

tally() { # tally PART PASSED FAILED
	passed=$((passed + $2))
	failed=$((failed + $3))
	printf '== %s: %d passed, %d failed\n' "$1" "$2" "$3"
}

# 1. CMocka: its summary lines give the counts; a suite that crashes or
# prints no summary counts as one failure.
suites=$(ls build/tests/test_* 2>/dev/null)
[ -n "$suites" ] || tally "CMocka suites (none built: run make)" 0 1
for t in $suites; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	"$t" >"$log/$name" 2>&1
	rc=$?
	cat "$log/$name"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$name")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$name")
	p=${p:-0} f=${f:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; fi
	tally "$name" "$p" "$f"
done

# 2. Command-line tests (not with --check).
if [ -z "$check_only" ]; then
	for t in tests/cli/test_*.sh; do
		name=$(basename "$t" .sh)
		sh "$t" >"$log/$name" 2>&1
		cat "$log/$name"
		tally "$name" "$(grep -c '^ok ' "$log/$name")" "$(grep -c '^not ok ' "$log/$name")"
	done
fi

# 3. The scripts' unit tests; run.py ends with "scripts: N passed, N failed, N skipped".
$PYTHON tests/scripts/run.py >"$log/py" 2>&1
rc=$?
tail -n 20 "$log/py"
p=$(sed -n 's/^scripts: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$log/py")
f=$(sed -n 's/^scripts: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$log/py")
p=${p:-0} f=${f:-0}
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
if [ "$p" = 0 ]; then f=$((f + 1)); fi
tally "scripts (unittest)" "$p" "$f"

# The documents' facts: one pass, or one failure per stale fact.
$PYTHON scripts/check_docs.py >"$log/docs" 2>&1
rc=$?
cat "$log/docs"
f=$(grep -c '^[^ ]*:[0-9]*: ' "$log/docs")
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
if [ "$rc" = 0 ]; then tally "documents' facts (check-docs)" 1 0; else tally "documents' facts (check-docs)" 0 "$f"; fi

# 4. The quick rate check: each cell within its expected band is a pass.
if [ -z "$check_only" ] && [ -z "${RACELAB_SKIP_RATES:-}" ]; then
	# (shown as it runs: it takes a few minutes)
	{
		$PYTHON scripts/check_rates.py --profile quick --results "$log/results" 2>&1
		echo $? >"$log/rates.rc"
	} | tee "$log/rates"
	rc=$(cat "$log/rates.rc")
	ok=$(grep -c '| ok |$' "$log/rates")
	out=$(grep -cE '\| (OUT|tool errors|no data) \|$' "$log/rates")
	if [ "$rc" != 0 ] && [ "$out" = 0 ]; then out=1; fi
	tally "rate check (quick)" "$ok" "$out"
fi

# 4b. Lab 11's rates (a service lab: two replicas and a PostgreSQL server,
# outside check_rates.py's cells): each row within its band is a pass.
if [ -z "$check_only" ] && [ -z "${RACELAB_SKIP_RATES:-}" ]; then
	$PYTHON scripts/replicas.py check >"$log/replicas" 2>&1
	rc=$?
	cat "$log/replicas"
	ok=$(grep -c '^ok ' "$log/replicas")
	out=$(grep -c '^FAIL ' "$log/replicas")
	if [ "$rc" != 0 ] && [ "$out" = 0 ]; then out=1; fi
	tally "lab 11's rates (quick)" "$ok" "$out"
fi

# 5. Grading's quick self-test: each catalogue entry graded as it must be
# (a wrong fix not PASSED) is a pass.
if [ -z "$check_only" ] && [ -z "${RACELAB_SKIP_SELFTEST:-}" ]; then
	$PYTHON scripts/grade_selftest.py --quick --json "$log/selftest.json" 2>&1 | tee "$log/selftest"
	ok=$(grep -c '^  ok ' "$log/selftest")
	miss=$(grep -c '^  MISS ' "$log/selftest")
	if [ "$ok" = 0 ] && [ "$miss" = 0 ]; then miss=1; fi
	tally "grading's self-test (quick)" "$ok" "$miss"
fi

# How long it took, measured rather than quoted in the README, with the
# load average beside it: on 2 cores, other jobs stretch every trial.
echo "== took $(($(date +%s) - started)) s (load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown))"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
