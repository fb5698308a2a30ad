"""racelab: run trials under race detectors, parse their reports, judge rates.

The package is shared by scripts/trials.py (runs trials, writes records) and
scripts/report.py (reads records and expected tables, prints the verdict).
Python 3 standard library only, so a student's machine needs nothing extra.

Modules, in the order data flows through them:
  scenario  finds labs/lab-N-*/ and reads its scenario.conf
  tools     what each tool (stress, tsan-clang, tsan-gcc, helgrind, drd) runs
  frames    stack frames: repo-relative files, the program's own access site
  tsan      ThreadSanitizer text (clang and gcc dialects) -> findings
  valgrind  Helgrind/DRD XML -> findings, and whether Valgrind itself failed
  match     is a finding at the lab's declared race site? which race point?
  trial     one run of one trial -> one trial record
  records   the trial record schema, reading and appending .jsonl files
  stats     Wilson intervals and the interval-meets-band rule
  expected  the expected tables, labs/lab-N-*/expected.tsv
  cli       one-line errors and exit codes shared by the command-line tools
"""
