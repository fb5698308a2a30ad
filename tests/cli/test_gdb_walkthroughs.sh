#!/bin/sh
# test_gdb_walkthroughs.sh: every lab's forced interleaving in gdb, in batch
# (what make demo-lab-N runs), on the debug builds. Each transcript must end
# with the symptom on the broken build and without it on the fixed build;
# the result line is read from the transcript, not from the exit status.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
W="timeout 60 python3 scripts/gdb_walkthrough.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# result_of FILE: a transcript's result line (empty when none).
result_of() {
	sed -n 's/^racesched: result: //p' "$1" | tail -n 1
}

# result LAB BUILD: the transcript's result line (empty when none); the
# transcript is left in $tmp/out.
result() {
	cp "$tmp/$1-$2" "$tmp/out"
	sed -n 's/^racesched: result: //p' "$tmp/out" | tail -n 1
}

for sched in labs/lab-*/walkthrough.sched; do
	lab=$(echo "$sched" | sed 's|labs/lab-\([0-9]*\)-.*|\1|')
	# Both builds at once: two gdb sessions, one per core.
	$W --lab "$lab" --build broken >"$tmp/$lab-broken" 2>&1 &
	$W --lab "$lab" --build fixed >"$tmp/$lab-fixed" 2>&1
	wait
	r=$(result "$lab" broken)
	if grep -q '^symptom none' "$sched"; then
		# No interleaving shows this lab's bug here (lab 8 on x86): the
		# walkthrough must end clean on both builds, and show the code.
		case "$r" in
		"no symptom"*)
			if grep -q "^Dump of assembler code" "$tmp/out"; then
				echo "ok - lab $lab broken: no schedule shows it; the generated code is shown: $r"
			else
				echo "not ok - lab $lab broken: no disassembly in the transcript"
			fi ;;
		*) echo "not ok - lab $lab broken: '$r': $(tail -n 5 "$tmp/out" | tr '\n' ' ')" ;;
		esac
	else
		case "$r" in
		SYMPTOM*) echo "ok - lab $lab broken: $r" ;;
		*) echo "not ok - lab $lab broken: no symptom in the transcript ('$r'): $(tail -n 5 "$tmp/out" | tr '\n' ' ')" ;;
		esac
	fi
	r=$(result "$lab" fixed)
	case "$r" in
	"no symptom"*) echo "ok - lab $lab fixed: $r" ;;
	*) echo "not ok - lab $lab fixed: '$r': $(tail -n 5 "$tmp/out" | tr '\n' ' ')" ;;
	esac
done

# A schedule that cannot be followed ends with one clear line, never hangs:
# lab 2's A is asked for its race point a second time, and has one add.
awk '/^step B to end$/ && !done { print "step A to ledger.add.window"; done = 1; next } { print }' \
	labs/lab-2-ledger/walkthrough.sched >"$tmp/bad.sched"
$W --lab 2 --build broken --schedule "$tmp/bad.sched" >"$tmp/out" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q '^racesched: result: ERROR .*bad.sched:[0-9]*: A finished its work without reaching ledger.add.window' "$tmp/out"; then
	echo "ok - a point never reached: one ERROR line, exit 1"
else
	echo "not ok - a point never reached: exit $rc, $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
fi

# A schedule that does not fit its lab or this build is refused before the
# program runs its work: one line naming the file and line, exit 2, no
# transcript. The race point and the thread letter are checked before gdb
# starts (tests/scripts/test_schedule.py has one test per kind); the state
# expressions by the driver in gdb, against the build, at the first stop.
bad_state() { # bad_state WHAT LINE: lab 2's schedule with LINE as a state line
	{ sed -n '1,/^state/p' labs/lab-2-ledger/walkthrough.sched | sed '$d'; echo "$2"
	  sed -n '/^state/,$p' labs/lab-2-ledger/walkthrough.sched; } >"$tmp/$1.sched"
	n=$(grep -n -F -x "$2" "$tmp/$1.sched" | cut -d: -f1)
}
for build in broken fixed; do
	bad_state member "state a typo | main lab2_round | l->totl[0]"
	expect_fail 2 "a state expression with no such member ($build): refused before the work" \
		$W --lab 2 --build $build --schedule "$tmp/member.sched"
	$W --lab 2 --build $build --schedule "$tmp/member.sched" 2>&1 |
		grep -q "^gdb_walkthrough.py: error: .*member.sched:$n: state 'l->totl\[0\]' in lab2_round: There is no member named totl\.$" &&
		echo "ok - ... the error names member.sched:$n and gdb's reason" ||
		echo "not ok - ... the error does not name member.sched:$n"
	bad_state local "state a typo | A ledger_add | cnts"
	$W --lab 2 --build $build --schedule "$tmp/local.sched" >"$tmp/out" 2>&1
	rc=$?
	if [ $rc = 2 ] && [ "$(wc -l <"$tmp/out")" = 1 ] &&
		grep -q "^gdb_walkthrough.py: error: .*local.sched:$n: state 'cnts': no 'cnts' in ledger_add" "$tmp/out"; then
		echo "ok - a worker's state expression reading no such name ($build): $(cat "$tmp/out")"
	else
		echo "not ok - a worker's state expression reading no such name ($build): exit $rc, $(head -c 300 "$tmp/out")"
	fi
	bad_state func "state a typo | A ledger_ad | cents"
	$W --lab 2 --build $build --schedule "$tmp/func.sched" >"$tmp/out" 2>&1
	rc=$?
	if [ $rc = 2 ] && grep -q "^gdb_walkthrough.py: error: .*func.sched:$n: state reads from ledger_ad, and this build has no function ledger_ad$" "$tmp/out"; then
		echo "ok - a state line's function not in the build ($build)"
	else
		echo "not ok - a state line's function not in the build ($build): exit $rc, $(head -c 300 "$tmp/out")"
	fi
done
# In gdb itself the schedule error comes before the workers are parked;
# make gdb-lab-N's racelab-load --quit-on-error ends gdb with status 1.
timeout 60 gdb -q -nx -batch -iex "set debug-file-directory" -x scripts/gdb/racesched.py \
	-ex "racelab-load --quit-on-error $tmp/member.sched build/debug/broken-2/racelab-stress" \
	-ex "echo not quit\n" >"$tmp/out" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q '^racesched: schedule error: .*member.sched' "$tmp/out" &&
	! grep -q 'workers parked\|not quit' "$tmp/out"; then
	echo "ok - in gdb: the schedule error before any worker runs, gdb quits with status 1"
else
	echo "not ok - in gdb: exit $rc, $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
fi
# A name only the other twin has (lab 2's t, which the fixed ledger has no
# need for) is no error: the fixed build shows it as n/a.
$W --lab 2 --build fixed >"$tmp/out" 2>&1
if grep -q "what A read (t) .*n/a (not in this build)" "$tmp/out" && [ "$(result_of "$tmp/out")" != "" ]; then
	echo "ok - a name only the broken twin has: n/a on the fixed build, the walkthrough runs"
else
	echo "not ok - a name only the broken twin has: $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
fi

printf 'args --lab 2\nstep A to\n' >"$tmp/syntax.sched"
$W --lab 2 --build broken --schedule "$tmp/syntax.sched" >"$tmp/out" 2>&1
if grep -q "^gdb_walkthrough.py: error: .*syntax.sched:2: step takes THREAD to POINT" "$tmp/out"; then
	echo "ok - a malformed schedule: the file and line named"
else
	echo "not ok - a malformed schedule: $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
fi

expect_fail 2 "gdb_walkthrough: no such lab" python3 scripts/gdb_walkthrough.py --lab 99
expect_fail 2 "gdb_walkthrough: bad --taskset" python3 scripts/gdb_walkthrough.py --lab 2 --taskset x
expect_fail 2 "gdb_walkthrough: --lab missing" python3 scripts/gdb_walkthrough.py
expect_fail 2 "gdb_walkthrough: missing program" python3 scripts/gdb_walkthrough.py --lab 2 --build broken --program /nonexistent
check "gdb_walkthrough: --help" python3 scripts/gdb_walkthrough.py --help

# Stop points are race-point names: a copy of the sources with lines added
# above the race in both ledger twins still follows lab 2's schedule.
mkdir "$tmp/src"
cp -r Makefile mk include common stress broken fixed labs scripts "$tmp/src/"
for f in "$tmp/src/broken/ledger.c" "$tmp/src/fixed/ledger.c"; do
	awk '/^bool ledger_add/ { for (i = 0; i < 7; i++) print "" } { print }' "$f" >"$f.new" &&
		mv "$f.new" "$f"
done
if ! make -s -C "$tmp/src" build/debug/broken-2/racelab-stress >"$tmp/make" 2>&1; then
	echo "not ok - shifted lines: the copy did not build: $(tail -n 3 "$tmp/make" | tr '\n' ' ')"
else
	before=$(grep -n 'ledger.add.window' broken/ledger.c | sed -n 2p | cut -d: -f1)
	after=$(grep -n 'ledger.add.window' "$tmp/src/broken/ledger.c" | sed -n 2p | cut -d: -f1)
	$W --lab 2 --build broken --program "$tmp/src/build/debug/broken-2/racelab-stress" >"$tmp/out" 2>&1
	if [ "$before" != "$after" ] && grep -q '^racesched: result: SYMPTOM lost_cents=' "$tmp/out"; then
		echo "ok - shifted lines (race point at line $before, now $after): the schedule still shows the lost update"
	else
		echo "not ok - shifted lines ($before -> $after): $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
	fi
fi
