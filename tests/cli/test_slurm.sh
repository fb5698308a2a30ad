#!/bin/sh
# test_slurm.sh: the Slurm job scripts (engines/slurm/) on a single-node
# Slurm this test starts itself (engines/slurm/local.sh: munged,
# slurmctld, slurmd on this machine, in a temporary folder). A job array of
# 4 shards of a small rate check (lab 1, the stress driver, its two
# configurations, 5 trials a cell) and the merge job after it
# (afterok): the merged verdict must pass, with every shard's records in
# it; then batch grading of three submissions in 2 shares and its merge.
# Starting daemons needs root: as anyone else this test says so in one
# line and checks nothing (CI runs as root). About a minute.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

if [ "$(id -u)" != 0 ]; then
	echo "ok - slurm: skipped: starting slurmctld and slurmd needs root (CI runs the test as root)"
	exit 0
fi
if ! RACELAB_DEPS_EXTRA="slurm-wlm munge" sh scripts/deps.sh; then
	echo "not ok - slurm: slurm-wlm and munge could not be installed"
	exit 0
fi
PATH=$PATH:/usr/sbin
tmp=$(mktemp -d)
cluster=$tmp/slurm
cleanup() {
	sh engines/slurm/local.sh stop "$cluster"
	rm -rf "$tmp"
}
trap cleanup EXIT

check "slurm: submit.sh --help" sh engines/slurm/submit.sh --help
expect_fail 2 "slurm: submit.sh refuses a shard count that is not a number" \
	sh engines/slurm/submit.sh check-rates four "$tmp/x"
expect_fail 2 "slurm: local.sh refuses an unknown command" sh engines/slurm/local.sh begin "$tmp/y"

if ! sh engines/slurm/local.sh start "$cluster" >"$tmp/start.log" 2>&1; then
	echo "not ok - slurm: a single-node Slurm did not start: $(tail -n 1 "$tmp/start.log")"
	exit 0
fi
echo "ok - slurm: a single-node Slurm started (munged, slurmctld, slurmd)"
export SLURM_CONF="$cluster/slurm.conf"

# wait_for JOB SECONDS: until the job has ended; prints its state and exit code.
wait_for() {
	i=0
	while [ $i -lt "$2" ]; do
		line=$(scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*\|ExitCode=[0-9:]*' | tr '\n' ' ')
		case $line in
		*JobState=COMPLETED* | *JobState=FAILED* | *JobState=CANCELLED* | *JobState=TIMEOUT*)
			echo "$line"
			return 0
			;;
		esac
		sleep 1
		i=$((i + 1))
	done
	echo "still running after $2 s: $line"
}

rates=$tmp/rates
out=$(sh engines/slurm/submit.sh check-rates 4 "$rates" --lab 1 --tool stress --all-configs \
	--trials 5 --rerun 0 2>&1)
merge=$(echo "$out" | sed -n 's/.*merge \([0-9]*\):.*/\1/p')
if [ -z "$merge" ]; then
	echo "not ok - slurm: check-rates was not submitted: $out"
	exit 0
fi
echo "ok - slurm: a 4-shard array and its merge job submitted ($out)"
deps=$(scontrol show job "$merge" | grep -o 'Dependency=[^ ]*')
case $deps in
*afterok:*) echo "ok - slurm: the merge waits for the array ($deps)" ;;
*) echo "not ok - slurm: the merge job does not wait for the array: '$deps'" ;;
esac
state=$(wait_for "$merge" 150)
case $state in
*COMPLETED*ExitCode=0:0*) echo "ok - slurm: the merged verdict passes ($(tail -n 1 "$rates/report.txt"))" ;;
*) echo "not ok - slurm: the merge job ended $state: $(tail -n 3 "$rates/report.txt" "$rates"/slurm-*.out 2>/dev/null | tail -n 20)" ;;
esac
shards=$(ls -d "$rates"/shard-*/ 2>/dev/null | wc -l)
tasks=$(grep -l '"count":4' "$rates"/shard-*/*.jsonl 2>/dev/null | wc -l)
if [ "$shards" = 4 ] && [ "$tasks" -ge 4 ] && grep -q '^4 cells: 4 ok' "$rates/report.txt"; then
	echo "ok - slurm: 4 shard folders, records carrying their shard, 4 cells merged"
else
	echo "not ok - slurm: $shards shard folders, $tasks files of shard records; $(tail -n 1 "$rates/report.txt")"
fi

# make measure in shards: the array with the full profile (cut to 3 trials
# a cell here), and the merge writes new tables whose notes say which
# shard measured each row.
meas=$tmp/measure
out=$(sh engines/slurm/submit.sh measure 2 "$meas" --lab 1 --tool stress --trials 3 2>&1)
merge=$(echo "$out" | sed -n 's/.*merge \([0-9]*\):.*/\1/p')
state=$([ -n "$merge" ] && wait_for "$merge" 150)
table=$meas/expected-new/lab-1-cache/expected.tsv
case $state in
*COMPLETED*ExitCode=0:0*)
	rows=$(tail -n +2 "$table" | wc -l)
	noted=$(grep -c 'measured [0-9-]* (shard [12] of 2 of a sharded run), seeds .*, load average [0-9]' "$table")
	if [ "$rows" -ge 2 ] && [ "$noted" = "$rows" ]; then
		echo "ok - slurm: measure in 2 shards wrote lab 1's table, every row's note naming its shard ($rows rows)"
	else
		echo "not ok - slurm: measure wrote $rows rows, $noted noted with their shard: $(cut -f1-4,10 "$table" 2>&1 | head -n 3)"
	fi
	;;
*) echo "not ok - slurm: measure's merge ended '$state' ($out): $(tail -n 5 "$meas"/slurm-*.out 2>/dev/null)" ;;
esac
if sh engines/slurm/submit.sh measure 2 "$meas" --lab 1 >/dev/null 2>"$tmp/again.err"; then
	echo "not ok - slurm: measure into a folder that has new tables was submitted"
else
	echo "ok - slurm: measure refuses a folder that has new tables ($(cat "$tmp/again.err"))"
fi

# Batch grading over the array: three submissions of lab 10 in 2 shares
# (a wrong fix, one with no module, one editing outside its module), then
# the merged grades.
subs=$tmp/subs
mkdir -p "$subs/wrong" "$subs/nomodule" "$subs/outside/broken"
cp labs/lab-10-claim/mutants/wrong-relaxed.c "$subs/wrong/claim.c"
echo "my notes" >"$subs/nomodule/notes.txt"
cp broken/claim.c "$subs/outside/claim.c"
{ cat broken/claim.c; echo "/* mine now */"; } >"$subs/outside/broken/claim.c"
grades=$tmp/grades
out=$(sh engines/slurm/submit.sh grade-batch 2 "$subs" "$grades" --lab 10 2>&1)
merge=$(echo "$out" | sed -n 's/.*merge \([0-9]*\):.*/\1/p')
if [ -z "$merge" ]; then
	echo "not ok - slurm: grade-batch was not submitted: $out"
	exit 0
fi
state=$(wait_for "$merge" 150)
case $state in
*COMPLETED*ExitCode=0:0*) echo "ok - slurm: grading in 2 shares and the merge job ended well" ;;
*) echo "not ok - slurm: the grades' merge ended $state: $(tail -n 20 "$grades"/slurm-*.out 2>/dev/null)" ;;
esac
rows=$(tail -n +2 "$grades/grades.csv" 2>/dev/null | cut -d, -f1,3,6,7 | tr '\n' ' ')
case $rows in
"nomodule,not graded,-,- outside,not graded,-,- wrong,graded,pass,FAIL ")
	echo "ok - slurm: the merged grades.csv has each submission's verdict ($rows)" ;;
*) echo "not ok - slurm: the merged grades: '$rows'" ;;
esac
