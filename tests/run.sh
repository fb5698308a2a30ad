#!/bin/sh
# run.sh: every test of racelab, called by `make test` after the build.
#
#   1. the CMocka suites in build/tests/
#   2. the command-line tests in tests/cli/ (TAP-style ok / not ok lines)
#   3. the scripts' unit tests in tests/scripts/ (Python unittest)
#   4. the quick rate check for lab 1 (scripts/check-rates.sh --quick)
#
# Each part prints its own output; the last line is "N passed, N failed",
# and the exit status is 1 when anything failed.
cd "$(dirname "$0")/.." || exit 2
PYTHON=${PYTHON:-python3}
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
for t in build/tests/test_*; do
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

# 2. Command-line tests.
for t in tests/cli/test_*.sh; do
	name=$(basename "$t" .sh)
	sh "$t" >"$log/$name" 2>&1
	cat "$log/$name"
	tally "$name" "$(grep -c '^ok ' "$log/$name")" "$(grep -c '^not ok ' "$log/$name")"
done

# 3. The scripts' unit tests.
if [ -d tests/scripts ]; then
	$PYTHON -m unittest discover -s tests/scripts -t . >"$log/py" 2>&1
	rc=$?
	tail -n 30 "$log/py"
	ran=$(sed -n 's/^Ran \([0-9]*\) test.*/\1/p' "$log/py")
	bad=$(sed -n 's/^FAILED (\(.*\))/\1/p' "$log/py" | tr ',' '\n' |
		sed -n 's/.*\(failures\|errors\)=\([0-9]*\).*/\2/p' | awk '{ s += $1 } END { print s + 0 }')
	ran=${ran:-0}
	if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
	if [ "$ran" = 0 ]; then bad=$((bad + 1)); fi
	tally "scripts (unittest)" $((ran - bad > 0 ? ran - bad : 0)) "$bad"
fi

# 4. The quick rate check: each cell within its expected band is a pass.
if [ -x scripts/check-rates.sh ]; then
	scripts/check-rates.sh --quick >"$log/rates" 2>&1
	rc=$?
	cat "$log/rates"
	ok=$(grep -c '| ok |' "$log/rates")
	out=$(grep -c '| OUT |' "$log/rates")
	if [ "$rc" != 0 ] && [ "$out" = 0 ]; then out=1; fi
	tally "rate check (lab 1, quick)" "$ok" "$out"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
