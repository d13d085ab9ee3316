//! The `ErrorHandler` Lambda: notifies that a scheduled job failed.

// Lambda sends one invocation at a time: a single-threaded runtime does the
// same work without worker threads (less memory, faster start).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    handlers::runtime::run(handlers::HandlerKind::Error).await
}
