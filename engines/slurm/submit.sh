#!/bin/sh
# submit.sh: a sharded job on Slurm, an array of N tasks and the job that
# merges them once every task has ended with 0 (--dependency=afterok).
set -eu

usage() {
	cat <<'USAGE'
usage: engines/slurm/submit.sh check-rates N RESULTS [check-rates ARGS...]
       engines/slurm/submit.sh measure N RESULTS [check-rates ARGS...]
       engines/slurm/submit.sh grade-batch N SUBMISSIONS OUT [grade-batch ARGS...]

check-rates  racelab check-rates --shard I/N in an array of N tasks
             (check-rates.sbatch), each into RESULTS/shard-I/, then the
             merged verdict (merge-rates.sbatch): RESULTS/report.txt
measure      make measure in shards: the same array with the full profile
             (50 trials a cell, every tool and configuration) and no
             reruns, then new expected tables from the merged shards,
             each row's note saying when and how it was measured:
             RESULTS/expected-new/lab-N-<name>/expected.tsv, to review
             and copy over the labs' own
grade-batch  racelab grade-batch SUBMISSIONS --shard I/N in an array of N
             tasks (grade-batch.sbatch), each into OUT/shard-I/, then the
             merged grades (grade-merge.sbatch): OUT/grades.csv and
             OUT/summary.txt

Run it from anywhere: the jobs run in this racelab tree, which must be
built (make build) and on a file system the nodes share. sbatch's own
SBATCH_* variables (SBATCH_PARTITION, SBATCH_TIMELIMIT, ...) apply.
Prints the two job ids; exit status 0 submitted, 2 bad arguments or a
refused submission.
USAGE
}

die() {
	echo "submit.sh: error: $1" >&2
	exit 2
}

[ $# -ge 1 ] && case $1 in -h | --help) usage; exit 0 ;; esac
[ $# -ge 3 ] || die "want check-rates N RESULTS, measure N RESULTS or grade-batch N SUBMISSIONS OUT (try --help)"
kind=$1 n=$2
case $n in '' | *[!0-9]* | 0*) die "N must be a whole number of shards, at least 1, not '$n'" ;; esac
here=$(cd "$(dirname "$0")" && pwd)
tree=$(cd "$here/../.." && pwd)
absolute() { mkdir -p "$1" && (cd "$1" && pwd); }

case $kind in
check-rates | measure)
	merged=
	out=$(absolute "$3")
	shift 3
	if [ "$kind" = measure ]; then
		# Measuring, not checking: every trial counts once (no reruns of a
		# cell out of its old band); the merge writes the new tables.
		set -- --profile full --rerun 0 "$@"
		merged="$out/expected-new"
		[ ! -e "$merged" ] || die "$merged exists: measure into a new RESULTS folder"
	fi
	array=$(sbatch --parsable --chdir="$tree" --array="1-$n" \
		--output="$out/slurm-%x-%A_%a.out" "$here/check-rates.sbatch" "$out" "$@") ||
		die "sbatch refused the array"
	merge=$(sbatch --parsable --chdir="$tree" --dependency="afterok:${array%%;*}" \
		--output="$out/slurm-%x-%j.out" "$here/merge-rates.sbatch" "$out" \
		${merged:+--write-expected "$merged"}) ||
		die "sbatch refused the merge job"
	if [ "$kind" = measure ]; then
		echo "array ${array%%;*} (${n} shards), merge ${merge%%;*}: the new tables in $merged/"
	else
		echo "array ${array%%;*} (${n} shards), merge ${merge%%;*}: the verdict in $out/report.txt"
	fi
	;;
grade-batch)
	[ $# -ge 4 ] || die "grade-batch wants N SUBMISSIONS OUT"
	subs=$(cd "$3" 2>/dev/null && pwd) || die "no folder $3"
	out=$(absolute "$4")
	shift 4
	array=$(sbatch --parsable --chdir="$tree" --array="1-$n" \
		--output="$out/slurm-%x-%A_%a.out" "$here/grade-batch.sbatch" "$subs" "$out" "$@") ||
		die "sbatch refused the array"
	merge=$(sbatch --parsable --chdir="$tree" --dependency="afterok:${array%%;*}" \
		--output="$out/slurm-%x-%j.out" "$here/grade-merge.sbatch" "$out") ||
		die "sbatch refused the merge job"
	echo "array ${array%%;*} (${n} shards), merge ${merge%%;*}: the grades in $out/grades.csv"
	;;
*) die "unknown job '$kind': check-rates, measure or grade-batch (try --help)" ;;
esac
