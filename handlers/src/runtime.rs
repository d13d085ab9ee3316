//! Lambda wiring shared by both binaries: logs by Lambda's logging
//! controls, settings and SDK clients made once per cold start, and a
//! deadline on each invocation.

use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::enrich::BatchDescriber;
use crate::handler::{handle, HandlerError, HandlerKind, HandlerResponse};
use crate::http::TlsOnFirstUse;
use crate::publish::{PublishError, SnsPublisher};
use crate::settings::HandlerSettings;

/// Time kept back from the Lambda deadline to report a failure cleanly.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

pub async fn run(kind: HandlerKind) -> Result<(), lambda_runtime::Error> {
    crate::logging::init();
    let settings = HandlerSettings::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let loader = aws_config::defaults(BehaviorVersion::latest()).http_client(TlsOnFirstUse::new());
    let profiles = crate::sdk::profiles(None).await;
    let config = crate::sdk::with_default_retries(
        loader,
        profiles.as_ref(),
        RetryConfig::standard().with_max_attempts(5),
    )
    .load()
    .await;
    let publisher = SnsPublisher::new(
        aws_sdk_sns::Client::new(&config),
        settings.topic_arn.clone(),
    );
    let describer = settings
        .enrich
        .then(|| BatchDescriber::new(aws_sdk_batch::Client::new(&config), settings.enrich_timeout));
    let (publisher, describer, format) = (&publisher, &describer, settings.format);

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = invocation_budget(event.context.deadline(), SystemTime::now());
        let work = handle(kind, event.payload, publisher, describer, format);
        let result: Result<HandlerResponse, HandlerError> = match budget {
            Some(budget) => match tokio::time::timeout(budget, work).await {
                Ok(result) => result,
                Err(_) => Err(PublishError::Deadline {
                    topic_arn: publisher.topic_arn().to_string(),
                }
                .into()),
            },
            None => work.await,
        };
        result.map_err(|err| {
            tracing::error!(error_type = err.error_type(), error = %err, "invocation failed");
            Diagnostic::from(err)
        })
    }))
    .await
}

/// How long an invocation may work before reporting failure: the time left
/// until its deadline, less [`DEADLINE_MARGIN`]. `None` for a deadline that
/// is not in the future: Lambda never sends one, but `cargo lambda watch`
/// (1.9) sends the constant `600000` (a duration, read as a time: 1970),
/// which would otherwise fail every local invocation at once.
fn invocation_budget(deadline: SystemTime, now: SystemTime) -> Option<Duration> {
    deadline
        .duration_since(now)
        .ok()
        .map(|left| left.saturating_sub(DEADLINE_MARGIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_a_margin_and_ignores_a_deadline_already_past() {
        let now = SystemTime::now();
        assert_eq!(
            invocation_budget(now + Duration::from_secs(10), now),
            Some(Duration::from_millis(9_500))
        );
        let cargo_lambda_watch = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(invocation_budget(cargo_lambda_watch, now), None);
    }
}
