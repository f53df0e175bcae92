//! The local stack's connection settings, as `scripts/stack.sh up` writes them to `.stack/env`.
//!
//! Which checkout's stack is decided at run time, from the working directory (or an explicit
//! `--checkout`), never from where the binary was built: a build copied to another checkout must
//! not talk to the first one's database with its service-role key.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The variable (and `stk-local --checkout`) that names the checkout explicitly.
pub const CHECKOUT_VAR: &str = "STK_CHECKOUT";

/// The files that mark a MyRunStreak checkout's root.
const MARKERS: [&str; 2] = ["scripts/stack.sh", "infra/names.json"];

#[derive(Debug, thiserror::Error)]
pub enum StackEnvError {
    #[error(
        "{0} is not inside a MyRunStreak checkout (no scripts/stack.sh there or above): run \
         stk-local from the checkout whose stack it should use, or name it with --checkout DIR"
    )]
    NotInCheckout(PathBuf),
    #[error("{0} is not a MyRunStreak checkout (it has no scripts/stack.sh and infra/names.json)")]
    NotACheckout(PathBuf),
    #[error("could not read the working directory: {0}")]
    WorkingDir(#[source] std::io::Error),
    #[error("{name} is not set and {file} does not have it: run `scripts/stack.sh up` first")]
    Missing { name: String, file: PathBuf },
}

/// A MyRunStreak checkout: the repository root whose `.stack/` holds the local stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    root: PathBuf,
}

impl Checkout {
    /// `explicit` if given (it must be a checkout), else the nearest ancestor of `cwd` that is.
    pub fn discover(explicit: Option<&Path>, cwd: &Path) -> Result<Self, StackEnvError> {
        if let Some(dir) = explicit {
            let dir = cwd.join(dir);
            return if is_checkout(&dir) {
                Ok(Self::at(dir))
            } else {
                Err(StackEnvError::NotACheckout(dir))
            };
        }
        cwd.ancestors()
            .find(|dir| is_checkout(dir))
            .map(Self::at)
            .ok_or_else(|| StackEnvError::NotInCheckout(cwd.to_owned()))
    }

    /// [`Checkout::discover`] with `STK_CHECKOUT` and the process's working directory.
    pub fn from_process() -> Result<Self, StackEnvError> {
        let explicit = std::env::var_os(CHECKOUT_VAR).map(PathBuf::from);
        let cwd = std::env::current_dir().map_err(StackEnvError::WorkingDir)?;
        Self::discover(explicit.as_deref(), &cwd)
    }

    fn at(dir: impl Into<PathBuf>) -> Self {
        let root = dir.into();
        Self {
            root: root.canonicalize().unwrap_or(root),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn env_file(&self) -> PathBuf {
        self.root.join(".stack/env")
    }
}

fn is_checkout(dir: &Path) -> bool {
    MARKERS.iter().all(|marker| dir.join(marker).is_file())
}

/// Where a setting came from, so a person can tell which stack a command talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    File,
    Environment,
}

/// Values from the environment, falling back to the checkout's `.stack/env` for what it does
/// not set.
#[derive(Debug, Clone)]
pub struct StackEnv {
    checkout: Checkout,
    values: HashMap<String, (String, Origin)>,
}

impl StackEnv {
    /// The stack of `checkout`: its `.stack/env` (if any) under `environment`.
    pub fn load(
        checkout: Checkout,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let mut values = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(checkout.env_file()) {
            for line in text.lines() {
                let line = line.trim().trim_start_matches("export ").trim();
                if let Some((k, v)) = line.split_once('=') {
                    let v = v.trim_matches(['"', '\'']).to_owned();
                    values.insert(k.to_owned(), (v, Origin::File));
                }
            }
        }
        for (k, v) in environment {
            values.insert(k, (v, Origin::Environment));
        }
        Self { checkout, values }
    }

    /// The stack of the checkout this process runs in (see [`Checkout::from_process`]).
    pub fn from_process() -> Result<Self, StackEnvError> {
        Ok(Self::load(Checkout::from_process()?, std::env::vars()))
    }

    pub fn checkout(&self) -> &Checkout {
        &self.checkout
    }

    pub fn get(&self, name: &str) -> Result<&str, StackEnvError> {
        self.values
            .get(name)
            .map(|(v, _)| v.as_str())
            .ok_or_else(|| StackEnvError::Missing {
                name: name.to_owned(),
                file: self.checkout.env_file(),
            })
    }

    pub fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name).unwrap_or(default)
    }

    /// An AWS SDK configuration pointed at moto.
    pub async fn aws(&self) -> Result<aws_config::SdkConfig, StackEnvError> {
        let endpoint = self.get("AWS_ENDPOINT_URL")?.to_owned();
        let region = self.get_or("AWS_REGION", "us-east-1").to_owned();
        let credentials = aws_sdk_sqs::config::Credentials::new(
            self.get_or("AWS_ACCESS_KEY_ID", "test"),
            self.get_or("AWS_SECRET_ACCESS_KEY", "test"),
            None,
            None,
            "local-stack",
        );
        Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(region))
            .credentials_provider(credentials)
            .load()
            .await)
    }
}

/// One line naming the checkout and the addresses it uses, with where each came from (never a
/// key).
impl fmt::Display for StackEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the local stack of {}", self.checkout.root.display())?;
        for (label, name) in [
            ("database API", "SUPABASE_URL"),
            ("AWS", "AWS_ENDPOINT_URL"),
        ] {
            match self.values.get(name) {
                Some((value, Origin::File)) => write!(f, "; {label} {value} (.stack/env)")?,
                Some((value, Origin::Environment)) => {
                    write!(f, "; {label} {value} (from ${name})")?;
                }
                None => write!(f, "; {label} not set")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_checkout() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for marker in MARKERS {
            let path = dir.path().join(marker);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        dir
    }

    #[test]
    fn the_nearest_checkout_above_the_working_directory_is_used() {
        let checkout = fake_checkout();
        let below = checkout.path().join("dev/local/src");
        std::fs::create_dir_all(&below).unwrap();
        let found = Checkout::discover(None, &below).unwrap();
        assert_eq!(found.root(), checkout.path().canonicalize().unwrap());
    }

    #[test]
    fn outside_a_checkout_nothing_is_guessed() {
        let elsewhere = tempfile::tempdir().unwrap();
        let err = Checkout::discover(None, elsewhere.path()).unwrap_err();
        assert!(matches!(err, StackEnvError::NotInCheckout(_)), "{err}");
        assert!(err.to_string().contains("--checkout"), "{err}");
        let err = Checkout::discover(Some(elsewhere.path()), Path::new("/")).unwrap_err();
        assert!(matches!(err, StackEnvError::NotACheckout(_)), "{err}");
    }

    #[test]
    fn the_environment_wins_over_the_file_and_says_so() {
        let dir = fake_checkout();
        std::fs::create_dir_all(dir.path().join(".stack")).unwrap();
        std::fs::write(
            dir.path().join(".stack/env"),
            "export SUPABASE_URL=http://127.0.0.1:1\nexport AWS_ENDPOINT_URL=http://127.0.0.1:2\n",
        )
        .unwrap();
        let checkout = Checkout::discover(Some(dir.path()), Path::new("/")).unwrap();
        let env = StackEnv::load(
            checkout,
            [(
                "AWS_ENDPOINT_URL".to_owned(),
                "http://127.0.0.1:3".to_owned(),
            )],
        );
        assert_eq!(env.get("SUPABASE_URL").unwrap(), "http://127.0.0.1:1");
        assert_eq!(env.get("AWS_ENDPOINT_URL").unwrap(), "http://127.0.0.1:3");
        let line = env.to_string();
        assert!(line.contains("http://127.0.0.1:1 (.stack/env)"), "{line}");
        assert!(
            line.contains("http://127.0.0.1:3 (from $AWS_ENDPOINT_URL)"),
            "{line}"
        );
        let err = env.get("SUPABASE_SERVICE_ROLE_KEY").unwrap_err();
        assert!(err.to_string().contains("scripts/stack.sh up"), "{err}");
    }
}
