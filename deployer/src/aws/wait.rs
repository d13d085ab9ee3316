//! Polling for changes AWS makes asynchronously (Lambda updates, Batch
//! compute environments and job queues settling, lingering dependencies).

use std::future::Future;
use std::time::{Duration, Instant};

use super::AwsError;

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Calls `poll` until it gives `Some`, backing off from 200 ms to 5 s
/// between calls, and fails once `limit` has passed. `what` describes the
/// state being waited out, for the logs and the error: "still {what}".
pub async fn until<T, F, Fut>(
    what: &str,
    resource: &str,
    limit: Duration,
    mut poll: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    loop {
        if let Some(value) = poll().await? {
            return Ok(value);
        }
        let waited = started.elapsed();
        if waited >= limit {
            return Err(AwsError::StillWaiting {
                resource: resource.to_string(),
                what: what.to_string(),
                seconds: waited.as_secs(),
            });
        }
        tracing::info!(
            resource,
            seconds = waited.as_secs(),
            "waiting: still {what}"
        );
        tokio::time::sleep(delay.min(limit - waited)).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}
