# Thin wrapper: the two README commands, plus bench, fuzz and clean.
BUILD      ?= build
TEST_BUILD ?= build-test
LISTEN     ?= 127.0.0.1:8080

.PHONY: run test deps build build-test bench clean

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

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
