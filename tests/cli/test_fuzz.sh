#!/bin/sh
# test_fuzz.sh: a 5-second smoke run of the request parser's fuzz target
# (the real run is `make fuzz`, 5 minutes), and its seed corpus replayed.
cd "$(dirname "$0")/../.." || exit 1
bin=build/fuzz/fuzz_request
if [ ! -x "$bin" ]; then
	echo "not ok - $bin is not built (run make build)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Every seed replayed once, then fuzzing from them; new inputs go to $tmp.
if timeout 60 "$bin" -runs=0 service/fuzz/corpus >"$tmp/replay" 2>&1; then
	echo "ok - fuzz_request: the $(ls service/fuzz/corpus | wc -l) seeds replay clean"
else
	echo "not ok - fuzz_request: a seed fails: $(tail -n 3 "$tmp/replay" | tr '\n' ' ')"
fi
mkdir "$tmp/corpus"
if timeout 60 "$bin" -max_total_time=5 -max_len=4200 -timeout=10 -artifact_prefix="$tmp/" \
	"$tmp/corpus" service/fuzz/corpus >"$tmp/log" 2>&1; then
	echo "ok - fuzz_request: 5 s, no crash ($(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$tmp/log") runs)"
else
	echo "not ok - fuzz_request: $(grep -m1 -E 'ERROR|SUMMARY|deadly' "$tmp/log")"
fi
