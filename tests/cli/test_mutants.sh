#!/bin/sh
# test_mutants.sh: every entry of grading's catalogue (each lab's
# labs/lab-N-<name>/mutants/) is a module a student could hand in: it
# compiles -Wall -Wextra clean with gcc and clang, and follows
# .clang-format. Whether grading judges it right is
# scripts/grade_selftest.py's question (make grade-selftest).
cd "$(dirname "$0")/../.." || exit 1
for f in labs/lab-*/mutants/*.c; do
	for cc in gcc clang; do
		if $cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude -Icommon \
			-pthread -fsyntax-only "$f" 2>/dev/null; then
			echo "ok - $cc -Wall -Wextra: $f"
		else
			echo "not ok - $cc -Wall -Wextra: $f"
		fi
	done
	if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "ok - clang-format: $f"
	else
		echo "not ok - clang-format: $f"
	fi
done
