# Thin wrapper: the two README commands, plus bench, fuzz and clean.
BUILD      ?= build
TEST_BUILD ?= build-test
LISTEN     ?= 127.0.0.1:8080
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= trace auth config task http nlp

.PHONY: run test deps build build-test bench fuzz clean

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Doptimization=2 -Ddebug=false -Db_ndebug=true -Dtests=false

$(TEST_BUILD)/build.ninja:
	meson setup $(TEST_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-test: deps $(TEST_BUILD)/build.ninja
	ninja -C $(TEST_BUILD)

run: build
	./$(BUILD)/todod all --listen $(LISTEN)

test: build build-test
	bash tests/run.sh $(TEST_BUILD) $(BUILD)

bench: build
	@bash scripts/deps.sh --bench
	bash bench/run.sh $(BUILD)

# libFuzzer targets (fuzz/) under ASan and UBSan, FUZZ_SECONDS each; stops at the first
# crash, leak or hang (the input is saved in $(FUZZ_BUILD)/artifacts/). Not part of test.
fuzz:
	@bash scripts/deps.sh --fuzz
	bash fuzz/build.sh $(FUZZ_BUILD)
	bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)
