//! Where text goes: results on stdout (a closed pipe is not an error), diagnostics on stderr.

use std::fmt;
use std::io::{self, Write};

use serde::Serialize;

use crate::error::CliError;

/// Writes a line on stderr. Diagnostics must never fail the command, so errors are ignored.
pub fn stderr_line(args: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// Debug output (`-v`) and warnings, on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    verbosity: u8,
}

impl Log {
    pub fn new(verbosity: u8) -> Self {
        Self { verbosity }
    }

    pub fn verbosity(self) -> u8 {
        self.verbosity
    }

    pub fn debug(self, args: fmt::Arguments<'_>) {
        if self.verbosity > 0 {
            stderr_line(format_args!("debug: {args}"));
        }
    }

    pub fn warn(self, args: fmt::Arguments<'_>) {
        stderr_line(format_args!("warning: {args}"));
    }
}

/// The command's results. Write errors become [`CliError`]s; a broken pipe a quiet exit.
pub struct Out {
    inner: Box<dyn Write>,
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Out").finish_non_exhaustive()
    }
}

impl Out {
    pub fn stdout() -> Self {
        Self::new(Box::new(io::stdout()))
    }

    pub fn new(inner: Box<dyn Write>) -> Self {
        Self { inner }
    }

    pub fn line(&mut self, text: impl fmt::Display) -> Result<(), CliError> {
        writeln!(self.inner, "{text}").map_err(CliError::from_output)
    }

    /// Text that already ends with a newline (a table, a block).
    pub fn text(&mut self, text: &str) -> Result<(), CliError> {
        self.inner
            .write_all(text.as_bytes())
            .map_err(CliError::from_output)
    }

    /// Pretty JSON, then a newline.
    pub fn json<T: Serialize>(&mut self, value: &T) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|err| CliError::Output(io::Error::other(err)))?;
        self.line(text)
    }

    pub fn flush(&mut self) -> Result<(), CliError> {
        self.inner.flush().map_err(CliError::from_output)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_closed_pipe_is_a_quiet_success() {
        let mut out = Out::new(Box::new(ClosedPipe));
        let err = out.line("x").unwrap_err();
        assert!(matches!(err, CliError::BrokenPipe));
        assert_eq!(err.exit_code(), crate::exit::Exit::Success);
    }
}
