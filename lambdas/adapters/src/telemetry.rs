//! Logging for the Lambdas: JSON lines for CloudWatch, every enclosing span's fields included (so
//! a page's log line still carries its job id), filtered by `RUST_LOG` (default `info`).

pub fn init_lambda_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_span_list(true)
        // CloudWatch stamps every line itself.
        .without_time()
        .init();
}
