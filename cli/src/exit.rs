//! `stk`'s exit codes: part of its interface, since scripts branch on them.
//!
//! This enum is the only place they are written. `stk --help` prints [`help_table`]; the tables
//! in the README, `cli/README.md` and the migration guide are [`markdown_table`], kept equal to it
//! by a test that reads those files.

/// One meaning per code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    JobFailed,
    Usage,
    Config,
    Refused,
    Unavailable,
    Local,
    Interrupted,
}

impl Exit {
    /// Every code, in the order the tables list them.
    pub const ALL: [Self; 8] = [
        Self::Success,
        Self::JobFailed,
        Self::Usage,
        Self::Config,
        Self::Refused,
        Self::Unavailable,
        Self::Local,
        Self::Interrupted,
    ];

    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::JobFailed => 1,
            Self::Usage => 2,
            Self::Config => 3,
            Self::Refused => 4,
            Self::Unavailable => 5,
            Self::Local => 6,
            Self::Interrupted => 130,
        }
    }

    pub const fn meaning(self) -> &'static str {
        match self {
            Self::Success => {
                "success (also when stdout is closed early, e.g. `stk sync list | head -1`)"
            }
            Self::JobFailed => "the sync job failed",
            Self::Usage => {
                "usage error (unknown flag, invalid date, conflicting options, unreadable distance)"
            }
            Self::Config => {
                "configuration problem (no API key, no API URL, unreadable config file)"
            }
            Self::Refused => {
                "the API refused the request (API key refused, invalid request or setting, unknown job)"
            }
            Self::Unavailable => {
                "the API or the network failed (5xx, connection refused, timeout, unreadable answer, a sync that stopped making progress)"
            }
            Self::Local => {
                "this machine failed stk: the output could not be written, or the runtime could not start"
            }
            Self::Interrupted => {
                "interrupted with Ctrl-C while waiting (the sync keeps running on the server)"
            }
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
}

/// The table at the end of `stk --help`.
pub fn help_table() -> String {
    let mut text = String::from("Exit codes:\n");
    for exit in Exit::ALL {
        text.push_str(&format!("  {:<4} {}\n", exit.code(), exit.meaning()));
    }
    text
}

/// The same table in Markdown, as the docs show it (pipes in a meaning are escaped).
pub fn markdown_table() -> String {
    let mut text = String::from("| code | meaning |\n|---|---|\n");
    for exit in Exit::ALL {
        text.push_str(&format!(
            "| {} | {} |\n",
            exit.code(),
            exit.meaning().replace('|', "\\|")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn every_code_has_one_meaning() {
        let codes: HashSet<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), Exit::ALL.len());
        let meanings: HashSet<&str> = Exit::ALL.iter().map(|e| e.meaning()).collect();
        assert_eq!(meanings.len(), Exit::ALL.len());
    }

    /// The docs show the table between `<!-- exit-codes -->` and `<!-- /exit-codes -->`.
    #[test]
    fn the_docs_show_this_table() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for doc in [
            "README.md",
            "cli/README.md",
            "docs/migration-from-python.md",
        ] {
            let text = std::fs::read_to_string(root.join(doc)).unwrap();
            let (_, rest) = text
                .split_once("<!-- exit-codes -->\n")
                .unwrap_or_else(|| panic!("{doc} has no <!-- exit-codes --> marker"));
            let (table, _) = rest
                .split_once("<!-- /exit-codes -->")
                .unwrap_or_else(|| panic!("{doc} has no <!-- /exit-codes --> marker"));
            assert_eq!(
                table,
                markdown_table(),
                "{doc}'s exit codes differ from cli/src/exit.rs: paste this table there:\n{}",
                markdown_table()
            );
        }
    }
}
