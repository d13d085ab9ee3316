//! Polling for changes AWS makes asynchronously (Lambda updates, Batch
//! compute environments and job queues settling, lingering dependencies),
//! and retrying while a service cannot assume a role IAM has just made.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_sts::error::ProvideErrorMetadata;

use super::error::AwsError;

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

/// A service that assumes a role sjob passes it. IAM is eventually
/// consistent: for a few seconds after a role is created, the service may
/// not be able to assume it yet, and says so in words of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assumer {
    Lambda,
    StepFunctions,
    Scheduler,
}

impl Assumer {
    /// The error code and the words of the service's answer while it cannot
    /// assume the role yet (as the services word it; the Terraform AWS
    /// provider retries on the same ones).
    fn not_yet_assumable(self) -> (&'static str, &'static str) {
        match self {
            // "The role defined for the function cannot be assumed by Lambda."
            Assumer::Lambda => (
                "InvalidParameterValueException",
                "cannot be assumed by Lambda",
            ),
            // "Neither the global service principal states.amazonaws.com, nor
            // the regional one is authorized to assume the provided role."
            Assumer::StepFunctions => (
                "AccessDeniedException",
                "is authorized to assume the provided role",
            ),
            // "The execution role you provide must allow AWS EventBridge
            // Scheduler to assume the role."
            Assumer::Scheduler => (
                "ValidationException",
                "must allow AWS EventBridge Scheduler to assume the role",
            ),
        }
    }

    /// Whether `err` is this service saying it cannot assume the role yet.
    fn cannot_assume_yet(self, err: &impl ProvideErrorMetadata) -> bool {
        let (code, words) = self.not_yet_assumable();
        err.code() == Some(code) && err.message().is_some_and(|m| m.contains(words))
    }
}

/// Retries `op` while `assumer` answers that it cannot assume the role yet
/// (a role just created), for up to a minute. Every other error, a denial
/// of the caller's own permissions among them, ends it at once.
pub async fn wait_for_role<T, E, F, Fut>(
    assumer: Assumer,
    action: &'static str,
    resource: &str,
    mut op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    const LIMIT: Duration = Duration::from_secs(60);
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if !assumer.cannot_assume_yet(&err) => {
                return Err(AwsError::call(action, resource, err));
            }
            Err(err) if started.elapsed() >= LIMIT => {
                return Err(AwsError::RoleNotReady {
                    action,
                    resource: resource.to_string(),
                    seconds: LIMIT.as_secs(),
                    message: err.message().unwrap_or_default().to_string(),
                });
            }
            Err(_) => {
                tracing::info!(
                    action,
                    resource,
                    "waiting for the new IAM role to propagate"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::aws::error::tests::{answer, PASS_ROLE_DENIED};

    #[test]
    fn each_service_is_waited_for_only_on_its_own_words() {
        let lambda = answer(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        );
        let states = answer(
            "AccessDeniedException",
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
        );
        let scheduler = answer(
            "ValidationException",
            "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.",
        );
        let denied = answer("AccessDeniedException", PASS_ROLE_DENIED);
        for (assumer, waits_on) in [
            (Assumer::Lambda, &lambda),
            (Assumer::StepFunctions, &states),
            (Assumer::Scheduler, &scheduler),
        ] {
            for err in [&lambda, &states, &scheduler, &denied] {
                assert_eq!(
                    assumer.cannot_assume_yet(err),
                    std::ptr::eq(err, waits_on),
                    "{assumer:?} on {err}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_denial_ends_the_wait_at_once_and_propagation_is_waited_out() {
        let calls = AtomicUsize::new(0);
        let denied = wait_for_role(Assumer::StepFunctions, "CreateStateMachine", "m", || {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(answer("AccessDeniedException", PASS_ROLE_DENIED)) }
        })
        .await;
        assert!(matches!(denied, Err(AwsError::Denied { .. })), "{denied:?}");
        assert_eq!(calls.load(Ordering::Relaxed), 1);

        let calls = AtomicUsize::new(0);
        let assumed = wait_for_role(Assumer::Lambda, "CreateFunction", "f", || {
            let first = calls.fetch_add(1, Ordering::Relaxed) == 0;
            async move {
                if first {
                    Err(answer(
                        "InvalidParameterValueException",
                        "The role defined for the function cannot be assumed by Lambda.",
                    ))
                } else {
                    Ok("created")
                }
            }
        })
        .await;
        assert_eq!(assumed.unwrap(), "created");
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }
}
