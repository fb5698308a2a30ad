# mk/bench.mk: make bench, the cost of lab 1's fix, measured
# (build/bench/racelab-bench; bench/main.c says how it measures).
#
# Five implementations of include/cache.h share one program: each is
# compiled on its own with bench/rename.h forced in front, which gives its
# public functions the design's prefix (floor_cache_get, ...). broken/ and
# fixed/cache.c are compiled unchanged; the mutex design is fixed/cache.c
# with bench/as_mutex.h swapping its rwlock for a mutex.

BENCH_CFLAGS := $(BASE) -Ibench -O2 -g
BENCH_LIBS := -lurcu-cds -lurcu-bp
BENCH_BIN := build/bench/racelab-bench
BENCH_OBJS := $(addprefix build/bench/,floor.o mutex.o rwlock.o striped.o rcu.o designs.o \
              measure.o main.o)
BENCH_HEADERS := $(wildcard bench/*.h) include/cache.h common/hash.h common/rng.h
BENCH_ARGS ?=

# design name, source, extra flags
define BENCH_DESIGN_RULE
build/bench/$(1).o: $(2) $$(BENCH_HEADERS) mk/bench.mk | deps
	@mkdir -p $$(@D)
	gcc $$(BENCH_CFLAGS) -DBENCH_DESIGN=$(1) -include bench/rename.h $(3) -c -o $$@ $(2)
endef
$(eval $(call BENCH_DESIGN_RULE,floor,broken/cache.c,))
$(eval $(call BENCH_DESIGN_RULE,mutex,fixed/cache.c,-include bench/as_mutex.h))
$(eval $(call BENCH_DESIGN_RULE,rwlock,fixed/cache.c,))
$(eval $(call BENCH_DESIGN_RULE,striped,bench/cache_striped.c,))
$(eval $(call BENCH_DESIGN_RULE,rcu,bench/cache_rcu.c,))

build/bench/%.o: bench/%.c $(BENCH_HEADERS) mk/bench.mk | deps
	@mkdir -p $(@D)
	gcc $(BENCH_CFLAGS) -c -o $@ $<

$(BENCH_BIN): $(BENCH_OBJS)
	gcc $(BENCH_CFLAGS) -o $@ $(BENCH_OBJS) $(BENCH_LIBS)

# The new designs pass lab 1's cache tests, the concurrent ones too. The
# rcu design is left out: its table keeps its bucket count to itself, and
# the tests assert bucket counts; the benchmark checks its keys instead.
build/tests/test_cache_mutex: $(UNIT_TEST_cache) fixed/cache.c bench/as_mutex.h $(HEADERS) | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -DCACHE_THREAD_SAFE -include bench/as_mutex.h -o $@ $(UNIT_TEST_cache) \
	  fixed/cache.c -lcmocka

build/tests/test_cache_striped: $(UNIT_TEST_cache) bench/cache_striped.c $(HEADERS) | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -DCACHE_THREAD_SAFE -o $@ $(UNIT_TEST_cache) bench/cache_striped.c -lcmocka

build test-bins: $(BENCH_BIN) build/tests/test_cache_mutex build/tests/test_cache_striped

.PHONY: bench
bench: $(BENCH_BIN) ## the cost of lab 1's fix: ns per cache op of 5 designs, side by side, ratios to the unsafe floor (about 80 s)
	@$(BENCH_BIN) $(BENCH_ARGS)

C_SOURCES += $(wildcard bench/*.c bench/*.h)
