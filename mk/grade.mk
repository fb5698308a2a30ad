# grade.mk: the student's working copies and their grading (included by the
# Makefile after its variables and rules).
#
#   work/lab-N/<module>.c   the student's copy of lab N's broken module(s),
#                           made by start-N (or the first lab-N), git-ignored
#   student-N               the fixed build with lab N's module(s) taken from
#                           work/lab-N/ instead (module_dir in the Makefile);
#                           built only when grading asks, never by `make build`,
#                           since a fresh checkout has no copies
#
# scripts/workcopy.py makes and resets the copies; scripts/grade.py builds
# the student's variant and grades it (HONEST, SAFE, FAST).

STUDENT_VARIANTS := $(foreach l,$(LABS),student-$(l))

# Grading rebuilds the student's build after every edit, in five flavours,
# so it is linked from objects: the code every student build shares (the
# common and stress sources, the fixed modules) is compiled once per
# flavour into build/<flavour>/obj/; only the student's module and the
# driver's main.c (which names the variant) are compiled per variant. The
# compilers and flags are BIN_RULE's, so the program is the same as a
# broken-N or fixed build's, file by file.
SHARED_SRC := $(filter-out stress/main.c,$(COMMON_SRC))
student_objs = $(foreach s,$(SHARED_SRC),build/$(1)/obj/$(s:.c=.o)) \
  $(foreach m,$(MODULES),$(if $(filter $(m),$(LAB_MODULES_$(2))),build/$(1)/student-$(2)/$(m).o,build/$(1)/obj/fixed/$(m).o))

define OBJ_RULE
build/$(1)/obj/%.o: %.c $$(HEADERS) Makefile | deps
	@mkdir -p $$(@D)
	$$(CC_$(1)) $$(BASE) $$(CFLAGS_$(1)) -c -o $$@ $$<
endef
$(foreach f,$(FLAVOURS),$(eval $(call OBJ_RULE,$(f))))

# The shared objects are part of make build (and so of make test, the
# README's second command): a student's first make grade-N then compiles
# only their copy and main.c.
STUDENT_SHARED_OBJS := $(foreach f,$(FLAVOURS),$(foreach s,$(SHARED_SRC) \
  $(MODULES:%=fixed/%.c),build/$(f)/obj/$(s:.c=.o)))
build: $(STUDENT_SHARED_OBJS)

define STUDENT_RULE
build/$(1)/student-$(2)/racelab-stress: $$(call student_objs,$(1),$(2)) build/$(1)/student-$(2)/main.o | deps
	$$(CC_$(1)) $$(BASE) $$(CFLAGS_$(1)) -o $$@ $$(filter %.o,$$^) $$(LDFLAGS_$(1)) $$(LIBS)
build/$(1)/student-$(2)/main.o: stress/main.c $$(HEADERS) Makefile | deps
	@mkdir -p $$(@D)
	$$(CC_$(1)) $$(BASE) $$(CFLAGS_$(1)) -DRACELAB_VARIANT='"student-$(2)"' \
	  -DRACELAB_FLAVOUR='"$(1)"' -c -o $$@ $$<
build/$(1)/student-$(2)/%.o: $(WORK)/lab-$(2)/%.c build/$(1)/student-$(2)/work-dir $$(HEADERS) Makefile | deps
	@mkdir -p $$(@D)
	$$(CC_$(1)) $$(BASE) $$(CFLAGS_$(1)) -c -o $$@ $$<
# Which folder the copy was compiled from. Make compares times only, so
# without this an object compiled from the self-test's copy (newer) would
# be taken for the student's own, older copy: the file changes, and so
# forces a rebuild, whenever WORK does.
build/$(1)/student-$(2)/work-dir: FORCE
	@mkdir -p $$(@D)
	@echo '$(WORK)' | cmp -s - $$@ || echo '$(WORK)' > $$@
endef
$(foreach f,$(FLAVOURS),$(foreach l,$(LABS),$(eval $(call STUDENT_RULE,$(f),$(l)))))

# A copy that is not there yet: say how to make it, instead of make's
# "No rule to make target".
STUDENT_SOURCES := $(foreach l,$(LABS),$(foreach m,$(LAB_MODULES_$(l)),$(WORK)/lab-$(l)/$(m).c))
$(STUDENT_SOURCES):
	@echo "racelab: $@ is missing: make start-$(patsubst lab-%,%,$(notdir $(patsubst %/,%,$(dir $@)))) makes it" >&2
	@exit 2

.PHONY: FORCE
FORCE:

.PHONY: grade grade-batch grade-selftest grading-build autograder $(foreach l,$(LABS),start-$(l) reset-$(l) grade-$(l))

# What every student's grading reuses, built once (the Gradescope bundle's
# setup.sh): the shared objects of the five flavours and the reference's
# release build, which FAST compares with.
grading-build: $(STUDENT_SHARED_OBJS) build/release/fixed/racelab-stress ## what grading reuses for every student (the autograder's setup.sh builds it)

autograder: ## the Gradescope autograder bundle, build/autograder/*.zip (LAB=N: one lab's assignment)
	@$(PYTHON) scripts/autograder.py bundle $(if $(LAB),--lab $(LAB))

grade: ## grade every started lab (work/lab-N/) and print the total; JSON in work/grade.json
	@$(PYTHON) scripts/grade.py --all

# A course's submissions, one folder per student: DIR=folder, JOBS=N at
# once, LAB=N when every one is for that lab (engines/slurm/submit.sh
# grade-batch shares them across a Slurm job array).
grade-batch: ## grade a folder of submissions, one per student (DIR=folder, JOBS=N at once, LAB=N): results/batch-<time>/grades.csv and summary.txt
	@test -n "$(DIR)" || { echo "racelab: make grade-batch DIR=folder (one folder per student)" >&2; exit 2; }
	@$(PYTHON) scripts/grade_batch.py "$(DIR)" -j $(or $(JOBS),1) $(if $(LAB),--lab $(LAB))

grade-selftest: ## grade the catalogue of wrong and right fixes (labs/lab-N-*/mutants/): the confusion matrix
	@$(PYTHON) scripts/grade_selftest.py

define GRADE_RULE
start-$(1): # lab $(1): make your working copy in work/lab-$(1)/ (keeps an existing one)
	@$$(PYTHON) scripts/workcopy.py start $(1)
reset-$(1): # lab $(1): start your working copy again from the broken module (asks first)
	@$$(PYTHON) scripts/workcopy.py reset $(1)
grade-$(1): # lab $(1): grade your copy: HONEST, SAFE, FAST (under 2 minutes)
	@$$(PYTHON) scripts/grade.py $(1)
endef
$(foreach l,$(LABS),$(eval $(call GRADE_RULE,$(l))))

# `make help` prints these after the lab-N lines (HELP_MORE in its recipe).
HELP_MORE = @printf "  %-22s %s\n" \
  "start-N" "lab N: make your working copy work/lab-N/<module>.c (the first lab-N does too)" \
  "reset-N" "lab N: start your copy again from broken/ (asks before throwing work away)" \
  "grade-N" "lab N: grade your copy: HONEST, SAFE, FAST, with reasons and hints (under 2 min)"
