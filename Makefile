# swiftemu: `make run` boots the bundled guest, `make test` runs every test.
SWIFT    ?= swift
# Release builds everywhere: the interpreter is what tests exercise, and a
# debug build of it is an order of magnitude slower. -enable-testing lets the
# test targets use @testable imports of release modules.
SWIFTFLAGS = -c release -Xswiftc -enable-testing
BIN       = .build/release/swiftemu
OUT       = build

.PHONY: all setup setup-test build guest kernels run test e2e bench clean

all: build

setup:
	@tools/setup.sh run

setup-test:
	@tools/setup.sh test

build: setup
	$(SWIFT) build $(SWIFTFLAGS)

guest:
	@if [ -f guest/Makefile ]; then $(MAKE) -C guest OUT=$(abspath $(OUT))/guest; fi

kernels:
	@if [ -f Tests/Kernels/Makefile ]; then $(MAKE) -C Tests/Kernels OUT=$(abspath $(OUT))/kernels; fi

run: build guest
	tools/run.sh $(BIN) $(ARGS)

test: setup-test guest kernels
	$(SWIFT) build $(SWIFTFLAGS) --build-tests
	$(SWIFT) test $(SWIFTFLAGS) --skip-build
	$(MAKE) fuzz-smoke
	$(MAKE) e2e

# End-to-end checks of what a person sees: the guest and the test kernels
# against QEMU, and the SDL window under Xvfb driven by xdotool.
e2e:
	tools/qemu-crosscheck.sh $(BIN)
	Tests/e2e/window_test.sh build/guest/guest.elf $(BIN)
	Tests/e2e/terminal_test.sh build/guest/guest.elf $(BIN)

# Boots the benchmark kernels in swiftemu (and in QEMU and Bochs when
# installed) and prints guest MIPS; see docs/benchmarks.md. BENCHARGS is
# passed to bench/run.py (e.g. BENCHARGS="--runs 3 --no-bochs").
bench: build
	@tools/setup.sh bench || echo "bench: QEMU/Bochs could not be installed; only the engines present are compared"
	@$(MAKE) guest || echo "bench: the bundled guest did not build; its idle run is skipped"
	$(MAKE) -C bench OUT=$(abspath $(OUT))/bench
	@command -v python3 >/dev/null || { echo "bench: needs python3"; exit 1; }
	python3 bench/run.py --emu $(BIN) --dir $(OUT)/bench --guest $(OUT)/guest/guest.elf \
		--markdown $(OUT)/bench/results.md $(BENCHARGS)

# Fuzzing (fuzz/Makefile): each libFuzzer target for FUZZ_SECONDS, one at a
# time; fuzz-smoke runs each for a few seconds (part of `make test`).
FUZZ_SECONDS ?= 600
.PHONY: fuzz fuzz-smoke
fuzz: kernels
	$(MAKE) -C fuzz run SECONDS=$(FUZZ_SECONDS)
fuzz-smoke: kernels
	$(MAKE) -C fuzz smoke

clean:
	rm -rf .build $(OUT)
