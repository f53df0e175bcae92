//! SQL on the local database as its owner, through `psql` (it comes with PostgreSQL;
//! `scripts/stack.sh up` installs it): for benchmarks and tests that set data up or read
//! plans, never for anything the product does.

use anyhow::Context as _;

/// What `psql` printed: the rows on stdout (one line each, unaligned), notices on stderr.
#[derive(Debug)]
pub struct Printed {
    pub rows: String,
    pub notices: String,
}

/// Runs `sql` (one or more statements) against `url`, stopping at the first error.
pub fn run(url: &str, sql: &str) -> anyhow::Result<Printed> {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .output()
        .context("running psql (scripts/stack.sh up installs it)")?;
    let notices = String::from_utf8(out.stderr)?;
    anyhow::ensure!(out.status.success(), "psql failed: {notices}");
    Ok(Printed {
        rows: String::from_utf8(out.stdout)?,
        notices,
    })
}
