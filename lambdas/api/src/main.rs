//! The API Lambda: tracing, clients once per cold start, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    stk_adapters::telemetry::init_lambda_tracing();
    let adapters = stk_adapters::Adapters::from_env().await?;
    lambda_http::run(stk_api::router(stk_api::AppState::from_adapters(&adapters))).await
}
