# faasml — the two commands a user needs are `make demo` and `make test`; both install missing
# Debian packages first (scripts/install-deps.sh). Everything else is CMake under build*/.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CTEST_FLAGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build asan test test-fast demo models bench fuzz format format-check clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/Makefile:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

$(ASAN_BUILD)/Makefile:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFM_SANITIZE=ON >/dev/null

asan: deps $(ASAN_BUILD)/Makefile
	@cmake --build $(ASAN_BUILD) -j $(JOBS) -- --no-print-directory

# Every unit, integration and fuzz-corpus test, then the same suite under ASan+UBSan.
test: build asan
	@echo "== tests (release build)"
	@cd $(BUILD) && ctest $(CTEST_FLAGS)
	@echo "== tests (ASan+UBSan build)"
	@cd $(ASAN_BUILD) && ctest $(CTEST_FLAGS)

# The suite without the sanitizer pass, for quick iteration.
test-fast: build
	@cd $(BUILD) && ctest $(CTEST_FLAGS)

demo: build
	@scripts/demo.sh $(BUILD)/faasml

models: build
	@tools/models/make-models.sh

bench: build
	@bench/run-all.sh $(BUILD)/faasml

fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFM_LIBFUZZER=ON -DFM_SANITIZE=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) -- --no-print-directory
	@echo "fuzzers are in build-fuzz/ (run e.g. build-fuzz/fuzz_yaml fuzz/corpus/yaml)"

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

# What CI checks: every C source as .clang-format says (run `make format` to fix).
format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
