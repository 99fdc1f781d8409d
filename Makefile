# Thin wrapper over CMake so that the usual verbs work: make, make check, make demo.
BUILD       ?= build
CHECK_BUILD ?= build-check
FUZZ_BUILD  ?= build-fuzz
TSAN_BUILD  ?= build-tsan
PREFIX      ?= /usr/local
FUZZ_SECONDS ?= 60
JOBS        ?= $(shell nproc)

.PHONY: all check unit threads sanitized integration interop hostile postgresql ha hsm ui demo bench bench-compare fuzz fuzz-build fuzz-campaign install install-check packages lint format clean

all: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

# Every test: unit tests under ASan+UBSan, lint, the installed library, the Debian packages, the
# self-check, the system suites (also against sanitized binaries), the hostile clients, the
# threaded server under TSan, and each fuzzer for a short time.
check: unit lint install-check packages demo integration interop hostile postgresql ha hsm ui sanitized threads
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS_CHECK:-20}

unit: $(CHECK_BUILD)/CMakeCache.txt
	cmake --build $(CHECK_BUILD) -j$(JOBS)
	cd $(CHECK_BUILD) && ctest --output-on-failure -j$(JOBS)

$(CHECK_BUILD)/CMakeCache.txt:
	cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSCEP_SANITIZE=ON

# The integration and interop suites against the ASan + UBSan scepd and scep that `unit` built.
sanitized: unit bench
	scripts/run-sanitized $(CHECK_BUILD)

# scepd's threads under ThreadSanitizer: the group-commit store tests and a server under load.
threads: $(TSAN_BUILD)/CMakeCache.txt bench
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target scepd test_store_group test_store_sqlite
	$(TSAN_BUILD)/tests/test_store_group
	$(TSAN_BUILD)/tests/test_store_sqlite
	SCEPD=$(TSAN_BUILD)/scepd tests/threads/tsan.sh

$(TSAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-fsanitize=thread -O1" \
	  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread

demo: all
	$(BUILD)/scep-selfcheck
	scripts/demo

# Our client and hostile requests against our server; our client against broken servers.
integration: all bench
	tests/integration/run-all

# Attacks on a running scepd over loopback: limits hold, others are served, memory stays bounded.
hostile: all bench
	tests/hostile/run-all

# The store on PostgreSQL 15 (a server each suite starts): the contract, races, scepd end to end.
postgresql: unit all bench
	TEST_BIN=$(CHECK_BUILD)/tests tests/postgresql/run-all

# Three nodes, HAProxy and a PostgreSQL pair in network namespaces, under load and failures
# (root; about two minutes), then the same with a fail-back to the first primary.
ha: all bench
	tests/ha/ha.sh
	tests/ha/failback.sh

# The web console in headless Chromium (tests/ui/: playwright-core, installed by npm ci).
ui: all
	tests/ui/console.sh

# Real peers (micromdm, strongSwan, certmonger) against our programs.
interop: all
	tests/interop/run-all

# CA and RA keys in a PKCS#11 token (SoftHSM2): the token's checks, then interop and lifecycle.
hsm: bench
	tests/hsm/run-all

# The load generator, and the scepd / micromdm / RSA-ceiling comparison (docs/performance.md).
bench: all
	cmake --build $(BUILD) --target scep-bench scep-floor scep-keyspeed -j$(JOBS)

bench-compare: bench
	bench/run-compare

fuzz-build: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSCEP_FUZZ=ON -DSCEP_TESTS=OFF

fuzz: fuzz-build
	scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

# A campaign (not in CI): an hour per harness by default, corpora minimised into tests/fuzz/corpus.
fuzz-campaign: fuzz-build
	scripts/fuzz-campaign $(FUZZ_BUILD) $${FUZZ_CAMPAIGN_SECONDS:-3600} $(FUZZERS)

install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

install-check: all
	scripts/check-install $(BUILD)

# The Debian packages built from a copy of the tree, installed, used, purged (needs root).
packages:
	tests/packages/packages.sh

lint:
	scripts/lint

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
