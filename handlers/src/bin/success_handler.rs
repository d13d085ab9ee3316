//! The `OnSuccess` Lambda: notifies that a scheduled job succeeded.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handlers::runtime::run(handlers::HandlerKind::Success).await
}
