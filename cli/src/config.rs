//! The CLI's own configuration: where it lives, how it is read and how it is written.
//!
//! The directory is `STK_CONFIG_DIR` (or `--config-dir`) when set, else `$XDG_CONFIG_HOME/stk`,
//! else `$HOME/.config/stk`. It holds `config.json`:
//!
//! ```json
//! { "api_key": "stk_...", "units": "km" }
//! ```
//!
//! `units` (`mi` or `km`, written by `stk config set units`) is optional: miles by default.
//!
//! Other keys may exist (written by newer or older versions of `stk`); they are kept as they are
//! when the file is rewritten. The file is written atomically with mode 0600 in a 0700 directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::client::parse_base_url;
use serde_json::{Map, Value};

/// Name of the environment variable that overrides the configured API key (for CI and scripts).
pub const API_KEY_ENV: &str = "STK_API_KEY";

/// Name of the configuration file inside the configuration directory.
pub const CONFIG_FILE: &str = "config.json";

/// An API key. Its `Debug` never shows the value, and it has no `Display`: the only way to the
/// text is [`ApiKey::expose`], used to build the `Authorization` header.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; surrounding whitespace (a pasted newline) is dropped. `None` when empty.
    pub fn new(raw: impl Into<String>) -> Option<Self> {
        let raw = raw.into();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            None
        } else {
            Some(Self(trimmed.to_owned()))
        }
    }

    /// The secret text. Only for the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where the API key in use came from; named in error messages (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `STK_API_KEY` environment variable.
    Env,
    /// The configuration file at this path.
    File(PathBuf),
}

/// The contents of `config.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigFile {
    /// One entry per API, by base URL: the key that API issued.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apis: BTreeMap<String, ApiEntry>,
    /// The API to use when neither `--api-url` nor `API_BASE_URL` names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// An early `stk`'s key, bound to no API: never sent; bound by [`ConfigFile::migrate`] when
    /// the file says which API it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    /// `mi` or `km`: the units the views show when `--units` and `STK_UNITS` do not say.
    /// Kept as any JSON value so that an odd one cannot make the whole file unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<Value>,
    /// Keys this version does not know; written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What `config.json` keeps for one API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The Python CLI's names in `config.json`.
const PYTHON_API_URL: &str = "api_base_url";
const PYTHON_USER_ID: &str = "user_id";

impl ConfigFile {
    /// The key the API at `base` issued, if this file holds one. Entries are compared as
    /// parsed URLs, so a trailing slash or the host's case does not matter.
    pub fn key_for(&self, base: &Url) -> Option<ApiKey> {
        self.apis
            .iter()
            .filter(|(url, _)| parse_base_url(url).is_ok_and(|url| url == *base))
            .find_map(|(_, entry)| entry.api_key.clone().and_then(|k| ApiKey::new(k.0)))
    }

    /// Stores `key` for the API at `base`, replacing the one it had.
    pub fn set_key(&mut self, base: &Url, key: ApiKey) {
        self.apis
            .retain(|url, _| parse_base_url(url).map_or(true, |url| url != *base));
        self.apis.insert(
            base.as_str().trim_end_matches('/').to_owned(),
            ApiEntry {
                api_key: Some(key),
                ..ApiEntry::default()
            },
        );
    }

    /// Forgets the key of the API at `base`.
    pub fn remove_key(&mut self, base: &Url) {
        self.apis
            .retain(|url, _| parse_base_url(url).map_or(true, |url| url != *base));
    }

    /// Rewrites an older file in the current form. Returns what changed, one note each, for
    /// the user (empty when the file was already current).
    pub fn migrate(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(legacy) = self.extra.remove(PYTHON_API_URL) {
            match legacy {
                Value::String(url) if self.api_url.is_none() && !url.trim().is_empty() => {
                    notes.push(format!(
                        "the Python CLI's `{PYTHON_API_URL}` is now `api_url`"
                    ));
                    self.api_url = Some(url.trim().to_owned());
                }
                _ => notes.push(format!("dropped the Python CLI's `{PYTHON_API_URL}`")),
            }
        }
        if self.extra.remove(PYTHON_USER_ID).is_some() {
            notes.push(format!(
                "dropped the Python CLI's `{PYTHON_USER_ID}`: the API knows you by your key"
            ));
        }
        let bindable = self
            .api_url
            .as_deref()
            .and_then(|url| parse_base_url(url).ok());
        if let (Some(key), Some(base)) = (self.api_key.clone(), bindable)
            && self.key_for(&base).is_none()
        {
            notes.push(format!("the API key is now kept for {base} only"));
            self.set_key(&base, key);
            self.api_key = None;
        }
        notes
    }
}

/// Everything that can go wrong with configuration. All of these exit with code 3. Cloneable:
/// a file read once at start may fail only the commands that need it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot find a config directory: set STK_CONFIG_DIR (or HOME)")]
    NoConfigDir,
    #[error("could not read {}: {source}: fix its permissions, or delete it and run `stk auth login`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("{} is not a valid stk config ({source}): fix it, or delete it and run `stk auth login`", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: Arc<serde_json::Error>,
    },
    #[error("could not write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("not logged in to {url}: run `stk auth login` (a key is sent only to the API that issued it){}", if *.unbound_key { "; the key in config.json names no API and is never sent" } else { "" })]
    NotLoggedIn { url: String, unbound_key: bool },
    #[error("{API_KEY_ENV} is not valid UTF-8 text: set it to the key `stk auth login` printed")]
    ApiKeyNotText,
    #[error(
        "the API key from {0} contains characters that cannot be sent: run `stk auth login` again"
    )]
    ApiKeyUnsendable(String),
    #[error(
        "no API URL configured: set API_BASE_URL (in the environment or a .env file) or pass --api-url"
    )]
    NoApiUrl,
    #[error(
        "the API URL `{url}` is not usable: {reason}: set API_BASE_URL to the address of the API, e.g. https://api.example.com/prod"
    )]
    BadApiUrl { url: String, reason: String },
}

/// The configuration directory and the file in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigStore {
    dir: PathBuf,
}

impl ConfigStore {
    /// A store in exactly this directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The store in `explicit` (from `--config-dir` / `STK_CONFIG_DIR`) when given, else in the
    /// XDG or home default; `env` looks those variables up (the resolved environment).
    pub fn locate_with(
        explicit: Option<&Path>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ConfigError> {
        if let Some(dir) = explicit.filter(|dir| !dir.as_os_str().is_empty()) {
            return Ok(Self::new(dir));
        }
        // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
        if let Some(xdg) = env("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
        {
            return Ok(Self::new(xdg.join("stk")));
        }
        if let Some(home) = env("HOME").filter(|home| !home.is_empty()) {
            return Ok(Self::new(PathBuf::from(home).join(".config").join("stk")));
        }
        Err(ConfigError::NoConfigDir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of `config.json`.
    pub fn path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// Reads the file; a missing file (or directory) is an empty configuration.
    pub fn load(&self) -> Result<ConfigFile, ConfigError> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path,
                    source: Arc::new(source),
                });
            }
        };
        if text.trim().is_empty() {
            return Ok(ConfigFile::default());
        }
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
            path,
            source: Arc::new(source),
        })
    }

    /// Writes the file atomically (a temporary file renamed over it), readable by its owner only.
    pub fn save(&self, config: &ConfigFile) -> Result<(), ConfigError> {
        let path = self.path();
        let write_err = |source| ConfigError::Write {
            path: path.clone(),
            source: Arc::new(source),
        };
        create_private_dir(&self.dir).map_err(write_err)?;
        let mut text =
            serde_json::to_string_pretty(config).map_err(|err| write_err(io::Error::other(err)))?;
        text.push('\n');

        let tmp = self
            .dir
            .join(format!(".{CONFIG_FILE}.tmp-{}", std::process::id()));
        let result =
            write_private_file(&tmp, text.as_bytes()).and_then(|()| fs::rename(&tmp, &path));
        if result.is_err() {
            // Best effort: do not leave a half-written temporary file behind.
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(write_err)
    }

    /// The file's permission bits when group or others may read or write it (it holds a secret).
    pub fn loose_permissions(&self) -> Option<u32> {
        loose_permissions(&self.path())
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // The mode above applies only when the file is created: make sure of it for a stale file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

/// The key to send to the API at `base`: `STK_API_KEY` when set and not empty (`env_key`: the
/// caller's explicit choice), else the one `config` keeps for that API.
pub fn resolve_api_key(
    env_key: Option<String>,
    base: &Url,
    config: impl FnOnce() -> Result<(ConfigStore, ConfigFile), ConfigError>,
) -> Result<(ApiKey, KeySource), ConfigError> {
    if let Some(key) = env_key.and_then(ApiKey::new) {
        return Ok((key, KeySource::Env));
    }
    let (store, config) = config()?;
    match config.key_for(base) {
        Some(key) => Ok((key, KeySource::File(store.path()))),
        None => Err(ConfigError::NotLoggedIn {
            url: base.as_str().trim_end_matches('/').to_owned(),
            unbound_key: config.api_key.is_some(),
        }),
    }
}

/// The permission bits of the file at `path` when group or others may read or write it.
#[cfg(unix)]
pub fn loose_permissions(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Permission bits are a Unix notion; elsewhere there is nothing to check.
#[cfg(not(unix))]
pub fn loose_permissions(_path: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn explicit_dir_wins_over_xdg_and_home() {
        let env = env_of(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/home/r")]);
        let store = ConfigStore::locate_with(Some(Path::new("/explicit")), env).unwrap();
        assert_eq!(store.path(), PathBuf::from("/explicit/config.json"));
    }

    #[test]
    fn xdg_then_home_then_nothing() {
        let store =
            ConfigStore::locate_with(None, env_of(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/h")]))
                .unwrap();
        assert_eq!(store.dir(), Path::new("/xdg/stk"));

        let store =
            ConfigStore::locate_with(None, env_of(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/h")]))
                .unwrap();
        assert_eq!(store.dir(), Path::new("/h/.config/stk"));

        let store =
            ConfigStore::locate_with(Some(Path::new("")), env_of(&[("HOME", "/h")])).unwrap();
        assert_eq!(store.dir(), Path::new("/h/.config/stk"));

        let err = ConfigStore::locate_with(None, env_of(&[("HOME", "")])).unwrap_err();
        assert!(matches!(err, ConfigError::NoConfigDir));
    }

    #[test]
    fn missing_file_is_an_empty_config() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(tmp.path().join("does-not-exist"));
        assert_eq!(store.load().unwrap(), ConfigFile::default());
    }

    #[test]
    fn save_keeps_unknown_keys_and_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(tmp.path().join("stk"));
        fs::create_dir_all(store.dir()).unwrap();
        fs::write(
            store.path(),
            r#"{"api_key": "stk_old", "units": "km", "nested": {"a": [1, 2]}}"#,
        )
        .unwrap();

        let mut config = store.load().unwrap();
        assert_eq!(config.api_key.as_ref().unwrap().expose(), "stk_old");
        config.api_key = ApiKey::new("stk_new");
        store.save(&config).unwrap();

        let written: Value =
            serde_json::from_str(&fs::read_to_string(store.path()).unwrap()).unwrap();
        assert_eq!(written["api_key"], "stk_new");
        assert_eq!(written["units"], "km");
        assert_eq!(written["nested"]["a"][1], 2);
        assert_eq!(store.load().unwrap(), config);
    }

    #[cfg(unix)]
    #[test]
    fn save_creates_private_file_and_dir() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(tmp.path().join("a").join("stk"));
        store
            .save(&ConfigFile {
                api_key: ApiKey::new("stk_x"),
                ..ConfigFile::default()
            })
            .unwrap();
        let file_mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        let dir_mode = fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600);
        assert_eq!(dir_mode, 0o700);
        assert_eq!(store.loose_permissions(), None);
        // No temporary file left behind.
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn save_tightens_a_world_readable_file_and_loose_modes_are_reported() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(tmp.path());
        fs::write(store.path(), r#"{"api_key": "stk_x"}"#).unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(store.loose_permissions(), Some(0o644));

        store.save(&store.load().unwrap()).unwrap();
        assert_eq!(store.loose_permissions(), None);
    }

    #[test]
    fn invalid_json_is_a_parse_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(tmp.path());
        fs::write(store.path(), "{not json").unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }));
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    fn url(text: &str) -> Url {
        parse_base_url(text).unwrap()
    }

    #[test]
    fn env_key_overrides_the_file_and_empty_values_do_not_count() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(tmp.path());
        let api = url("https://api.example.com/prod");
        fs::write(
            store.path(),
            r#"{"apis": {"https://api.example.com/prod/": {"api_key": "stk_file"}}}"#,
        )
        .unwrap();
        let located = || Ok((store.clone(), store.load()?));

        // The env key wins, and the config file is not even looked for.
        let (key, source) = resolve_api_key(Some("stk_env\n".into()), &api, || {
            Err(ConfigError::NoConfigDir)
        })
        .unwrap();
        assert_eq!(key.expose(), "stk_env");
        assert_eq!(source, KeySource::Env);

        let (key, source) = resolve_api_key(Some("  ".into()), &api, located).unwrap();
        assert_eq!(key.expose(), "stk_file");
        assert_eq!(source, KeySource::File(store.path()));

        fs::write(
            store.path(),
            r#"{"apis": {"https://api.example.com/prod": {"api_key": ""}}}"#,
        )
        .unwrap();
        let err = resolve_api_key(None, &api, located).unwrap_err();
        assert!(matches!(err, ConfigError::NotLoggedIn { .. }), "{err}");
    }

    #[test]
    fn a_key_is_given_only_to_the_api_that_issued_it() {
        let mut config = ConfigFile::default();
        config.set_key(
            &url("https://api.example.com/prod"),
            ApiKey::new("stk_a").unwrap(),
        );
        assert_eq!(
            config
                .key_for(&url("https://API.example.com/prod/"))
                .unwrap()
                .expose(),
            "stk_a"
        );
        for other in [
            "https://api.example.com",
            "https://api.example.com/prod/v2",
            "https://api.example.com:8443/prod",
            "https://capture.example.net/prod",
            "http://127.0.0.1:9/prod",
        ] {
            assert!(config.key_for(&url(other)).is_none(), "{other}");
        }
        let err = resolve_api_key(None, &url("https://capture.example.net"), || {
            Ok((ConfigStore::new("/nowhere"), config.clone()))
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "not logged in to https://capture.example.net: run `stk auth login` (a key is sent only to the API that issued it)"
        );
    }

    #[test]
    fn the_python_clis_config_is_migrated() {
        let mut config: ConfigFile = serde_json::from_str(
            r#"{"api_base_url": "https://api.example.com/prod", "user_id": "u-1", "theme": "dark"}"#,
        )
        .unwrap();
        let notes = config.migrate();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(
            config.api_url.as_deref(),
            Some("https://api.example.com/prod")
        );
        let written = serde_json::to_value(&config).unwrap();
        assert_eq!(
            written,
            serde_json::json!({"api_url": "https://api.example.com/prod", "theme": "dark"})
        );
        assert!(config.migrate().is_empty(), "a current file is left alone");
    }

    #[test]
    fn an_unbound_key_is_bound_only_when_the_file_names_its_api() {
        let mut alone: ConfigFile = serde_json::from_str(r#"{"api_key": "stk_old"}"#).unwrap();
        assert!(alone.migrate().is_empty());
        assert!(alone.apis.is_empty() && alone.api_key.is_some());

        let mut named: ConfigFile = serde_json::from_str(
            r#"{"api_key": "stk_old", "api_base_url": "https://api.example.com"}"#,
        )
        .unwrap();
        named.migrate();
        assert!(named.api_key.is_none());
        assert_eq!(
            named
                .key_for(&url("https://api.example.com"))
                .unwrap()
                .expose(),
            "stk_old"
        );
    }

    #[test]
    fn plain_http_is_refused_but_to_this_machine() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1/x",
            "http://[::1]:2",
            "https://a.example",
        ] {
            assert!(parse_base_url(ok).is_ok(), "{ok}");
        }
        let err = parse_base_url("http://api.example.com/prod").unwrap_err();
        assert!(err.to_string().contains("use https://"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let config = ConfigFile {
            api_key: ApiKey::new("stk_secret_value"),
            ..ConfigFile::default()
        };
        assert!(!format!("{config:?}").contains("stk_secret_value"));
    }
}
