# racelab: a race-condition reproduction and teaching lab.
#
# Builds are out of tree: build/<flavour>/<variant>/racelab-stress.
#   flavours  release (-O2 -g), debug (-O0 -g, race points call into
#             racepoint_hit for gdb; the build Valgrind runs), tsan-clang,
#             tsan-gcc (ThreadSanitizer from each compiler), chaos (release
#             with delays injected at the race points: common/chaos.c),
#             sched (-O1 -g, the threads of a trial run one at a time and
#             switch where racelab's scheduler says: common/racesched.c)
#   variants  fixed, and broken-N: the fixed build with lab N's module(s)
#             swapped for the broken twin (principle 1 of ARCHITECTURE.md); and
#             student-N, built on demand by grading (mk/grade.mk)
# `make help` lists the targets.

SHELL := /bin/sh
.DEFAULT_GOAL := all
PYTHON ?= python3

# The labs: every labs/lab-N-<name>/scenario.conf is a lab's manifest (its
# modules, what its unit tests link), and build/gen/labs.mk is made from
# them: LABS, LAB_DIR_N, LAB_MODULES_N, LAB_WORKLOAD_N (the lab folder's
# workload.c), and per module UNIT_TEST_<module> (the lab folder's
# test_<module>.c), TEST_DEPS_<module>; and SERVICE_LABS, the service labs
# (kind = service: no stress driver), with their LAB_DIR_N, LAB_MODULES_N.
# The same command writes build/gen/walkthroughs.mk (make help's gdb and
# demo lines, from the manifests and the walkthroughs) and
# build/gen/stress_labs.c (the stress driver's registry of labs).
# scripts/racelab/labs.py says what each key means; GUIDE.md "Adding a lab".
GEN := build/gen
LAB_MANIFESTS := $(wildcard labs/lab-*/scenario.conf)
# Python runs before anything is built: on a machine without it, deps first.
$(GEN)/labs.mk $(GEN)/walkthroughs.mk &: $(LAB_MANIFESTS) labs \
		$(wildcard labs/lab-*/walkthrough.sched) scripts/labs.py scripts/racelab/labs.py \
		scripts/racelab/scenario.py $(if $(wildcard $(GEN)/stress_labs.c),,FORCE) | \
		$(if $(shell command -v $(PYTHON)),,deps)
	@$(PYTHON) scripts/labs.py generate $(GEN)
# Written with the makefiles, and only when it changes.
$(GEN)/stress_labs.c: $(GEN)/labs.mk ;
include $(GEN)/labs.mk
MODULES := $(sort $(foreach l,$(LABS),$(LAB_MODULES_$(l))))

FLAVOURS := release debug tsan-clang tsan-gcc chaos sched
VARIANTS := fixed $(foreach l,$(LABS),broken-$(l))

# -ffile-prefix-map makes every path in debug info and sanitizer reports
# repo-relative (broken/cache.c), so reports, fixtures and docs match on
# any machine.
WARN := -Wall -Wextra
BASE := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -Iinclude -Icommon -Istress \
        -ffile-prefix-map=$(CURDIR)/= -ffile-prefix-map=$(CURDIR)=. -pthread
CC_release    := gcc
CFLAGS_release := -O2 -g
CC_debug      := gcc
CFLAGS_debug  := -O0 -g -DRACELAB_RACEPOINTS
CC_tsan-clang := clang
CFLAGS_tsan-clang := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
CC_chaos      := gcc
CFLAGS_chaos  := -O2 -g -DRACELAB_CHAOS
CC_tsan-gcc   := gcc
CFLAGS_tsan-gcc := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
# The sched flavour wraps, at link time, every synchronisation call the
# modules, the workloads and the driver make (nm of the objects: nothing
# else is called), so that broken/ and fixed/ compile unchanged and each
# call is a scheduling point (common/racesched.c). pthread_cond_init and
# pthread_barrier_init are wrapped only to learn a condition's clock and a
# barrier's count. Not wrapped: the *_init/_destroy calls, time() (the
# driver's gdb timeout) and timer_settime (lab 7's contract timer, which
# this flavour does not start).
CC_sched      := gcc
CFLAGS_sched  := -O1 -g -DRACELAB_SCHED
SCHED_WRAP := pthread_mutex_lock pthread_mutex_unlock \
              pthread_rwlock_rdlock pthread_rwlock_wrlock pthread_rwlock_unlock \
              pthread_cond_init pthread_cond_wait pthread_cond_timedwait \
              pthread_cond_signal pthread_cond_broadcast pthread_barrier_init \
              pthread_barrier_wait pthread_create pthread_join sched_yield nanosleep \
              clock_gettime
LDFLAGS_sched := $(foreach f,$(SCHED_WRAP),-Wl,--wrap=$(f))
LIBS := -lnuma

COMMON_SRC := $(wildcard common/*.c) stress/main.c stress/threads.c stress/stacks.c \
              $(GEN)/stress_labs.c $(foreach l,$(LABS),$(LAB_WORKLOAD_$(l)))
HEADERS := $(wildcard include/*.h common/*.h stress/*.h)

# The module sources of a variant: broken-N takes lab N's broken modules,
# student-N the student's copies of them in $(WORK)/lab-N/ (mk/grade.mk).
# WORK is work/ but for grading's self-test, which grades each lab's
# catalogue (labs/lab-N-*/mutants/) from a folder of its own
# (scripts/grade_selftest.py).
WORK ?= work
module_src = $(foreach m,$(MODULES),$(call module_dir,$(m),$(1))/$(m).c)
module_dir = $(if $(filter $(1),$(LAB_MODULES_$(patsubst broken-%,%,$(2)))),broken,$(if \
             $(filter $(1),$(LAB_MODULES_$(patsubst student-%,%,$(2)))),$(WORK)/lab-$(patsubst student-%,%,$(2)),fixed))

BINS := $(foreach f,$(FLAVOURS),$(foreach v,$(VARIANTS),build/$(f)/$(v)/racelab-stress))
RUSAGE_BIN := build/bin/racelab-rusage

.PHONY: all help deps build test-bins test check-rates measure report format clean \
        $(foreach l,$(LABS),lab-$(l)) \
        $(FLAVOURS) fixed $(foreach l,$(LABS),broken-$(l))

all: build ## the default: the same as build

help: ## list the targets
	@echo "racelab targets:"
	@grep -hE '^[a-z][a-zA-Z0-9_-]*:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | \
	  awk -F'\t' '{ printf "  %-22s %s\n", $$1, $$2 }'
	@$(foreach l,$(LABS),printf "  %-22s %s\n" lab-$(l) "lab $(l): the symptom, the detectors' reports, the fixed build, the rates (about a minute)";)
	$(HELP_MORE)
	$(HELP_ANSWER)
	$(HELP_SCHED)
	@$(foreach f,$(FLAVOURS),printf "  %-22s %s\n" $(f) "build the $(f) flavour of every variant";)
	@$(foreach l,$(LABS),printf "  %-22s %s\n" broken-$(l) "every flavour of lab $(l)'s broken build";)
	@printf "  %-22s %s\n" "build/F/V/racelab-stress" "one flavour F of one variant V ($(VARIANTS))"
	@echo "Variables: PYTHON=python3"

# Installs missing Debian packages as root; otherwise names the apt-get line
# and stops the build with exit 2. Cheap enough to run on every build.
deps: ## install (as root) or name the missing Debian packages
	@scripts/deps.sh

build: $(BINS) test-bins $(RUSAGE_BIN) ## build every flavour of every variant, and the CMocka suites

# The launcher every trial runs through, so that a trial's peak memory is
# its own and not the runner's (stress/rusage_exec.c says why).
$(RUSAGE_BIN): stress/rusage_exec.c Makefile
	@mkdir -p $(@D)
	gcc $(BASE) -O2 -o $@ stress/rusage_exec.c

$(FLAVOURS): %: $(foreach v,$(VARIANTS),build/%/$(v)/racelab-stress)

fixed: $(foreach f,$(FLAVOURS),build/$(f)/fixed/racelab-stress) ## every flavour of the fixed build
$(foreach l,$(LABS),broken-$(l)): broken-%: $(foreach f,$(FLAVOURS),build/$(f)/broken-%/racelab-stress)

define BIN_RULE
build/$(1)/$(2)/racelab-stress: $$(COMMON_SRC) $$(call module_src,$(2)) $$(HEADERS) Makefile | deps $$(RUSAGE_BIN)
	@mkdir -p $$(@D)
	$$(CC_$(1)) $$(BASE) $$(CFLAGS_$(1)) -DRACELAB_VARIANT='"$(2)"' -DRACELAB_FLAVOUR='"$(1)"' \
	  -o $$@ $$(COMMON_SRC) $$(call module_src,$(2)) $$(LDFLAGS_$(1)) $$(LIBS)
endef
$(foreach f,$(FLAVOURS),$(foreach v,$(VARIANTS),$(eval $(call BIN_RULE,$(f),$(v)))))

# --- unit tests (CMocka) ---------------------------------------------------
TEST_CFLAGS := $(BASE) -O0 -g
TEST_BINS := build/tests/test_topo build/tests/test_scenario build/tests/test_cache_check \
             build/tests/test_racesched \
             $(foreach m,$(MODULES),build/tests/test_$(m)_fixed build/tests/test_$(m)_broken)

test-bins: $(TEST_BINS) ## build the CMocka suites

build/tests/test_topo: tests/test_topo.c common/topo.c $(HEADERS) | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -o $@ tests/test_topo.c common/topo.c -lcmocka -lnuma

# The sched flavour's scheduler, compiled and wrapped as in build/sched/.
build/tests/test_racesched: tests/test_racesched.c common/racesched.c $(HEADERS) Makefile | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -DRACELAB_SCHED -o $@ tests/test_racesched.c common/racesched.c \
	  $(LDFLAGS_sched) -lcmocka

build/tests/test_scenario: tests/test_scenario.c common/scenario.c $(HEADERS) | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -o $@ tests/test_scenario.c common/scenario.c -lcmocka

# One test source per module, linked against each build's module: the
# single-threaded semantics must hold for both; the concurrent tests run
# only against the fixed module (-D<MODULE>_THREAD_SAFE).
define MODULE_TEST_RULE
build/tests/test_$(1)_fixed: $$(UNIT_TEST_$(1)) fixed/$(1).c $$(TEST_DEPS_$(1)) $$(HEADERS) Makefile | deps
	@mkdir -p $$(@D)
	gcc $$(TEST_CFLAGS) -D$(shell echo $(1) | tr a-z A-Z)_THREAD_SAFE -o $$@ $$(UNIT_TEST_$(1)) \
	  fixed/$(1).c $$(TEST_DEPS_$(1)) -lcmocka

build/tests/test_$(1)_broken: $$(UNIT_TEST_$(1)) broken/$(1).c $$(TEST_DEPS_$(1)) $$(HEADERS) Makefile | deps
	@mkdir -p $$(@D)
	gcc $$(TEST_CFLAGS) -o $$@ $$(UNIT_TEST_$(1)) broken/$(1).c $$(TEST_DEPS_$(1)) -lcmocka
endef
$(foreach m,$(MODULES),$(eval $(call MODULE_TEST_RULE,$(m))))

# cache_check() on a map damaged by hand: the test includes fixed/cache.c.
build/tests/test_cache_check: tests/test_cache_check.c fixed/cache.c $(HEADERS) Makefile | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -o $@ tests/test_cache_check.c -lcmocka

test: build ## run every test (CMocka, command-line, scripts, the quick rate check of every lab); ends with "N passed, N failed"
	@tests/run.sh

# The fast loop while editing: the unit tests alone, without the
# command-line tests, the rate check and grading's self-test (README.md
# says how long each takes).
.PHONY: check
check: test-bins $(RUSAGE_BIN) ## the CMocka suites, the scripts' tests and check-docs alone (the fast loop); ends with "N passed, N failed"
	@tests/run.sh --check

# --- labs, rates and reports --------------------------------------------------
# lab-N builds only what lab N needs (in parallel), then walks through it.
# The flavours `make lab-N` runs (scripts/lab.py): not the chaos build.
# On one CPU lab.py shows the symptom through racelab's scheduler: the
# sched flavour, when the Makefile has it.
LAB_FLAVOURS := release debug tsan-clang tsan-gcc $(filter sched,$(FLAVOURS))
define LAB_RULE
lab-$(1): # lab $(1): the symptom, the detectors' reports, the fixed build, the rates (about a minute)
	@$$(MAKE) -s -j2 $$(foreach f,$$(LAB_FLAVOURS),build/$$(f)/fixed/racelab-stress build/$$(f)/broken-$(1)/racelab-stress)
	@$$(PYTHON) scripts/lab.py $(1)
endef
$(foreach l,$(LABS),$(eval $(call LAB_RULE,$(l))))

# A service lab (SERVICE_LABS: replicas of racelab-service over one
# database) has no stress build, walkthrough, exploration or grading: each
# of those targets says so in one line. Its lab-N is mk/service.mk's.
SERVICE_LAB_REFUSED := broken gdb-lab demo-lab explore-lab grade start reset
define SERVICE_LAB_RULE
.PHONY: $(foreach t,$(SERVICE_LAB_REFUSED),$(t)-$(1))
$(foreach t,$(SERVICE_LAB_REFUSED),$(t)-$(1)):
	@echo "racelab: lab $(1) is a service lab (service processes sharing a database, not the stress driver): make lab-$(1) runs it" >&2; exit 2
endef
$(foreach l,$(SERVICE_LABS),$(eval $(call SERVICE_LAB_RULE,$(l))))

# SHARD=I/N measures the I-th of N shares of the cells (RESULTS=DIR: where
# its records go); report.py --check --results DIR1 --results DIR2 ...
# merges the N folders (engines/ runs them on Slurm or CI).
SHARD_ARGS = $(if $(SHARD),--shard $(SHARD)) $(if $(RESULTS),--results $(RESULTS))

check-rates: build ## every lab, both builds, every tool (10 trials a cell, 6 under Helgrind); fails when a cell misses its band (SHARD=I/N: one share)
	@$(PYTHON) scripts/check_rates.py --profile quick $(SHARD_ARGS)

measure: build ## full profile (50 trials a cell): write new expected tables to results/expected-new/ for review (SHARD=I/N: one share, merged by report.py)
	@$(PYTHON) scripts/check_rates.py --profile full --write-expected results/expected-new $(SHARD_ARGS)

report: ## rates of every record under results/ against the labs' expected tables
	@$(PYTHON) scripts/report.py --results results

include mk/report.mk
include mk/docs.mk
include mk/install.mk

C_SOURCES := $(wildcard include/*.h common/*.c common/*.h fixed/*.c broken/*.c stress/*.c stress/*.h tests/*.c labs/*/*.c bench/*.c bench/*.h service/*.c service/*.h loadgen/*.c loadgen/*.h labs/*/mutants/*.c packs/*/*.c)

format: ## reformat the C sources with .clang-format
	clang-format -i $(C_SOURCES)

# GUIDE.md's table of contents, between its <!-- toc --> markers; the
# scripts' tests fail when it disagrees with the headings.
.PHONY: toc
toc: ## rewrite GUIDE.md's table of contents from its headings
	@$(PYTHON) scripts/toc.py

include mk/gdb.mk
include mk/sched.mk

.PHONY: check-labs
check-labs: ## every lab folder complete and agreeing with its modules (the manifests)
	@$(PYTHON) scripts/labs.py check

clean: ## remove build/ (results/ is kept)
	rm -rf build

include mk/bench.mk
include mk/service.mk
include mk/loadgen.mk
# The student's working copies and grading: start-N, reset-N, grade-N, grade.
include mk/grade.mk
# The reference fix, after a graded attempt: answer-N.
include mk/answer.mk
