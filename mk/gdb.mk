# gdb.mk: forced interleavings in gdb (labs/lab-N-*/walkthrough.sched,
# followed by scripts/gdb/racesched.py on the debug flavour).
#
#   make gdb-lab-N               gdb on lab N's walkthrough, step by step
#                                (GDB_BUILD=fixed for the fixed build)
#   make demo-lab-N              the walkthrough in batch, broken build then
#                                fixed: transcripts ending in numbers
# The batch run is under `timeout` here and under a limit per gdb run and
# per step inside.

GDB_BUILD ?= broken
GDB_DEMO_TIMEOUT := 120

gdb-lab-1: ## lab 1 in gdb: step through the forced interleaving (GDB_BUILD=fixed for the fix)
gdb-lab-2: ## lab 2 in gdb: step through the forced interleaving (GDB_BUILD=fixed for the fix)
gdb-lab-3: ## lab 3 in gdb: step through the forced interleaving (GDB_BUILD=fixed for the fix)
gdb-lab-4: ## lab 4 in gdb: step through the forced interleaving (GDB_BUILD=fixed for the fix)
gdb-lab-5: ## lab 5 in gdb: step through the forced interleaving (GDB_BUILD=fixed for the fix)
gdb-lab-6: ## lab 6 in gdb: step through the forced interleaving (GDB_BUILD=fixed for the fix)
gdb-lab-7: ## lab 7 in gdb: step through the forced interleaving (GDB_BUILD=fixed for the fix)
gdb-lab-8: ## lab 8 in gdb: what may be reordered, and where the fix orders it
gdb-lab-9: ## lab 9 in gdb: step through the forced interleaving (GDB_BUILD=fixed for the fix)
demo-lab-1: ## lab 1's walkthrough in batch, broken then fixed: the symptom in numbers
demo-lab-2: ## lab 2's walkthrough in batch, broken then fixed: the symptom in numbers
demo-lab-3: ## lab 3's walkthrough in batch, broken then fixed: the symptom in numbers
demo-lab-4: ## lab 4's walkthrough in batch, broken then fixed: the symptom in numbers
demo-lab-5: ## lab 5's walkthrough in batch, broken then fixed: the symptom in numbers
demo-lab-6: ## lab 6's walkthrough in batch, broken then fixed: the symptom in numbers
demo-lab-7: ## lab 7's walkthrough in batch, broken then fixed: the symptom in numbers
demo-lab-8: ## lab 8's walkthrough in batch: the generated code, broken then fixed
demo-lab-9: ## lab 9's walkthrough in batch, broken then fixed: the symptom in numbers

GDB_LAB_TARGETS := $(foreach l,$(LABS),gdb-lab-$(l))
DEMO_LAB_TARGETS := $(foreach l,$(LABS),demo-lab-$(l))
.PHONY: $(GDB_LAB_TARGETS) $(DEMO_LAB_TARGETS)

$(GDB_LAB_TARGETS): gdb-lab-%: build/debug/fixed/racelab-stress build/debug/broken-%/racelab-stress
	@$(PYTHON) scripts/gdb_walkthrough.py --lab $* --interactive --build $(GDB_BUILD)

$(DEMO_LAB_TARGETS): demo-lab-%: build/debug/fixed/racelab-stress build/debug/broken-%/racelab-stress
	@timeout $(GDB_DEMO_TIMEOUT) $(PYTHON) scripts/gdb_walkthrough.py --lab $*

# Lab 8's walkthrough disassembles the release flavour, the code the stress
# driver measures.
gdb-lab-8 demo-lab-8: build/release/fixed/racelab-stress build/release/broken-8/racelab-stress
