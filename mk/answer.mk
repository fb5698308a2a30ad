# answer.mk: the reference fix, after the student's own attempt (included
# at the end of the Makefile).
#
#   make answer-N    diff -u broken/<module>.c fixed/<module>.c for lab N's
#                    modules (LAB_MODULES_N), and where the handout explains
#                    it. With no graded attempt yet (no work/lab-N/grade.json)
#                    it says so and asks first on a terminal;
#                    ANSWER=yes shows it without asking. A service lab
#                    (SERVICE_LABS) is not graded: it shows it at once.
#
# scripts/answer.py does the work.

ANSWER ?=

.PHONY: $(foreach l,$(LABS) $(SERVICE_LABS),answer-$(l))

define ANSWER_RULE
answer-$(1): # lab $(1): the reference fix, after your graded attempt (make grade-$(1))
	@ANSWER='$$(ANSWER)' $$(PYTHON) scripts/answer.py $(1)
endef
$(foreach l,$(LABS) $(SERVICE_LABS),$(eval $(call ANSWER_RULE,$(l))))

# `make help` prints these after HELP_MORE's lines (HELP_ANSWER in its recipe).
HELP_ANSWER = @printf "  %-22s %s\n" \
  "answer-N" "lab N: the reference fix (diff -u broken/ fixed/), after make grade-N (asks before)"
