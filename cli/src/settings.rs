//! One resolved configuration per run: the global flags, what the process environment says and
//! what `config.json` holds, each read once, here, and handed to every command.
//!
//! `./.env` is loaded into the environment before the arguments are parsed (see `lib.rs`), so
//! clap's `env = ...` fallbacks see it; nothing after this module reads the environment.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use reqwest::Url;
use serde_json::Value;

use crate::cli::Cli;
use crate::client::{ApiClient, parse_base_url};
use crate::config::{self, ApiKey, ConfigError, ConfigFile, ConfigStore, KeySource};
use crate::error::CliError;
use crate::format::Units;
use crate::output::Log;
use crate::term::{self, ColorChoice, Paint};
use crate::views::{Style, UnitsSource};

/// The process environment, as far as `stk` uses it (clap reads its own flags' variables).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `STK_API_KEY`: an explicit key, for scripts and CI.
    pub api_key: Option<String>,
    pub xdg_config_home: Option<OsString>,
    pub home: Option<OsString>,
    pub no_color: Option<OsString>,
    pub columns: Option<String>,
    /// `TZ`, offered by `stk config set timezone`.
    pub tz: Option<OsString>,
    /// `$BROWSER` and whether a display is there to open one on.
    pub browser: Option<String>,
    pub display: bool,
}

impl Environment {
    pub fn from_process() -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var_os(name);
        Ok(Self {
            api_key: match std::env::var(config::API_KEY_ENV) {
                Ok(value) => Some(value),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => return Err(ConfigError::ApiKeyNotText),
            },
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: var("HOME"),
            no_color: var("NO_COLOR"),
            columns: std::env::var("COLUMNS").ok(),
            tz: var("TZ"),
            browser: std::env::var("BROWSER")
                .ok()
                .filter(|b| !b.trim().is_empty()),
            display: var("DISPLAY").is_some() || var("WAYLAND_DISPLAY").is_some(),
        })
    }
}

/// `config.json`, read once (and rewritten in the current form if an older `stk` or the Python
/// CLI wrote it). A file that cannot be read is an error only for commands that need it.
#[derive(Debug)]
enum Loaded {
    Read(ConfigStore, ConfigFile),
    /// No config folder can be found (no `STK_CONFIG_DIR`, `XDG_CONFIG_HOME` or `HOME`).
    Nowhere,
    Unreadable(ConfigError),
}

/// Everything a command needs to know, resolved once per run.
#[derive(Debug)]
pub struct Resolved {
    /// `--api-url`, `API_BASE_URL` or `./.env`, as clap found it.
    api_url: Option<String>,
    /// `--units` / `STK_UNITS`.
    pub units_flag: Option<Units>,
    pub color: ColorChoice,
    pub log: Log,
    pub env: Environment,
    loaded: Loaded,
}

impl Resolved {
    pub fn new(cli: &Cli, env: Environment) -> Self {
        let log = Log::new(cli.verbose);
        let located = ConfigStore::locate_with(cli.config_dir.as_deref(), |name| match name {
            "XDG_CONFIG_HOME" => env.xdg_config_home.clone(),
            "HOME" => env.home.clone(),
            _ => None,
        });
        let loaded = match located {
            Err(_) => Loaded::Nowhere,
            Ok(store) => match load(&store, log) {
                Ok(config) => Loaded::Read(store, config),
                Err(err) => Loaded::Unreadable(err),
            },
        };
        Self {
            api_url: cli.api_url.clone().filter(|url| !url.trim().is_empty()),
            units_flag: cli.units,
            color: cli.color,
            log,
            env,
            loaded,
        }
    }

    /// The config file, for commands that need it.
    pub fn config(&self) -> Result<(&ConfigStore, &ConfigFile), ConfigError> {
        match &self.loaded {
            Loaded::Read(store, config) => Ok((store, config)),
            Loaded::Nowhere => Err(ConfigError::NoConfigDir),
            Loaded::Unreadable(err) => Err(err.clone()),
        }
    }

    /// The API a command is aimed at: `--api-url`, `API_BASE_URL`, `./.env`, else `api_url` in
    /// `config.json`.
    pub fn base_url(&self) -> Result<Url, ConfigError> {
        if let Some(url) = &self.api_url {
            return parse_base_url(url);
        }
        let default = match &self.loaded {
            Loaded::Read(_, config) => config.api_url.as_deref(),
            Loaded::Nowhere => None,
            Loaded::Unreadable(err) => return Err(err.clone()),
        };
        parse_base_url(default.ok_or(ConfigError::NoApiUrl)?)
    }

    /// The key for the API at `base`: `STK_API_KEY`, else the one `config.json` keeps for it.
    pub fn api_key(&self, base: &Url) -> Result<(ApiKey, KeySource), ConfigError> {
        config::resolve_api_key(self.env.api_key.clone(), base, || {
            self.config()
                .map(|(store, config)| (store.clone(), config.clone()))
        })
    }

    /// An API client for the API aimed at, with its key.
    pub fn connect(&self) -> Result<ApiClient, CliError> {
        let base = self.base_url()?;
        let (key, source) = self.api_key(&base)?;
        match &source {
            KeySource::Env => self
                .log
                .debug(format_args!("API key from {}", config::API_KEY_ENV)),
            KeySource::File(path) => {
                self.log
                    .debug(format_args!("API key from {}", path.display()));
                if let Some(mode) = config::loose_permissions(path) {
                    self.log.warn(format_args!(
                        "{path} is readable by other users (mode {mode:o}) and holds your API key: run `chmod 600 {path}`",
                        path = path.display()
                    ));
                }
            }
        }
        self.log.debug(format_args!("API at {base}"));
        ApiClient::new(base, &key, source, self.log)
    }

    /// `--units` / `STK_UNITS`, else `units` in `config.json`, else miles. A config file that
    /// cannot be read or holds odd units is warned about, not fatal: the view still shows.
    pub fn units(&self) -> (Units, UnitsSource) {
        if let Some(units) = self.units_flag {
            return (units, UnitsSource::Flag);
        }
        let default = (Units::default(), UnitsSource::Default);
        let (store, config) = match &self.loaded {
            Loaded::Read(store, config) => (store, config),
            Loaded::Nowhere => return default,
            Loaded::Unreadable(err) => {
                self.log.warn(format_args!("{err}"));
                return default;
            }
        };
        let odd = |why: &str| {
            self.log.warn(format_args!(
                "ignoring `units` in {}: {why}; fix it with `stk config set units mi|km`",
                store.path().display()
            ));
            default
        };
        match &config.units {
            None => default,
            Some(Value::String(text)) => match text.parse() {
                Ok(units) => (units, UnitsSource::ConfigFile),
                Err(err) => odd(&err.to_string()),
            },
            Some(_) => odd("expected \"mi\" or \"km\""),
        }
    }

    /// Units, colour and width for text output on stdout.
    pub fn style(&self, units: Units) -> Style {
        let terminal = std::io::stdout().is_terminal();
        let color = term::color_enabled(self.color, terminal, self.env.no_color.clone());
        let width = term::width(self.env.columns.as_deref(), term::terminal_width());
        Style {
            units,
            paint: Paint::new(color),
            width,
        }
    }

    pub fn text_style(&self) -> Style {
        self.style(self.units().0)
    }

    /// The config folder (for files beside `config.json`), when there is one.
    pub fn config_dir(&self) -> Option<PathBuf> {
        match &self.loaded {
            Loaded::Read(store, _) => Some(store.dir().to_owned()),
            _ => None,
        }
    }
}

/// Reads `config.json`, rewriting a file of an older `stk` (or of the Python CLI) in the current
/// form and saying what changed.
fn load(store: &ConfigStore, log: Log) -> Result<ConfigFile, ConfigError> {
    let mut config = store.load()?;
    let notes = config.migrate();
    if !notes.is_empty() {
        store.save(&config)?;
        for note in notes {
            log.warn(format_args!("updated {}: {note}", store.path().display()));
        }
    }
    Ok(config)
}
