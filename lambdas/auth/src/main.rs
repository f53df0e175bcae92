//! The auth Lambda: tracing, clients once per cold start, then the login router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    stk_adapters::telemetry::init_lambda_tracing();
    let adapters = stk_adapters::Adapters::from_env().await?;
    lambda_http::run(stk_auth::router(stk_auth::AuthState::from_adapters(
        &adapters,
    )))
    .await
}
