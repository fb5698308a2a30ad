#!/bin/sh
# test_screenshot.sh: scripts/screenshot.sh refuses bad input with one line
# and exit 2, before it needs Chromium (which only make report-screenshot
# installs). The screenshot itself is checked by hand: GUIDE.md says how.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

expect_fail 2 "screenshot: no arguments" sh scripts/screenshot.sh
expect_fail 2 "screenshot: a size that is not WIDTH,HEIGHT" sh scripts/screenshot.sh a.html b.png 800x600
expect_fail 2 "screenshot: no such report" sh scripts/screenshot.sh /nonexistent/report.html b.png
check "screenshot: --help" sh scripts/screenshot.sh --help
# The charts need gnuplot on every machine; Chromium stays an extra.
case " $(sh scripts/deps.sh --list) " in
*" gnuplot-nox "*) echo "ok - deps: gnuplot-nox is a package" ;;
*) echo "not ok - deps: gnuplot-nox missing from scripts/deps.sh" ;;
esac
case " $(sh scripts/deps.sh --list) " in
*" chromium "*) echo "not ok - deps: chromium must stay an extra" ;;
*) echo "ok - deps: chromium is not installed for every user" ;;
esac
