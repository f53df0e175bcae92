# The two commands a fresh machine needs: `make demo` and `make test`.
.PHONY: demo test lint audit ci package stack-up stack-down bench-sync bench-reads bench-scheduler

demo:
	scripts/demo.sh

test:
	scripts/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

audit:
	scripts/audit.sh

ci:
	.ci/run

package:
	scripts/package.sh

stack-up:
	scripts/stack.sh up

stack-down:
	scripts/stack.sh down

bench-sync:
	scripts/bench-sync.sh

bench-reads:
	scripts/stack.sh up
	cargo run --release --quiet -p stk-local -- bench-reads

bench-scheduler:
	scripts/stack.sh up
	cargo run --release --quiet -p stk-local -- bench-scheduler --users 100000
