#!/bin/sh
# test_gdb_guard.sh: gdb's own commands cannot break a walkthrough. While
# scripts/gdb/racesched.py holds the threads, continue, next, step, finish,
# until, advance (and their short forms) typed between steps are refused
# with one line, and the walkthrough then ends as it would have: the same
# result, no Python traceback. A thread moved some other way (its $pc set
# by hand) ends the walkthrough with one line before the next narration.
# gdb runs in batch, the commands fed in with -ex, on the debug builds.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# walk LAB BUILD CMDS...: the lab's walkthrough loaded in gdb, then CMDS;
# the transcript in $tmp/out.
walk() {
	lab=$1 build=$2
	shift 2
	sched=$(ls labs/lab-"$lab"-*/walkthrough.sched)
	prog=build/debug/fixed/racelab-stress
	[ "$build" = broken ] && prog=build/debug/broken-$lab/racelab-stress
	set -- -ex "racelab-load $sched $prog" "$@"
	timeout 90 gdb -q -nx -batch -iex "set debug-file-directory" \
		-x scripts/gdb/racesched.py "$@" >"$tmp/out" 2>&1
}

no_traceback() {
	! grep -q 'Traceback\|Error occurred in Python\|RuntimeError\|no longer exists\|without a live selected thread' "$tmp/out"
}

result() {
	sed -n 's/^racesched: result: //p' "$tmp/out" | tail -n 1
}

# Every moving command, long and short, after the first step and again
# after the second; then the rest of the schedule.
MOVES="continue next step finish until advance c n s fin u si ni"
nmoves=$(echo $MOVES | wc -w)

for sched in labs/lab-*/walkthrough.sched; do
	lab=$(echo "$sched" | sed 's|labs/lab-\([0-9]*\)-.*|\1|')
	set --
	for round in 1 2; do
		set -- "$@" -ex step-schedule
		for m in $MOVES; do
			[ "$m" = advance ] && m="advance racepoint_hit"
			set -- "$@" -ex "$m"
		done
	done
	walk "$lab" broken "$@" -ex run-schedule
	refused=$(grep -c "^racesched: '[a-z]*' refused: it would move threads behind the walkthrough's back\. .*schedule-release gives the program back to gdb\.$" "$tmp/out")
	r=$(result)
	if grep -q '^symptom none' "$sched"; then want="no symptom"; else want=SYMPTOM; fi
	if no_traceback && [ "$refused" = $((2 * nmoves)) ] && [ "${r#"$want"}" != "$r" ]; then
		echo "ok - lab $lab: $refused moving commands refused mid-walkthrough, one line each; it still ends: $r"
	else
		echo "not ok - lab $lab: $refused of $((2 * nmoves)) refused, result '$r': $(grep -m 3 'Traceback\|Error\|refused' "$tmp/out" | tr '\n' ' ')"
	fi
done

# Lab 2, as the issue tried it: three nexts on A in the window, then the
# narration. Refused, so the lost update is told and shown as it happens.
walk 2 broken -ex step-schedule -ex next -ex next -ex next -ex step-schedule -ex step-schedule \
	-ex run-schedule
if no_traceback && [ "$(grep -c "refused" "$tmp/out")" = 3 ] &&
	grep -q 'payment is overwritten' "$tmp/out" && result | grep -q '^SYMPTOM lost_cents=[1-9]'; then
	echo "ok - lab 2: three nexts refused, the narration and the result agree: $(result)"
else
	echo "not ok - lab 2: three nexts: $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
fi

# A thread moved behind the hooks' back: the walkthrough stops with one
# line before the next narration, which would no longer be true.
walk 2 broken -ex step-schedule -ex 'set var $pc = $pc + 1' -ex step-schedule -ex run-schedule
if no_traceback && grep -q '^racesched: result: ERROR A moved outside the walkthrough since its last step' "$tmp/out" &&
	! grep -q "B ran its whole add" "$tmp/out"; then
	echo "ok - a thread moved by hand: one line, and no narration after it"
else
	echo "not ok - a thread moved by hand: $(tail -n 4 "$tmp/out" | tr '\n' ' ')"
fi

# schedule-release gives the program back: next is no longer refused, and
# the walkthrough's own commands say it has let go.
walk 2 broken -ex step-schedule -ex schedule-release -ex next -ex step-schedule
if no_traceback && ! grep -q "refused" "$tmp/out" &&
	grep -q '^racesched: the walkthrough has let go' "$tmp/out" &&
	grep -q '^racesched: the walkthrough has let go of the program (schedule-release)' "$tmp/out"; then
	echo "ok - schedule-release: gdb's next works, step-schedule says the walkthrough let go"
else
	echo "not ok - schedule-release: $(tail -n 4 "$tmp/out" | tr '\n' ' ')"
fi

# Once the program has ended, nothing is held: continue is gdb's own.
walk 2 broken -ex run-schedule -ex continue
if no_traceback && ! grep -q "refused" "$tmp/out" && grep -q "The program is not being run" "$tmp/out"; then
	echo "ok - after the walkthrough's end, continue is gdb's (not refused)"
else
	echo "not ok - after the end: $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
fi
