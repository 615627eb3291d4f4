# Developer entry points. `make test` is the one command CI runs (.ci/run).
.PHONY: test lint fmt bench demo build release fuzz

test:
	bash scripts/test.sh

lint:
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	# RustSec advisories; offline it falls back to a committed snapshot, loudly (deny/README.md).
	bash scripts/lint-deps.sh

fmt:
	cargo fmt

build:
	cargo build --locked

release:
	cargo build --locked --release

# Benchmarks print figures; none of them asserts a time.
bench:
	cargo bench --locked --bench policy
	cargo bench --locked --bench metrics_render
	bash scripts/test-deps.sh && ECR_TEST_PYTHON=$(CURDIR)/.venv/bin/python cargo bench --locked --bench collect_calls
	ECR_TEST_PYTHON=$(CURDIR)/.venv/bin/python cargo bench --locked --bench events_throughput

demo:
	bash scripts/demo.sh

# cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP unlocks the sanitizer flags); see fuzz/README.md.
fuzz:
	command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz@0.13.2
	cd fuzz && mkdir -p corpus/policy && POLICY_FUZZ_SLOW_MS=30 RUSTC_BOOTSTRAP=1 cargo fuzz run -s none policy corpus/policy seeds -- -max_total_time=600 -timeout=5
