#!/bin/sh
# test_answer.sh: make answer-N, the reference fix after a graded attempt
# (scripts/answer.py). Its design, checked here:
#   - ANSWER=yes (or --yes) shows the diff without asking;
#   - with no graded attempt (no work/lab-N/grade.json) it says so in one
#     line; on a terminal it then asks [y/N]; with no terminal it proceeds
#     (a script or CI that asks for the answer gets it); ANSWER=no declines,
#     exit 1, nothing shown;
#   - an unknown lab or a bad ANSWER is one line on stderr and exit 2.
# Everything runs on a copy of labs/, broken/ and fixed/ (RACELAB_ROOT), so
# the checkout's work/ is never touched.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
repo=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -R labs broken fixed "$tmp/"
A="python3 $repo/scripts/answer.py"
export RACELAB_ROOT="$tmp"
unset ANSWER

# changed M FILE: the diff's changed lines in FILE are diff -u's, as a set.
changed() {
	grep '^[-+]' "$2" | grep -v '^\(---\|+++\) ' | sort >"$tmp/got"
	diff -u "broken/$1.c" "fixed/$1.c" | grep '^[-+]' | grep -v '^\(---\|+++\) ' | sort >"$tmp/want"
	cmp -s "$tmp/got" "$tmp/want"
}

# 1. make answer-1 ANSWER=yes: the diff, no question.
make -s answer-1 ANSWER=yes </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" = 0 ] && grep -q '^--- broken/cache.c$' "$tmp/out" && grep -q '^+++ fixed/cache.c$' "$tmp/out" &&
	changed cache "$tmp/out" && ! grep -q 'y/N' "$tmp/out" && [ ! -s "$tmp/err" ]; then
	echo "ok - make answer-1 ANSWER=yes prints diff -u broken/cache.c fixed/cache.c, without asking"
else
	echo "not ok - make answer-1 ANSWER=yes: exit $rc, $(head -c 300 "$tmp/err")"
fi
if [ "$(grep -c 'no graded attempt yet' "$tmp/out")" = 1 ]; then
	echo "ok - with no grade.json it says so in one line"
else
	echo "not ok - with no grade.json it says so in one line"
fi

# 2. No terminal and no ANSWER: the answer is shown (by design), no prompt.
(cd "$tmp" && $A 2 </dev/null >"$tmp/out" 2>"$tmp/err")
rc=$?
if [ "$rc" = 0 ] && grep -q '^--- broken/ledger.c$' "$tmp/out" && ! grep -q 'y/N' "$tmp/out" &&
	grep -q 'no graded attempt yet' "$tmp/out"; then
	echo "ok - no terminal, no ANSWER: says there is no graded attempt, then shows the diff"
else
	echo "not ok - no terminal, no ANSWER: exit $rc, $(head -c 300 "$tmp/err")"
fi
if grep -q '^== The explanation: labs/lab-2-ledger/README.md:[0-9]* (The reference fix (after your graded attempt: make answer-2))$' "$tmp/out"; then
	echo "ok - it names the handout section that explains the fix"
else
	echo "not ok - it names the handout section that explains the fix: $(grep explanation "$tmp/out")"
fi

# 3. ANSWER=no declines: exit 1, nothing shown.
(cd "$tmp" && ANSWER=no $A 2 </dev/null >"$tmp/out" 2>&1)
rc=$?
if [ "$rc" = 1 ] && ! grep -q '^---' "$tmp/out" && grep -q 'not shown' "$tmp/out"; then
	echo "ok - ANSWER=no with no graded attempt: exit 1, no diff"
else
	echo "not ok - ANSWER=no with no graded attempt: exit $rc"
fi

# 4. On a terminal: asks, and n is no, y is yes.
if command -v script >/dev/null; then
	printf 'n\n' | (cd "$tmp" && script -qec "$A 3" /dev/null) >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -q 'y/N' "$tmp/out" && ! grep -q '^--- broken/payflow.c' "$tmp/out"; then
		echo "ok - on a terminal it asks; n shows nothing, exit 1"
	else
		echo "not ok - on a terminal it asks; n shows nothing, exit 1: exit $rc"
	fi
	printf 'y\n' | (cd "$tmp" && script -qec "$A 3" /dev/null) >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'y/N' "$tmp/out" && grep -q '^--- broken/payflow.c' "$tmp/out"; then
		echo "ok - on a terminal, y shows the diff"
	else
		echo "not ok - on a terminal, y shows the diff: exit $rc"
	fi
else
	echo "ok - on a terminal it asks # SKIP no script(1)"
fi

# 5. After a graded attempt: no question, the last verdict, the diff.
mkdir -p "$tmp/work/lab-4"
echo '{"lab": 4, "passed": false}' >"$tmp/work/lab-4/grade.json"
# (on a terminal when there is one, answering n to a question it must not ask)
if command -v script >/dev/null; then
	printf 'n\n' | (cd "$tmp" && script -qec "$A 4" /dev/null) >"$tmp/out" 2>&1
else
	(cd "$tmp" && $A 4 </dev/null >"$tmp/out" 2>&1)
fi
if grep -q 'your last grading (work/lab-4/grade.json): not passed yet' "$tmp/out" &&
	! grep -q 'y/N' "$tmp/out" && grep -q '^--- broken/refund.c' "$tmp/out"; then
	echo "ok - with work/lab-4/grade.json it shows the diff without asking"
else
	echo "not ok - with work/lab-4/grade.json it shows the diff without asking"
fi

# 6. Every lab: the module its manifest names (broken_modules), its diff.
for conf in labs/lab-*/scenario.conf; do
	n=$(sed -n 's/^lab *= *//p' "$conf")
	m=$(sed -n 's/^broken_modules *= *//p' "$conf")
	(cd "$tmp" && $A "$n" --yes </dev/null >"$tmp/out" 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && [ -n "$m" ] && grep -q "^== The reference fix: diff -u broken/$m.c fixed/$m.c$" "$tmp/out" &&
		changed "$m" "$tmp/out"; then
		echo "ok - lab $n: the diff of $m, as diff -u has it"
	else
		echo "not ok - lab $n: the diff of '$m': exit $rc"
	fi
done

# 7. Bad input: one line, exit 2.
expect_fail 2 "an unknown lab" $A 42
expect_fail 2 "lab 0" $A 0
expect_fail 2 "a lab that is not a number" $A one
expect_fail 2 "ANSWER=maybe" env ANSWER=maybe $A 1
out=$(make -s answer-42 2>&1 </dev/null)
rc=$?
if [ "$rc" != 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]; then
	echo "ok - make answer-42: one line, exit $rc ($out)"
else
	echo "not ok - make answer-42: exit $rc, said: $out"
fi

# 8. make help lists it.
case $(make -s help) in
*"answer-N"*"after make grade-N"*) echo "ok - make help lists answer-N" ;;
*) echo "not ok - make help lists answer-N" ;;
esac
