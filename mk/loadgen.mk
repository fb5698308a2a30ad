# mk/loadgen.mk: racelab-loadgen, the war story's load generator, and the
# targets that drive racelab-service with it. Included by the Makefile.
#
#   build/release/loadgen/racelab-loadgen   (one flavour: it is the
#   measuring instrument, not the thing measured)

LOADGEN_SRC := $(wildcard loadgen/*.c) common/jsonw.c
LOADGEN_HDR := $(wildcard loadgen/*.h) common/jsonw.h
LOADGEN := build/release/loadgen/racelab-loadgen
C_SOURCES += $(wildcard loadgen/*.c loadgen/*.h)

.PHONY: loadgen war-story

build: $(LOADGEN) build/tests/test_loadgen
test-bins: build/tests/test_loadgen

loadgen: $(LOADGEN) ## build racelab-loadgen, the HTTP load generator

$(LOADGEN): $(LOADGEN_SRC) $(LOADGEN_HDR) mk/loadgen.mk | deps
	@mkdir -p $(@D)
	gcc $(BASE) -O2 -g -Iloadgen -o $@ $(LOADGEN_SRC)

# The histogram, the response check, the payment maps and the response
# parser, unit-tested.
build/tests/test_loadgen: tests/test_loadgen.c loadgen/hist.c loadgen/check.c loadgen/paymap.c \
		loadgen/http.c $(LOADGEN_HDR) mk/loadgen.mk | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -Iloadgen -o $@ tests/test_loadgen.c loadgen/hist.c loadgen/check.c \
	  loadgen/paymap.c loadgen/http.c -lcmocka

WAR_STORY_BINS := $(LOADGEN) build/release/broken-1/racelab-service \
                  build/tsan-clang/broken-1/racelab-service build/release/fixed/racelab-service

# The whole story under one time limit; the script stops every service it
# starts, also when the limit ends it.
war-story: ## the war story over HTTP: broken service under load, TSan's report, the fixed one and its ledger
	@$(MAKE) -s -j2 $(WAR_STORY_BINS)
	@timeout -s TERM -k 10 600 $(PYTHON) scripts/war_story.py

# Lab 11 (labs/lab-11-replicas, a service lab): two racelab-service
# processes sharing one PostgreSQL ledger. scripts/replicas.py starts its
# own PostgreSQL server in a temporary folder, as an unprivileged user, and
# stops it on the way out (scripts/racelab/pgserver.py).
REPLICAS_BINS := $(LOADGEN) $(foreach f,release tsan-clang,$(foreach v,fixed broken-11,build/$(f)/$(v)/racelab-service))

.PHONY: lab-11 check-replicas war-story-cluster
lab-11: ## lab 11: two replicas, one PostgreSQL ledger: keys charged twice, the interleaving forced, unseen by TSan; then the fix
	@$(MAKE) -s -j2 $(REPLICAS_BINS)
	@timeout -s TERM -k 10 600 $(PYTHON) scripts/replicas.py demo

check-replicas: ## lab 11's rates: every row of its expected table, a few trials each
	@$(MAKE) -s -j2 $(REPLICAS_BINS)
	@timeout -s TERM -k 10 1200 $(PYTHON) scripts/replicas.py check

war-story-cluster: ## the fixed service as 2 replicas on one PostgreSQL ledger under load: the ledger against every answer
	@$(MAKE) -s -j2 $(REPLICAS_BINS)
	@timeout -s TERM -k 10 600 $(PYTHON) scripts/replicas.py cluster
