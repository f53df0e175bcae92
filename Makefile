# The two commands a fresh machine needs: `make demo` and `make test`.
.PHONY: demo test unit hack bench-login lint audit ci package stack-up stack-down bench-sync bench-reads bench-scheduler bench-startup

demo:
	scripts/demo.sh

test:
	scripts/test.sh

# The tests that need no local stack, in seconds on a built tree.
unit:
	scripts/test.sh --unit

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
	scripts/stack.sh up
	cargo run --release --quiet -p stk-local -- bench-sync

bench-login:
	scripts/bench-login.sh

bench-reads:
	scripts/stack.sh up
	cargo run --release --quiet -p stk-local -- bench-reads

# Start-up of the release binaries as whole processes; needs no stack.
bench-startup:
	cargo build --release --bins
	target/release/stk-local bench-startup

bench-scheduler:
	scripts/stack.sh up
	cargo run --release --quiet -p stk-local -- bench-scheduler --users 100000

# After adding a dependency or changing its features: regenerate the workspace-hack crate, so that
# `cargo build`, `cargo test -p X` and the tests keep sharing one build of every dependency.
hack:
	command -v cargo-hakari >/dev/null || cargo install cargo-hakari --locked
	cargo hakari generate
	cargo hakari manage-deps --yes
