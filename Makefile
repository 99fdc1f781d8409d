# Thin wrapper over CMake so that the usual verbs work: make, make check, make demo.
BUILD       ?= build
CHECK_BUILD ?= build-check
FUZZ_BUILD  ?= build-fuzz
PREFIX      ?= /usr/local
FUZZ_SECONDS ?= 60
JOBS        ?= $(shell nproc)

.PHONY: all check unit integration interop demo bench bench-compare fuzz fuzz-build install install-check lint format clean

all: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

# Every test: unit tests under ASan+UBSan, lint, the installed library, the self-check, and
# each fuzzer for a short time.
check: unit lint install-check demo integration interop
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS_CHECK:-20}

unit: $(CHECK_BUILD)/CMakeCache.txt
	cmake --build $(CHECK_BUILD) -j$(JOBS)
	cd $(CHECK_BUILD) && ctest --output-on-failure -j$(JOBS)

$(CHECK_BUILD)/CMakeCache.txt:
	cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSCEP_SANITIZE=ON

demo: all
	$(BUILD)/scep-selfcheck
	scripts/demo

# Our client and hostile requests against our server; our client against broken servers.
integration: all bench
	tests/integration/run-all

# Real peers (micromdm, strongSwan, certmonger) against our programs.
interop: all
	tests/interop/run-all

# The load generator, and the scepd / micromdm / RSA-ceiling comparison (docs/performance.md).
bench: all
	cmake --build $(BUILD) --target scep-bench scep-floor -j$(JOBS)

bench-compare: bench
	bench/run-compare

fuzz-build: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSCEP_FUZZ=ON -DSCEP_TESTS=OFF

fuzz: fuzz-build
	scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

install-check: all
	scripts/check-install $(BUILD)

lint:
	scripts/lint

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD)
