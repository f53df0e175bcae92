//! How a sandbox is set up.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde_json::Value;
use time::Date;

/// Settings of one sandbox. `Default` gives the streaker profile with seed 42.
#[derive(Clone)]
pub struct SandboxConfig {
    /// OAuth client id the sandbox accepts. Default `sandbox-client`.
    pub client_id: String,
    /// OAuth client secret the sandbox accepts. Default `sandbox-secret`.
    pub client_secret: String,
    /// SmashRun user id of the single simulated runner. Default 101.
    pub user_id: i64,
    /// User name of the runner. Default `streaker`.
    pub user_name: String,
    /// Where the activities come from.
    pub data: DataSource,
    /// "Today" for generated histories and for the current streak; `None` means the current UTC date (read at
    /// construction for generation, and at each request for streaks).
    pub today: Option<Date>,
    /// Access token lifetime in seconds. Default 7,257,600 (12 weeks, as reported for SmashRun).
    pub expires_in: u64,
    /// What refreshing does to the refresh token.
    pub refresh_policy: RefreshPolicy,
    /// Approve authorisation requests without showing the consent page. Default `true`.
    pub auto_approve: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            client_id: "sandbox-client".into(),
            client_secret: "sandbox-secret".into(),
            user_id: 101,
            user_name: "streaker".into(),
            data: DataSource::default(),
            today: None,
            expires_in: 7_257_600,
            refresh_policy: RefreshPolicy::default(),
            auto_approve: true,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("user_name", &self.user_name)
            .field("data", &self.data)
            .field("today", &self.today)
            .field("expires_in", &self.expires_in)
            .field("refresh_policy", &self.refresh_policy)
            .field("auto_approve", &self.auto_approve)
            .finish()
    }
}

/// The activities the sandbox serves.
#[derive(Clone)]
pub enum DataSource {
    /// A history generated deterministically from the profile, the seed and `today`.
    Generated {
        /// Which runner.
        profile: Profile,
        /// PRNG seed.
        seed: u64,
    },
    /// A file holding a JSON array of SmashRun activity objects.
    File(PathBuf),
    /// SmashRun activity objects given directly.
    Activities(Vec<Value>),
}

impl Default for DataSource {
    fn default() -> Self {
        Self::Generated {
            profile: Profile::Streaker,
            seed: 42,
        }
    }
}

impl fmt::Debug for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generated { profile, seed } => f
                .debug_struct("Generated")
                .field("profile", profile)
                .field("seed", seed)
                .finish(),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Activities(list) => write!(f, "Activities({} objects)", list.len()),
        }
    }
}

/// A simulated runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// About 4,900 activities over 13 years; a current streak of exactly 4,330 days ending yesterday, after a gap day
    /// and about 15 months of running 3-4 times a week.
    Streaker,
    /// About 20,600 activities over 55 years of near-daily running; a current streak of exactly 12,000 days ending
    /// yesterday.
    Lifetime,
    /// About 70 activities over 60 days; a current streak of exactly 52 days ending yesterday (for fast tests).
    Small,
}

impl Profile {
    /// Length in days of the generated current streak (it always ends the day before `today`, and it is also the
    /// longest streak).
    pub fn current_streak_days(self) -> u32 {
        match self {
            Self::Streaker => 4_330,
            Self::Lifetime => 12_000,
            Self::Small => 52,
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Streaker => "streaker",
            Self::Lifetime => "lifetime",
            Self::Small => "small",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "streaker" => Ok(Self::Streaker),
            "lifetime" => Ok(Self::Lifetime),
            "small" => Ok(Self::Small),
            other => Err(format!(
                "unknown profile {other:?}, use one of: streaker, lifetime, small"
            )),
        }
    }
}

/// What happens to a refresh token when it is used (SmashRun's behaviour is unknown, so all three are simulated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RefreshPolicy {
    /// The same refresh token comes back and stays valid.
    #[default]
    Reusable,
    /// A new refresh token comes back each time; the old one stops working.
    Rotating,
    /// The same refresh token comes back; it stops working 30 days after it was first issued.
    Expiring,
}

impl RefreshPolicy {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reusable => "reusable",
            Self::Rotating => "rotating",
            Self::Expiring => "expiring",
        }
    }
}

impl fmt::Display for RefreshPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RefreshPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reusable" => Ok(Self::Reusable),
            "rotating" => Ok(Self::Rotating),
            "expiring" => Ok(Self::Expiring),
            other => Err(format!(
                "unknown refresh policy {other:?}, use one of: reusable, rotating, expiring"
            )),
        }
    }
}
