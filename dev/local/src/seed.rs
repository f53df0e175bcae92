//! A test helper: a linked user without the browser. It walks SmashRun's (the sandbox's) OAuth
//! flow on the server side, stores the user and encrypted tokens with the same store code the
//! login flow uses, and mints an API key. Runners log in with `stk auth login`.

use std::path::Path;

use stk_adapters::Adapters;
use stk_core::UserId;
use stk_core::auth::ApiKey;
use stk_core::ports::{ApiKeyStore, SmashrunApi, SourceStore};
use stk_core::tokens::TokenSet;

#[derive(Debug)]
pub struct SeededUser {
    pub user_id: UserId,
    pub api_key: ApiKey,
    pub smashrun_user_id: String,
}

pub async fn seed_user(adapters: &Adapters) -> anyhow::Result<SeededUser> {
    use anyhow::Context as _;
    let state = uuid::Uuid::new_v4().to_string();
    let authorize = adapters.smashrun.authorize_url(&state).await?;
    // The sandbox approves at once and redirects with the code; read it from the redirect.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = http
        .get(&authorize)
        .send()
        .await
        .context("failed to open the smashrun consent page")?;
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("the consent page did not redirect: is the sandbox auto-approving?")?;
    let redirected = reqwest::Url::parse(location).context("the redirect is not a URL")?;
    let param = |name: &str| {
        redirected
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    anyhow::ensure!(
        param("state").as_deref() == Some(state.as_str()),
        "the redirect's state does not match"
    );
    let code = param("code").context("the redirect carries no code")?;

    let grant = adapters
        .smashrun
        .exchange_code(&code)
        .await
        .context("failed to exchange the code")?;
    let tokens = TokenSet::from_grant(grant, None, time::OffsetDateTime::now_utc())
        .context("smashrun issued no refresh token")?;
    let account = adapters
        .smashrun
        .user_info(&tokens.access_token)
        .await
        .context("failed to read the smashrun account")?;
    let user_id = adapters
        .store
        .link_smashrun(&account, &tokens)
        .await
        .context("failed to store the linked account")?;
    let api_key = ApiKey::generate()?;
    adapters
        .store
        .insert_key(user_id, &api_key.hash(), &api_key.prefix(), "dev seed")
        .await
        .context("failed to store the api key")?;
    Ok(SeededUser {
        user_id,
        api_key,
        smashrun_user_id: account.id,
    })
}

/// Writes the key into the CLI's `config.json` (mode 0600) for the API at `api_url`, the only
/// one `stk` will send it to, keeping the file's other settings.
pub fn write_cli_config(dir: &Path, api_url: &str, api_key: &ApiKey) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let path = dir.join("config.json");
    let mut config: serde_json::Map<String, serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let apis = config
        .entry("apis")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    if !apis.is_object() {
        *apis = serde_json::Value::Object(serde_json::Map::new());
    }
    if let Some(apis) = apis.as_object_mut() {
        apis.insert(
            api_url.trim_end_matches('/').to_owned(),
            serde_json::json!({ "api_key": api_key.expose() }),
        );
    }
    let tmp = dir.join("config.json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(serde_json::to_string_pretty(&config)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(tmp, path)?;
    Ok(())
}
