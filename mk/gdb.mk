# gdb.mk: forced interleavings in gdb (labs/lab-N-*/walkthrough.sched,
# followed by scripts/gdb/racesched.py on the debug flavour).
#
#   make gdb-lab-N               gdb on lab N's walkthrough, step by step
#                                (GDB_BUILD=fixed for the fixed build)
#   make demo-lab-N              the walkthrough in batch, broken build then
#                                fixed: transcripts ending in numbers
#   SCHEDULE=FILE                either one follows FILE instead of the
#                                lab's walkthrough.sched (GUIDE.md, "Writing
#                                a schedule"); it is checked first
# The batch run is under `timeout` here and under a limit per gdb run and
# per step inside.

GDB_BUILD ?= broken
GDB_DEMO_TIMEOUT := 120
SCHEDULE ?=
GDB_SCHEDULE := $(if $(SCHEDULE),--schedule '$(SCHEDULE)')

# gdb-lab-N and demo-lab-N of every lab, with make help's line for each
# (the manifest's gdb_help and demo_help, or the usual wording), and the
# builds of any other flavour its walkthrough runs (lab 8's disassembles
# the release flavour, the code the stress driver measures).
include $(GEN)/walkthroughs.mk

GDB_LAB_TARGETS := $(foreach l,$(LABS),gdb-lab-$(l))
DEMO_LAB_TARGETS := $(foreach l,$(LABS),demo-lab-$(l))
.PHONY: $(GDB_LAB_TARGETS) $(DEMO_LAB_TARGETS)

$(GDB_LAB_TARGETS): gdb-lab-%: build/debug/fixed/racelab-stress build/debug/broken-%/racelab-stress
	@$(PYTHON) scripts/gdb_walkthrough.py --lab $* --interactive --build $(GDB_BUILD) $(GDB_SCHEDULE)

$(DEMO_LAB_TARGETS): demo-lab-%: build/debug/fixed/racelab-stress build/debug/broken-%/racelab-stress
	@timeout $(GDB_DEMO_TIMEOUT) $(PYTHON) scripts/gdb_walkthrough.py --lab $* $(GDB_SCHEDULE)
