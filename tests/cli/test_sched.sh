#!/bin/sh
# test_sched.sh: the sched flavour (common/racesched.c) on real labs, with
# fixed seeds: the symptom shows, the same seed gives the same trace, and
# replaying that trace gives the same record; bad options are refused.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
S=build/sched
SEED=1000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The schedule part of a record and the outcome, on one line.
summary() {
	grep -o '"invariants":.*' "$1" | head -n 1
}
trace_of() {
	sed -n 's/.*"trace":"\([^"]*\)".*/\1/p' "$1" | head -n 1
}

# run NAME EXIT LAB VARIANT ARGS...: one trial; its exit must be EXIT.
run() {
	name=$1 want=$2 lab=$3 variant=$4
	shift 4
	$S/$variant/racelab-stress --lab "$lab" --profile sched --seed $SEED --quiet "$@" \
		>"$tmp/$name" 2>"$tmp/$name.err"
	rc=$?
	if [ "$rc" = "$want" ]; then echo "ok - $name: exit $rc"; else
		echo "not ok - $name: exit $rc (want $want): $(head -c 300 "$tmp/$name.err")"; fi
}

# Lab 2's lost update (exit 1) and lab 7's lost wakeup (exit 1); the
# fixed builds clean; lab 4's lock-order deadlock found by the scheduler
# (exit 3, detail "deadlock"), not waited out by the watchdog.
for lab in 2 7; do
	run "lab $lab broken" 1 $lab broken-$lab
	cp "$tmp/lab $lab broken" "$tmp/first"
	run "lab $lab broken again" 1 $lab broken-$lab
	if [ "$(summary "$tmp/first")" = "$(summary "$tmp/lab $lab broken again")" ]; then
		echo "ok - lab $lab: the same seed gives the same trace and invariants"
	else
		echo "not ok - lab $lab: the same seed gave another run"
	fi
	trace_of "$tmp/first" >"$tmp/trace"
	run "lab $lab replay" 1 $lab broken-$lab --sched "replay:@$tmp/trace"
	if [ "$(summary "$tmp/first" | sed 's/"strategy":"[^"]*"//')" = \
		"$(summary "$tmp/lab $lab replay" | sed 's/"strategy":"[^"]*"//')" ]; then
		echo "ok - lab $lab: the replayed trace gives the same record"
	else
		echo "not ok - lab $lab: the replay differs"
	fi
	run "lab $lab fixed" 0 $lab fixed
done
run "lab 4 broken" 3 4 broken-4
grep -q '"detail":"deadlock"' "$tmp/lab 4 broken" && echo "ok - lab 4: a deadlock record" ||
	echo "not ok - lab 4: no deadlock in the record"

# A schedule the run cannot follow, and bad options.
expect_fail 2 "replay of a thread that is not there" $S/broken-2/racelab-stress --lab 2 \
	--profile sched --quiet --sched replay:C
expect_fail 2 "an unknown strategy" $S/fixed/racelab-stress --lab 2 --sched fair
expect_fail 2 "pct:0" $S/fixed/racelab-stress --lab 2 --sched pct:0
expect_fail 2 "--sched on another flavour" build/release/fixed/racelab-stress --lab 2 \
	--sched random
expect_fail 2 "--sched-log on another flavour" build/release/fixed/racelab-stress --lab 2 \
	--sched-log "$tmp/log"

# The log: one line per step, as many as the record's steps.
$S/broken-2/racelab-stress --lab 2 --profile sched --seed $SEED --quiet \
	--sched-log "$tmp/log" >"$tmp/logged" 2>/dev/null
steps=$(sed -n 's/.*"steps":\([0-9]*\).*/\1/p' "$tmp/logged")
lines=$(grep -vc '^#' "$tmp/log")
if [ -n "$steps" ] && [ "$steps" = "$lines" ]; then echo "ok - --sched-log: $lines lines, one a step"; else
	echo "not ok - --sched-log: $lines lines for $steps steps"; fi
