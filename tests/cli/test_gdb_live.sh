#!/bin/sh
# test_gdb_live.sh: an instructor drives a walkthrough live. For every lab
# 1 to 9, tests/cli/gdb_live.py starts make gdb-lab-N's walkthrough in a
# pseudo-terminal and types, as a person would: rshow, step commands alone
# (step-thread / run-to) taking an interleaving that is not the script's,
# finish-all, then undo back to the branch point and the other branch. Each
# result must be the one expected (a symptom, or none and why); lab 2 also
# goes through the script's predict, leaves the script and saves a
# schedule that replays. Every lab's session is bounded (60 s to start,
# 30 s a command); it takes 1 to 7 s on an idle machine.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=${PYTHON:-python3}
for lab in 1 2 3 4 5 6 7 8 9; do
	for b in fixed broken-$lab; do
		if [ ! -x build/debug/$b/racelab-stress ]; then
			echo "not ok - lab $lab: build/debug/$b/racelab-stress is not built"
			continue 2
		fi
	done
	timeout 240 "$PYTHON" tests/cli/gdb_live.py --lab "$lab" ||
		[ $? != 124 ] || echo "not ok - lab $lab: the live session did not end within 240 s"
done
