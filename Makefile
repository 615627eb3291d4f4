# Developer entry points. `make test` is the one command CI runs (.ci/run).
.PHONY: test lint fmt bench demo build release fuzz

test:
	bash scripts/test.sh

lint:
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings

fmt:
	cargo fmt

build:
	cargo build --locked

release:
	cargo build --locked --release

bench:
	cargo bench --locked --bench policy

demo:
	bash scripts/demo.sh

fuzz:
	cd fuzz && cargo +nightly fuzz run policy -- -max_total_time=600
