//! PostgREST on the local stack with the service-role key, for the benchmarks' set-up and the
//! checks (the product goes through `stk_adapters::supabase`).

use reqwest::Method;
use serde_json::{Map, Value};

use crate::stack_env::StackEnv;

pub struct PostgrestAdmin {
    http: reqwest::Client,
    url: String,
    key: String,
}

// The key never reaches a log.
impl std::fmt::Debug for PostgrestAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgrestAdmin")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PostgrestAdmin {
    pub fn new(env: &StackEnv) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::new(),
            url: env.get("SUPABASE_URL")?.trim_end_matches('/').to_owned(),
            key: env.get("SUPABASE_SERVICE_ROLE_KEY")?.to_owned(),
        })
    }

    /// A request to `path` (relative to the REST base), as the service role.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.url))
            .bearer_auth(&self.key)
            .header("apikey", &self.key)
    }

    /// `public.<function>` called with `args`, its answer.
    pub async fn rpc(&self, function: &str, args: &Map<String, Value>) -> anyhow::Result<Value> {
        Ok(self
            .request(Method::POST, &format!("rpc/{function}"))
            .json(args)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// A write to `path` that answers nothing, failing on any status but success.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> anyhow::Result<()> {
        let mut request = self
            .request(method, path)
            .header("Prefer", "return=minimal")
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        Ok(())
    }
}
