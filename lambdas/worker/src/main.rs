//! The worker Lambda: tracing, clients once per cold start, then the SQS batch handler.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    stk_adapters::telemetry::init_lambda_tracing();
    let adapters = stk_adapters::Adapters::from_env().await?;
    let worker = stk_worker::Worker::from_adapters(&adapters, Default::default());
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async {
        Ok::<_, lambda_runtime::Error>(stk_worker::handle_batch(&worker, event).await)
    }))
    .await
}
