# mk/service.mk: racelab-service (the war story over HTTP), its unit tests
# and its fuzz target. Included by the Makefile; see service/PROTOCOL.md.
#
#   build/<flavour>/<variant>/racelab-service
#     flavours  release, debug, tsan-clang (as the stress driver's), and
#               asan: clang, AddressSanitizer + UndefinedBehaviorSanitizer,
#               for the service alone
#     variants  fixed, broken-1 (lab 1's cache swapped, as module_src does
#               for the stress driver), broken-11 (lab 11's reservation in
#               a PostgreSQL ledger shared by replicas); broken-2 (the
#               ledger's running total) builds on request, not by default

SERVICE_FLAVOURS := release debug tsan-clang asan
SERVICE_VARIANTS := fixed broken-1 broken-11
SERVICE_ALL_VARIANTS := fixed broken-1 broken-2 broken-11
SERVICE_MODULES := cache ledger pgledger
CC_asan := clang
CFLAGS_asan := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
SERVICE_SRC := service/main.c service/http.c service/request.c service/metrics.c \
               service/keys.c service/payments.c service/store.c service/store_sqlite.c \
               service/store_pg.c service/guard.c \
               common/money.c common/gateway.c common/racepoint.c
SERVICE_HEADERS := $(wildcard service/*.h) $(HEADERS)
# libpq's headers are in their own folder on Debian (libpq-dev).
PQ_CFLAGS := -I/usr/include/postgresql
SERVICE_LIBS := -lmicrohttpd -ljansson -lsqlite3 -lpq

# The lab modules a variant links: broken-N takes lab N's broken twin.
service_module_src = $(foreach m,$(SERVICE_MODULES),$(if $(filter $(m),$(LAB_MODULES_$(patsubst broken-%,%,$(1)))),broken,fixed)/$(m).c)

SERVICE_BINS := $(foreach f,$(SERVICE_FLAVOURS),$(foreach v,$(SERVICE_VARIANTS),build/$(f)/$(v)/racelab-service))

.PHONY: service fuzz fuzz-build

service: $(SERVICE_BINS) ## racelab-service, every flavour (release debug tsan-clang asan) of fixed and broken-1

build: $(SERVICE_BINS)

define SERVICE_RULE
build/$(1)/$(2)/racelab-service: $$(SERVICE_SRC) $$(call service_module_src,$(2)) $$(SERVICE_HEADERS) mk/service.mk | deps
	@mkdir -p $$(@D)
	$$(CC_$(1)) $$(BASE) -Iservice $$(PQ_CFLAGS) $$(CFLAGS_$(1)) -DRACELAB_VARIANT='"$(2)"' -DRACELAB_FLAVOUR='"$(1)"' \
	  -o $$@ $$(SERVICE_SRC) $$(call service_module_src,$(2)) $$(SERVICE_LIBS)
endef
$(foreach f,$(SERVICE_FLAVOURS),$(foreach v,$(SERVICE_ALL_VARIANTS),$(eval $(call SERVICE_RULE,$(f),$(v)))))

# --- unit tests (CMocka): the amount parser and the request parser --------
test-bins: build/tests/test_money build/tests/test_request

build/tests/test_money: tests/test_money.c common/money.c common/money.h mk/service.mk | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -o $@ tests/test_money.c common/money.c -lcmocka

build/tests/test_request: tests/test_request.c service/request.c common/money.c $(SERVICE_HEADERS) mk/service.mk | deps
	@mkdir -p $(@D)
	gcc $(TEST_CFLAGS) -Iservice -o $@ tests/test_request.c service/request.c common/money.c \
	  -lcmocka -ljansson

# --- fuzzing (libFuzzer): the request parser and the amount parser ---------
# The seed corpus is in the repo (service/fuzz/corpus); what the fuzzer
# adds goes to build/fuzz/corpus, and a crash to build/fuzz/crash-*.
FUZZ_SECONDS ?= 300
FUZZ_BIN := build/fuzz/fuzz_request

# Built by make build too: make test runs it for 5 seconds (tests/cli/test_fuzz.sh).
build: $(FUZZ_BIN)

fuzz-build: $(FUZZ_BIN) ## build the libFuzzer target for the request and amount parsers

$(FUZZ_BIN): service/fuzz_request.c service/request.c common/money.c $(SERVICE_HEADERS) mk/service.mk | deps
	@mkdir -p $(@D)
	clang $(BASE) -Iservice -O1 -g -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -o $@ service/fuzz_request.c service/request.c \
	  common/money.c -ljansson

fuzz: $(FUZZ_BIN) ## fuzz the request parser for FUZZ_SECONDS (300); fails on a crash
	@mkdir -p build/fuzz/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=4200 -timeout=10 -print_final_stats=1 \
	  -artifact_prefix=build/fuzz/ build/fuzz/corpus service/fuzz/corpus

C_SOURCES += $(wildcard service/*.c service/*.h)
