//! The runner's views and settings: `stk streak` (and `stk` alone), `stats`, `recent`, `runs`,
//! `monthly`, `records`, `config` and `completions`. Each asks the API once and prints the answer
//! as text ([`crate::views`]) or, with `--json`, exactly as the API's type.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::CommandFactory as _;
use clap::error::ErrorKind;
use serde::Serialize;
use serde_json::Value;
use stk_protocol::{Settings, SettingsPatch};

use crate::app::connect;
use crate::cli::{
    Cli, CompletionsArgs, ConfigAction, ConfigCommand, JsonArgs, MonthlyArgs, RecentArgs, RunsArgs,
    Setting, usage_error,
};
use crate::client::ApiClient;
use crate::config::{ConfigStore, KeySource};
use crate::error::CliError;
use crate::format::{Units, parse_distance};
use crate::output::{Log, Out};
use crate::term::{self, ColorChoice, Paint};
use crate::timezone;
use crate::views::{self, LocalConfig, Style, UnitsSource};

/// The global options every view needs.
#[derive(Debug, Clone)]
pub struct Context {
    pub api_url: Option<String>,
    pub config_dir: Option<PathBuf>,
    /// `--units` / `STK_UNITS`.
    pub units: Option<Units>,
    pub color: ColorChoice,
    pub log: Log,
}

impl Context {
    fn connect(&self) -> Result<ApiClient, CliError> {
        connect(
            self.api_url.as_deref(),
            self.config_dir.as_deref(),
            self.log,
        )
    }

    /// `--units` / `STK_UNITS`, else `units` in `config.json`, else miles. A config file that
    /// cannot be read or holds odd units is warned about, not fatal: the view still shows.
    fn units(&self) -> (Units, UnitsSource) {
        if let Some(units) = self.units {
            return (units, UnitsSource::Flag);
        }
        let default = (Units::default(), UnitsSource::Default);
        let Ok(store) = ConfigStore::locate(self.config_dir.as_deref()) else {
            return default;
        };
        match store.load() {
            Ok(config) => match config.units {
                None => default,
                Some(Value::String(text)) => match text.parse() {
                    Ok(units) => (units, UnitsSource::ConfigFile),
                    Err(err) => {
                        self.log.warn(format_args!(
                            "ignoring `units` in {}: {err}; fix it with `stk config set units mi|km`",
                            store.path().display()
                        ));
                        default
                    }
                },
                Some(_) => {
                    self.log.warn(format_args!(
                        "ignoring `units` in {}: expected \"mi\" or \"km\"; fix it with `stk config set units mi|km`",
                        store.path().display()
                    ));
                    default
                }
            },
            Err(err) => {
                self.log.warn(format_args!("{err}"));
                default
            }
        }
    }

    /// Units, colour and width for text output on stdout.
    fn style(&self, units: Units) -> Style {
        let terminal = std::io::stdout().is_terminal();
        let color = term::color_enabled(self.color, terminal, std::env::var_os("NO_COLOR"));
        let columns = std::env::var("COLUMNS").ok();
        let width = term::width(columns.as_deref(), term::terminal_width());
        Style {
            units,
            paint: Paint::new(color),
            width,
        }
    }

    fn text_style(&self) -> Style {
        self.style(self.units().0)
    }
}

/// `stk streak` and `stk` alone.
pub async fn streak(ctx: &Context, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let summary = ctx.connect()?.streak().await?;
    if args.json {
        return out.json(&summary);
    }
    // Offered in the hint; a machine on UTC has nothing better to offer.
    let zone = if summary.time_zone_set {
        None
    } else {
        timezone::machine_zone().filter(|zone| !timezone::is_utc(zone))
    };
    out.text(&views::streak(&summary, zone.as_deref(), &ctx.text_style()))
}

/// `stk stats`.
pub async fn stats(ctx: &Context, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let stats = ctx.connect()?.stats().await?;
    if args.json {
        return out.json(&stats);
    }
    out.text(&views::stats(&stats, &ctx.text_style()))
}

/// `stk recent`.
pub async fn recent(ctx: &Context, args: RecentArgs, out: &mut Out) -> Result<(), CliError> {
    let list = ctx.connect()?.recent(args.limit).await?;
    if args.output.json {
        return out.json(&list);
    }
    out.text(&views::recent(&list, &ctx.text_style()))
}

/// `stk runs`.
pub async fn runs(ctx: &Context, args: RunsArgs, out: &mut Out) -> Result<(), CliError> {
    // Arguments first: a usage error wins over a configuration problem.
    let query = args.query()?;
    let list = ctx.connect()?.runs(&query).await?;
    if args.output.json {
        return out.json(&list);
    }
    out.text(&views::runs(&list, &query, &ctx.text_style()))
}

/// `stk monthly`.
pub async fn monthly(ctx: &Context, args: MonthlyArgs, out: &mut Out) -> Result<(), CliError> {
    let totals = ctx.connect()?.monthly(args.limit).await?;
    if args.output.json {
        return out.json(&totals);
    }
    out.text(&views::monthly(&totals, &ctx.text_style()))
}

/// `stk records`.
pub async fn records(ctx: &Context, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let records = ctx.connect()?.records().await?;
    if args.json {
        return out.json(&records);
    }
    out.text(&views::records(&records, &ctx.text_style()))
}

/// `stk completions SHELL`.
pub fn completions(args: CompletionsArgs, out: &mut Out) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "stk", &mut script);
    out.text(&String::from_utf8_lossy(&script))
}

/// `stk config [show|set ...]`.
pub async fn config(ctx: &Context, command: ConfigCommand, out: &mut Out) -> Result<(), CliError> {
    match command.action {
        None => show(ctx, JsonArgs { json: false }, out).await,
        Some(ConfigAction::Show(args)) => show(ctx, args, out).await,
        Some(ConfigAction::Set(set)) => match set.setting {
            Setting::Timezone { zone } => set_zone(ctx, zone, out).await,
            Setting::MinDistance { distance } => set_min_distance(ctx, &distance, out).await,
            Setting::Units { units } => set_units(ctx, units, out),
        },
    }
}

/// What `stk config show --json` prints: the server's settings as the API gives them, and what
/// this machine adds.
#[derive(Debug, Serialize)]
struct ConfigReport<'a> {
    settings: &'a Settings,
    units: &'static str,
    units_source: &'static str,
    api_url: String,
    api_key_source: String,
}

async fn show(ctx: &Context, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let client = ctx.connect()?;
    let settings = client.settings().await?;
    let (units, units_source) = ctx.units();
    let api_key_source = match client.key_source() {
        KeySource::Env => crate::config::API_KEY_ENV.to_owned(),
        KeySource::File(path) => path.display().to_string(),
    };
    if args.json {
        return out.json(&ConfigReport {
            settings: &settings,
            units: units.label(),
            units_source: units_source.code(),
            api_url: client.base_url().to_string(),
            api_key_source,
        });
    }
    let local = LocalConfig {
        units,
        units_source,
        api_url: client.base_url().to_string(),
        api_key_source: format!("from {api_key_source}"),
    };
    out.text(&views::config(&settings, &local, &ctx.style(units)))
}

async fn set_zone(ctx: &Context, zone: Option<String>, out: &mut Out) -> Result<(), CliError> {
    let zone = match zone {
        Some(zone) => zone.trim().to_owned(),
        None => {
            let zone = timezone::machine_zone().ok_or_else(|| {
                usage_error(
                    &["config", "set", "timezone"],
                    ErrorKind::MissingRequiredArgument,
                    "could not tell this machine's time zone: name one, e.g. `stk config set timezone Europe/Paris`".into(),
                )
            })?;
            out.line(format_args!("using this machine's time zone: {zone}"))?;
            zone
        }
    };
    let client = ctx.connect()?;
    let patch = SettingsPatch {
        time_zone: Some(zone),
        min_streak_distance_km: None,
    };
    let settings = client.update_settings(&patch).await?;
    out.line(format_args!(
        "time zone set to {}: streak days follow it from now on",
        views::zone(&settings)
    ))
}

async fn set_min_distance(ctx: &Context, text: &str, out: &mut Out) -> Result<(), CliError> {
    let units = ctx.units().0;
    let km = parse_distance(text, units).map_err(|message| {
        usage_error(
            &["config", "set", "min-distance"],
            ErrorKind::InvalidValue,
            message,
        )
    })?;
    let client = ctx.connect()?;
    let patch = SettingsPatch {
        time_zone: None,
        min_streak_distance_km: Some(km),
    };
    let settings = client.update_settings(&patch).await?;
    out.line(format_args!(
        "streak minimum set to {}",
        views::minimum(settings.min_streak_distance_km, &ctx.style(units))
    ))
}

fn set_units(ctx: &Context, units: Units, out: &mut Out) -> Result<(), CliError> {
    let store = ConfigStore::locate(ctx.config_dir.as_deref())?;
    let mut config = store.load()?;
    config.units = Some(Value::String(units.label().to_owned()));
    store.save(&config)?;
    out.line(format_args!(
        "units set to {units} (saved in {})",
        store.path().display()
    ))?;
    if let Some(overriding) = ctx.units.filter(|&flag| flag != units) {
        ctx.log.warn(format_args!(
            "--units or STK_UNITS ({overriding}) still takes precedence over config.json"
        ));
    }
    Ok(())
}
