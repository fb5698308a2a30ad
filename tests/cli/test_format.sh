#!/bin/sh
# test_format.sh: the C sources follow .clang-format (one check per file).
cd "$(dirname "$0")/../.." || exit 1
for f in include/*.h common/*.c common/*.h fixed/*.c broken/*.c stress/*.c stress/*.h tests/*.c labs/*/*.c bench/*.c bench/*.h service/*.c service/*.h loadgen/*.c loadgen/*.h packs/*/*.c; do
	if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "ok - clang-format: $f"
	else
		echo "not ok - clang-format: $f (run: make format)"
	fi
done
