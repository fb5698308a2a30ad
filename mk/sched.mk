# sched.mk: racelab's own scheduler from make (the sched flavour:
# scripts/replay.py, scripts/explore.py; GUIDE.md, "Replaying a failure and
# exploring every interleaving").
#
#   make replay LAB=N SEED=S       the interleaving seed S chooses, again
#        [STRATEGY=pct:2]          (default: the lab's sched_strategy)
#   make replay LAB=N TRACE=T      a trace
#        SMALL=1                   explore-lab-N's workload (its traces)
#   make replay RECORD=FILE        a recorded sched trial (TRIAL=K; default
#                                  the first that went wrong)
#        BUILD=fixed               the fixed build instead of the broken one
#        REPEAT=K                  replay K times and compare
#        WRITE_SCHEDULE=FILE       also write it as a gdb walkthrough
#                                  schedule (make gdb-lab-N SCHEDULE=FILE)
#   make explore-lab-N             every interleaving of lab N's smallest
#        [PREEMPTIONS=K]           workload with at most K preemptions
#
# The sched flavour's binaries are built first when the Makefile has the
# flavour (FLAVOURS) and LAB is a stress lab; the scripts name a missing
# one, and a lab that is not one (replay.py: unknown, or a service lab).

SCHED_BIN = $(if $(filter sched,$(FLAVOURS)),build/sched/fixed/racelab-stress $(foreach l,$(1),build/sched/broken-$(l)/racelab-stress))
REPLAY_ARGS = $(if $(RECORD),--record '$(RECORD)' $(if $(TRIAL),--trial $(TRIAL)),--lab $(LAB) $(if $(SEED),--seed $(SEED)) $(if $(TRACE),--trace '$(TRACE)') $(if $(STRATEGY),--strategy '$(STRATEGY)') $(if $(BUILD),--build $(BUILD)) $(if $(SMALL),--small)) $(if $(REPEAT),--repeat $(REPEAT)) $(if $(WRITE_SCHEDULE),--gdb-schedule '$(WRITE_SCHEDULE)')

.PHONY: replay
replay: ## re-run a sched trial's interleaving: LAB=N SEED=S (or TRACE=T, or RECORD=FILE); WRITE_SCHEDULE=FILE for gdb
	@$(if $(or $(LAB),$(RECORD)),,$(error make replay needs LAB=N with SEED=S or TRACE=T, or RECORD=FILE))
	@$(if $(and $(filter $(LAB),$(LABS)),$(SCHED_BIN)),$(MAKE) -s $(call SCHED_BIN,$(LAB)))
	@$(PYTHON) scripts/replay.py $(REPLAY_ARGS)

EXPLORE_LAB_TARGETS := $(foreach l,$(LABS),explore-lab-$(l))
.PHONY: $(EXPLORE_LAB_TARGETS)
$(EXPLORE_LAB_TARGETS): explore-lab-%: $(call SCHED_BIN,%)
	@$(PYTHON) scripts/explore.py --lab $* $(if $(PREEMPTIONS),--preemptions $(PREEMPTIONS))

# `make help` prints this after HELP_ANSWER's line (HELP_SCHED in its recipe).
HELP_SCHED = @printf "  %-22s %s\n" \
  "explore-lab-N" "lab N: every interleaving of its smallest workload, how many break, the shortest"
