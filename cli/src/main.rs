//! `stk`: see the crate documentation (and `stk --help`) for commands and exit codes.

fn main() -> std::process::ExitCode {
    stk::main()
}
