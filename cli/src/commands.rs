//! The runner's views and settings: `stk streak` (and `stk` alone), `stats`, `recent`, `runs`,
//! `monthly`, `records`, `config` and `completions`. Each asks the API once and prints the answer
//! as text ([`crate::views`]) or, with `--json`, exactly as the API's type.

use clap::CommandFactory as _;
use clap::error::ErrorKind;
use serde::Serialize;
use serde_json::Value;
use stk_protocol::{Settings, SettingsPatch};

use crate::cli::{
    Cli, CompletionsArgs, ConfigAction, ConfigCommand, JsonArgs, MonthlyArgs, RecentArgs, RunsArgs,
    Setting, usage_error,
};
use crate::config::KeySource;
use crate::error::CliError;
use crate::format::{Units, parse_distance};
use crate::output::Out;
use crate::settings::Resolved;
use crate::timezone;
use crate::views::{self, LocalConfig};

/// `stk streak` and `stk` alone.
pub async fn streak(resolved: &Resolved, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let summary = resolved.connect()?.streak().await?;
    if args.json {
        return out.json(&summary);
    }
    // Offered in the hint; a machine on UTC has nothing better to offer.
    let zone = if summary.time_zone_set {
        None
    } else {
        timezone::machine_zone(resolved.env.tz.clone()).filter(|zone| !timezone::is_utc(zone))
    };
    out.text(&views::streak(
        &summary,
        zone.as_deref(),
        &resolved.text_style(),
    ))
}

/// `stk stats`.
pub async fn stats(resolved: &Resolved, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let stats = resolved.connect()?.stats().await?;
    if args.json {
        return out.json(&stats);
    }
    out.text(&views::stats(&stats, &resolved.text_style()))
}

/// `stk recent`.
pub async fn recent(resolved: &Resolved, args: RecentArgs, out: &mut Out) -> Result<(), CliError> {
    let list = resolved.connect()?.recent(args.limit).await?;
    if args.output.json {
        return out.json(&list);
    }
    out.text(&views::recent(&list, &resolved.text_style()))
}

/// `stk runs`.
pub async fn runs(resolved: &Resolved, args: RunsArgs, out: &mut Out) -> Result<(), CliError> {
    // Arguments first: a usage error wins over a configuration problem.
    let query = args.query()?;
    let list = resolved.connect()?.runs(&query).await?;
    if args.output.json {
        return out.json(&list);
    }
    out.text(&views::runs(&list, &query, &resolved.text_style()))
}

/// `stk monthly`.
pub async fn monthly(
    resolved: &Resolved,
    args: MonthlyArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let totals = resolved.connect()?.monthly(args.limit).await?;
    if args.output.json {
        return out.json(&totals);
    }
    out.text(&views::monthly(&totals, &resolved.text_style()))
}

/// `stk records`.
pub async fn records(resolved: &Resolved, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let records = resolved.connect()?.records().await?;
    if args.json {
        return out.json(&records);
    }
    out.text(&views::records(&records, &resolved.text_style()))
}

/// `stk completions SHELL`.
pub fn completions(args: CompletionsArgs, out: &mut Out) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "stk", &mut script);
    out.text(&String::from_utf8_lossy(&script))
}

/// `stk config [show|set ...]`.
pub async fn config(
    resolved: &Resolved,
    command: ConfigCommand,
    out: &mut Out,
) -> Result<(), CliError> {
    match command.action {
        None => show(resolved, JsonArgs { json: false }, out).await,
        Some(ConfigAction::Show(args)) => show(resolved, args, out).await,
        Some(ConfigAction::Set(set)) => match set.setting {
            Setting::Timezone { zone } => set_zone(resolved, zone, out).await,
            Setting::MinDistance { distance } => set_min_distance(resolved, &distance, out).await,
            Setting::Units { units } => set_units(resolved, units, out),
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

async fn show(resolved: &Resolved, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let client = resolved.connect()?;
    let settings = client.settings().await?;
    let (units, units_source) = resolved.units();
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
    out.text(&views::config(&settings, &local, &resolved.style(units)))
}

async fn set_zone(
    resolved: &Resolved,
    zone: Option<String>,
    out: &mut Out,
) -> Result<(), CliError> {
    let zone = match zone {
        Some(zone) => zone.trim().to_owned(),
        None => {
            let zone = timezone::machine_zone(resolved.env.tz.clone()).ok_or_else(|| {
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
    let client = resolved.connect()?;
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

async fn set_min_distance(resolved: &Resolved, text: &str, out: &mut Out) -> Result<(), CliError> {
    let units = resolved.units().0;
    let km = parse_distance(text, units).map_err(|message| {
        usage_error(
            &["config", "set", "min-distance"],
            ErrorKind::InvalidValue,
            message,
        )
    })?;
    let client = resolved.connect()?;
    let patch = SettingsPatch {
        time_zone: None,
        min_streak_distance_km: Some(km),
    };
    let settings = client.update_settings(&patch).await?;
    out.line(format_args!(
        "streak minimum set to {}",
        views::minimum(settings.min_streak_distance_km, &resolved.style(units))
    ))
}

fn set_units(resolved: &Resolved, units: Units, out: &mut Out) -> Result<(), CliError> {
    let (store, config) = resolved.config()?;
    let mut config = config.clone();
    config.units = Some(Value::String(units.label().to_owned()));
    store.save(&config)?;
    out.line(format_args!(
        "units set to {units} (saved in {})",
        store.path().display()
    ))?;
    if let Some(overriding) = resolved.units_flag.filter(|&flag| flag != units) {
        resolved.log.warn(format_args!(
            "--units or STK_UNITS ({overriding}) still takes precedence over config.json"
        ));
    }
    Ok(())
}
