//! The scheduler Lambda: tracing, clients once per cold start, then the EventBridge handler.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    stk_adapters::telemetry::init_lambda_tracing();
    let adapters = stk_adapters::Adapters::from_env().await?;
    let scheduler = stk_scheduler::Scheduler::from_adapters(&adapters);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        stk_scheduler::handle(&scheduler, event)
    }))
    .await
}
