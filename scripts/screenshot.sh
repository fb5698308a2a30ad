#!/bin/sh
# screenshot.sh: a PNG of the HTML report as headless Chromium renders it,
# to check that the page shows its table and its charts without a desktop.
#
# Chromium is not one of racelab's packages (it is large, and only this
# check needs it): make report-screenshot installs it on demand through
# RACELAB_DEPS_EXTRA=chromium scripts/deps.sh.
set -eu

usage() {
	cat <<'USAGE'
usage: scripts/screenshot.sh REPORT.html OUT.png [WIDTH,HEIGHT]

Renders REPORT.html in headless Chromium and writes OUT.png (default
window 1400,4000, enough for every lab of the first set). Needs the Debian package chromium.
USAGE
}

case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "screenshot.sh: error: give REPORT.html and OUT.png (try --help)" >&2
	exit 2
fi
page=$1 out=$2 size=${3:-1400,4000}
case "$size" in
*[!0-9,]* | ,* | *, | *,*,* | "") echo "screenshot.sh: error: size '$size' is not WIDTH,HEIGHT" >&2; exit 2 ;;
*,*) ;;
*) echo "screenshot.sh: error: size '$size' is not WIDTH,HEIGHT" >&2; exit 2 ;;
esac
[ -f "$page" ] || { echo "screenshot.sh: error: no report at $page (make report-html first)" >&2; exit 2; }
command -v chromium >/dev/null 2>&1 ||
	{ echo "screenshot.sh: error: chromium is not installed (as root: RACELAB_DEPS_EXTRA=chromium scripts/deps.sh)" >&2; exit 2; }
abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
case "$out" in /*) ;; *) out=$(pwd)/$out ;; esac
rm -f "$out"
# --no-sandbox: Chromium refuses to run as root with its sandbox, and this
# page is a local file racelab wrote. Its D-Bus complaints are noise here.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
	--window-size="$size" --screenshot="$out" "file://$abs" >"$log" 2>&1 || true
if [ ! -s "$out" ]; then
	echo "screenshot.sh: error: chromium wrote no screenshot ($(tail -n 1 "$log"))" >&2
	exit 1
fi
echo "wrote $out"
