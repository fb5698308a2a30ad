# The HTML report, the CSV export and the screenshot check (included by
# the Makefile). The page and the CSV go next to the records they are made
# from; check_rates.py writes them into its own results folder too.

.PHONY: report-html report-screenshot

report-html: ## report.html (matrix, charts by gnuplot, cost) and trials.csv of every record under results/
	@scripts/deps.sh
	@$(PYTHON) scripts/report.py --results results --html results --csv results/trials.csv

# Chromium is only for this check, not for every user: installed here on
# demand (RACELAB_DEPS_EXTRA), never by make build.
report-screenshot: report-html ## results/report.png: the HTML report as headless Chromium shows it (installs chromium)
	@RACELAB_DEPS_EXTRA=chromium scripts/deps.sh
	@scripts/screenshot.sh results/report.html results/report.png
