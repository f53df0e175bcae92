//! `stk auth login|status|logout`.
//!
//! Login: `stk` keeps a random session secret and opens a login session with its SHA-256; the
//! runner signs in with SmashRun in a browser (on this machine or any other); SmashRun sends
//! the browser to the API, which links the account; `stk` polls with the secret and receives
//! the API key once. The key is stored for that API only. No SmashRun token ever reaches this
//! machine.

use std::io::IsTerminal as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Url;
use sha2::{Digest, Sha256};
use stk_protocol::{KeyPickup, LoginSessionRequest, ManualCallback, Me};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::{AuthAction, AuthCommand, JsonArgs, LoginArgs, LogoutArgs};
use crate::client::{ApiClient, PickupAnswer, is_insecure};
use crate::config::{self, ApiKey, ConfigFile, ConfigStore, KeySource};
use crate::error::CliError;
use crate::output::{Log, Out};
use crate::render::clean;
use crate::settings::{Environment, Resolved};

/// The Python CLI kept SmashRun tokens here; they have no place on this machine any more.
pub const LEGACY_TOKENS_FILE: &str = "tokens.json";
/// Never wait longer than this, whatever the session says.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

pub async fn run(resolved: &Resolved, auth: AuthCommand, out: &mut Out) -> Result<(), CliError> {
    match auth.action {
        AuthAction::Login(args) => login(resolved, args, out).await,
        AuthAction::Status(args) => status(resolved, args, out).await,
        AuthAction::Logout(args) => logout(resolved, args, out).await,
    }
}

/// The config file (a copy, to change and save) and the API a command is aimed at.
fn target(resolved: &Resolved) -> Result<(ConfigStore, ConfigFile, Url), CliError> {
    let base = resolved.base_url()?;
    let (store, config) = resolved.config()?;
    Ok((store.clone(), config.clone(), base))
}

async fn login(resolved: &Resolved, args: LoginArgs, out: &mut Out) -> Result<(), CliError> {
    let log = resolved.log;
    let (store, mut config, base) = target(resolved)?;
    let client = ApiClient::anonymous(base.clone(), log)?;
    let secret = random_secret()?;
    let session = client
        .open_login(&LoginSessionRequest {
            secret_sha256: hex(&Sha256::digest(secret.as_bytes())),
        })
        .await?;
    let authorize = consent_url(&session.authorize_url)?;

    out.line("Sign in with SmashRun at this address (on this machine or any other, a phone too):")?;
    out.line(format_args!("  {authorize}"))?;
    if args.no_browser {
        out.line(
            "If your browser cannot reach the API afterwards, paste here the address it was sent to (or its code).",
        )?;
    } else {
        open_browser(authorize.as_str(), &resolved.env, log);
    }
    out.flush()?;

    let deadline = OffsetDateTime::parse(&session.expires_at, &Rfc3339)
        .ok()
        .map(|at| at - OffsetDateTime::now_utc())
        .and_then(|left| Duration::try_from(left).ok())
        .map_or(MAX_WAIT, |left| left.min(MAX_WAIT));
    let interval = Duration::from_millis(session.poll_interval_ms.clamp(100, 5_000));
    let pasted = args.no_browser.then(paste_reader);
    let issued = tokio::select! {
        issued = wait_for_key(&client, &session.session_id, &secret, &session.state, interval, pasted, log) => issued?,
        () = tokio::time::sleep(deadline) => return Err(CliError::LoginExpired),
        _ = tokio::signal::ctrl_c() => return Err(CliError::LoginCancelled),
    };

    let key = ApiKey::new(issued.api_key).ok_or_else(|| CliError::BadAnswer {
        what: "POST /auth/sessions/{id}/token".into(),
        cause: "the key is empty".into(),
    })?;
    config.set_key(&base, key);
    if config.api_url.is_none() {
        config.api_url = Some(base.as_str().trim_end_matches('/').to_owned());
    }
    store.save(&config)?;
    out.line(format_args!(
        "Logged in to {} as {}. Your API key is in {} (for this API only).",
        base.as_str().trim_end_matches('/'),
        clean(&issued.name),
        store.path().display()
    ))?;
    if remove_legacy_tokens(store.dir(), log) {
        out.line(format_args!(
            "Removed the old {LEGACY_TOKENS_FILE} of the Python CLI: SmashRun tokens now live on the server only."
        ))?;
    }
    out.line("Next: `stk sync --wait`, then `stk` for your streak.")?;
    Ok(())
}

/// Polls for the key; meanwhile a code pasted on stdin (with `--no-browser`) is handed in.
async fn wait_for_key(
    client: &ApiClient,
    session_id: &str,
    secret: &str,
    state: &str,
    interval: Duration,
    mut pasted: Option<tokio::sync::mpsc::Receiver<String>>,
    log: Log,
) -> Result<stk_protocol::IssuedKey, CliError> {
    let spinner = spinner();
    let pickup = KeyPickup {
        session_secret: secret.to_owned(),
    };
    // Soon at first (a browser on this machine can be done in well under a second), then at
    // the pace the API asks for.
    let mut delay = Duration::from_millis(100).min(interval);
    loop {
        if let PickupAnswer::Issued(key) = client.pickup(session_id, &pickup).await? {
            spinner.finish_and_clear();
            return Ok(key);
        }
        let wait = delay;
        delay = (delay * 2).min(interval);
        let mut closed = false;
        let line = match pasted.as_mut() {
            Some(lines) => tokio::select! {
                line = lines.recv() => {
                    closed = line.is_none();
                    line
                }
                () = tokio::time::sleep(wait) => None,
            },
            None => {
                tokio::time::sleep(wait).await;
                None
            }
        };
        if closed {
            // Nothing more can be pasted (stdin ended): poll on alone.
            pasted = None;
            tokio::time::sleep(wait).await;
        }
        let Some(line) = line else {
            continue;
        };
        let Some((code, pasted_state)) = read_pasted(&line) else {
            log.warn(format_args!(
                "that is not a code or an address with one: paste the address SmashRun sent your browser to"
            ));
            continue;
        };
        let callback = ManualCallback {
            code,
            state: pasted_state.unwrap_or_else(|| state.to_owned()),
        };
        let linked = client.manual_callback(&callback).await?;
        spinner.println(format!(
            "SmashRun account of {} linked",
            clean(&linked.name)
        ));
    }
}

fn spinner() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message("waiting for you to sign in with SmashRun");
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// Lines typed or pasted on stdin, read off the runtime.
fn paste_reader() -> tokio::sync::mpsc::Receiver<String> {
    let (send, receive) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            if !line.trim().is_empty() && send.blocking_send(line.trim().to_owned()).is_err() {
                break;
            }
            line.clear();
        }
    });
    receive
}

/// A pasted code, or an address carrying `code` (and `state`).
fn read_pasted(text: &str) -> Option<(String, Option<String>)> {
    let text = text.trim();
    if let Ok(url) = Url::parse(text) {
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        return param("code").map(|code| (code, param("state")));
    }
    let code_like = !text.is_empty()
        && text.len() <= 512
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    code_like.then(|| (text.to_owned(), None))
}

/// The consent address the API sent, checked before any browser is pointed at it.
fn consent_url(raw: &str) -> Result<Url, CliError> {
    let bad = |why: &str| CliError::BadAnswer {
        what: "POST /auth/sessions".into(),
        cause: format!("the sign-in address {why}"),
    };
    let url = Url::parse(raw).map_err(|_| bad("is not an address"))?;
    if !matches!(url.scheme(), "https" | "http") || is_insecure(&url) {
        return Err(bad("is not https"));
    }
    Ok(url)
}

/// `$BROWSER` when set (the address is its last argument), else the platform's opener, and
/// only where there is a display to open it on. Failing to open is not an error: the address
/// is printed.
fn open_browser(url: &str, env: &Environment, log: Log) {
    let opener: Option<Vec<String>> = match &env.browser {
        Some(browser) => Some(browser.split_whitespace().map(str::to_owned).collect()),
        None if cfg!(target_os = "macos") => Some(vec!["open".into()]),
        None if env.display => Some(vec!["xdg-open".into()]),
        None => None,
    };
    let Some(mut command) = opener.filter(|c| !c.is_empty()) else {
        log.debug(format_args!(
            "no display and no $BROWSER: not opening a browser"
        ));
        return;
    };
    let program = command.remove(0);
    let spawned = std::process::Command::new(&program)
        .args(command)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        log.warn(format_args!(
            "could not open a browser ({program}: {e}): open the address above yourself"
        ));
    }
}

fn random_secret() -> Result<String, CliError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| CliError::Runtime(std::io::Error::other(e.to_string())))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deletes the Python CLI's `tokens.json`; true if there was one.
fn remove_legacy_tokens(dir: &Path, log: Log) -> bool {
    let path = dir.join(LEGACY_TOKENS_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            log.warn(format_args!(
                "could not remove {} ({e}): delete it yourself, it holds SmashRun tokens",
                path.display()
            ));
            false
        }
    }
}

async fn status(resolved: &Resolved, args: JsonArgs, out: &mut Out) -> Result<(), CliError> {
    let log = resolved.log;
    let base = resolved.base_url()?;
    if let Some(legacy) = resolved
        .config_dir()
        .map(|dir| dir.join(LEGACY_TOKENS_FILE))
        .filter(|legacy| legacy.exists())
    {
        log.warn(format_args!(
            "{} holds the Python CLI's SmashRun tokens: run `stk auth login` (it removes the file), or delete it",
            legacy.display()
        ));
    }
    let (key, source) = resolved.api_key(&base)?;
    let me = ApiClient::new(base.clone(), &key, source.clone(), log)?
        .me()
        .await?;
    if args.json {
        return out.json(&me);
    }
    show_me(&me, &base, &source, out)
}

fn show_me(me: &Me, base: &Url, source: &KeySource, out: &mut Out) -> Result<(), CliError> {
    let when = |at: Option<&str>| at.map_or_else(|| "never".to_owned(), |t| clean(t).into_owned());
    out.line(format_args!(
        "API         {}",
        base.as_str().trim_end_matches('/')
    ))?;
    out.line(format_args!(
        "user        {} ({})",
        clean(me.name.as_deref().unwrap_or("no name")),
        clean(&me.user_id)
    ))?;
    match &me.smashrun {
        None => out.line("SmashRun    not linked: run `stk auth login`")?,
        Some(link) => {
            out.line(format_args!(
                "SmashRun    account {}{}",
                clean(&link.account_id),
                link.user_name
                    .as_deref()
                    .map(|n| format!(" ({})", clean(n)))
                    .unwrap_or_default()
            ))?;
            if link.needs_relink {
                out.line("token       refused by SmashRun: run `stk auth login` to link the account again")?;
            } else {
                out.line(format_args!(
                    "token       {}, refreshed {}",
                    expires_in(link.token_expires_in_s),
                    clean(&link.token_refreshed_at)
                ))?;
            }
        }
    }
    out.line(format_args!(
        "last sync   {}",
        when(me.last_sync_at.as_deref())
    ))?;
    out.line(format_args!(
        "key         {}… created {}, last used {}",
        clean(&me.key.prefix),
        clean(&me.key.created_at),
        when(me.key.last_used_at.as_deref())
    ))?;
    let from = match source {
        KeySource::Env => config::API_KEY_ENV.to_owned(),
        KeySource::File(path) => path.display().to_string(),
    };
    out.line(format_args!("key from    {from}"))
}

fn expires_in(seconds: i64) -> String {
    if seconds <= 0 {
        return "expired (the next sync refreshes it)".into();
    }
    let hours = seconds / 3600;
    if hours >= 48 {
        format!("expires in {} days", hours / 24)
    } else {
        format!("expires in {hours} h {} min", (seconds % 3600) / 60)
    }
}

async fn logout(resolved: &Resolved, args: LogoutArgs, out: &mut Out) -> Result<(), CliError> {
    let log = resolved.log;
    let (store, mut config, base) = target(resolved)?;
    let shown = base.as_str().trim_end_matches('/').to_owned();
    let Some(key) = config.key_for(&base) else {
        out.line(format_args!("not logged in to {shown}: nothing to do"))?;
        return Ok(());
    };
    let told = ApiClient::new(base.clone(), &key, KeySource::File(store.path()), log)?
        .logout(args.all)
        .await;
    config.remove_key(&base);
    store.save(&config)?;
    match told {
        Ok(done) => out.line(format_args!(
            "logged out of {shown}: {} key{} revoked{}",
            done.revoked,
            if done.revoked == 1 { "" } else { "s" },
            if args.all { " (every machine)" } else { "" }
        )),
        Err(CliError::Unauthorized { .. }) => out.line(format_args!(
            "logged out of {shown}: the key had already been revoked"
        )),
        Err(e) if e.is_transient() || matches!(e, CliError::BadAnswer { .. }) => {
            log.warn(format_args!("{e}"));
            out.line(format_args!(
                "forgot the key for {shown} here, but the server was not told: it stays valid until revoked (`stk auth login` then `stk auth logout --all` revokes every key)"
            ))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_addresses_and_codes() {
        assert_eq!(
            read_pasted("https://api.example.com/auth/callback?code=abc123&state=s.t"),
            Some(("abc123".into(), Some("s.t".into())))
        );
        assert_eq!(
            read_pasted("  abc-123_x  "),
            Some(("abc-123_x".into(), None))
        );
        assert_eq!(
            read_pasted("https://api.example.com/auth/callback?error=access_denied"),
            None
        );
        assert_eq!(read_pasted("rm -rf /"), None);
        assert_eq!(read_pasted(""), None);
    }

    #[test]
    fn only_https_consent_pages_are_opened() {
        assert!(consent_url("https://secure.smashrun.com/oauth2/authenticate?x=1").is_ok());
        assert!(consent_url("http://127.0.0.1:9/oauth2/authenticate").is_ok());
        for bad in [
            "file:///etc/passwd",
            "http://evil.example/",
            "javascript:alert(1)",
            "--help",
        ] {
            assert!(consent_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_random_and_hashed_as_the_api_expects() {
        let a = random_secret().unwrap();
        assert_ne!(a, random_secret().unwrap());
        assert_eq!(a.len(), 43);
        let hash = hex(&Sha256::digest(b"abc"));
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
