//! The `ErrorHandler` Lambda: notifies that a scheduled job failed.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handlers::runtime::run(handlers::HandlerKind::Error).await
}
