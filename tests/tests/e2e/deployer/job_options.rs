//! Job options that reach the job definition and the schedule: an ARM64 job
//! with extra task storage, and a schedule with its own retry policy and a
//! dead-letter queue, deployed, read back, changed and removed.

use serde_json::{json, Value};
use sjob_e2e::myapp::{config, Targets, ACCOUNT, CRAWLER};
use sjob_e2e::{Fixture, REGION};

use super::{pending_changes, statements, Names};

fn dead_letter_queue() -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:myapp-dev-undelivered")
}

/// The crawler with `options` added to its table.
fn crawler_with(options: &str) -> String {
    format!("{CRAWLER}{options}\n")
}

#[tokio::test]
async fn arm64_storage_and_schedule_delivery_round_trip_to_a_no_change_plan() {
    let targets = Targets::nowhere();
    let Fixture { aws, sjob, .. } = &Fixture::new().await;
    let crawler = Names::of("crawler");
    let options = format!(
        r#"cpu_architecture = "arm64"
ephemeral_storage_gib = 50
schedule_retry = {{ maximum_retry_attempts = 3, maximum_event_age_seconds = 600 }}
schedule_dead_letter_arn = "{}""#,
        dead_letter_queue()
    );
    sjob.write_config(&config(&targets, &[&crawler_with(&options)]));
    sjob.run_expecting(0, &["deploy"]).await;

    let definition = aws.active_job_definition(&crawler.job).await;
    let container = definition.container_properties().unwrap();
    let platform = container.runtime_platform().unwrap();
    assert_eq!(
        (
            platform.operating_system_family(),
            platform.cpu_architecture()
        ),
        (Some("LINUX"), Some("ARM64"))
    );
    assert_eq!(
        container.ephemeral_storage().and_then(|s| s.size_in_gib()),
        Some(50)
    );
    let schedule = aws.schedule(&crawler.schedule).await.unwrap();
    let target = schedule.target().unwrap();
    let retry = target.retry_policy().unwrap();
    assert_eq!(
        (
            retry.maximum_retry_attempts(),
            retry.maximum_event_age_in_seconds()
        ),
        (Some(3), Some(600))
    );
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some(dead_letter_queue().as_str())
    );
    // The scheduler may send to that queue, and to nothing else.
    let policies = aws.inline_policies(&crawler.scheduler_role).await;
    let dead_letter = &policies[&format!("{}-SchedulerDeadLetterPolicy", crawler.job)];
    assert_eq!(
        statements(dead_letter),
        [json!({
            "Sid": "UndeliveredRuns",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": dead_letter_queue()
        })]
    );
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;

    // Each change names its field; the dead-letter policy goes with the queue.
    sjob.write_config(&config(
        &targets,
        &[&crawler_with(
            "cpu_architecture = \"x86_64\"\nephemeral_storage_gib = 100",
        )],
    ));
    let plan: Value = sjob
        .run_expecting(0, &["plan", "--output", "json"])
        .await
        .json();
    let update = |kind: &str, fields: Value| {
        (
            "crawler".to_string(),
            kind.to_string(),
            "update".to_string(),
            fields,
        )
    };
    assert_eq!(
        pending_changes(&plan),
        [
            update(
                "role",
                json!([format!("policy:{}-SchedulerDeadLetterPolicy", crawler.job)])
            ),
            update(
                "job_definition",
                json!(["cpu_architecture", "ephemeral_storage_gib"])
            ),
            update("schedule", json!(["retry_policy", "dead_letter_arn"])),
        ],
        "{plan:#}"
    );
    sjob.run_expecting(0, &["deploy"]).await;
    let container = aws
        .active_job_definition(&crawler.job)
        .await
        .container_properties
        .unwrap();
    assert_eq!(
        container
            .runtime_platform()
            .and_then(|p| p.cpu_architecture()),
        Some("X86_64")
    );
    assert_eq!(
        container.ephemeral_storage().and_then(|s| s.size_in_gib()),
        Some(100)
    );
    let schedule = aws.schedule(&crawler.schedule).await.unwrap();
    let target = schedule.target().unwrap();
    assert_eq!(target.dead_letter_config(), None);
    let retry = target.retry_policy().unwrap();
    assert_eq!(
        (
            retry.maximum_retry_attempts(),
            retry.maximum_event_age_in_seconds()
        ),
        (Some(185), Some(86_400)),
        "AWS's defaults again"
    );
    assert_eq!(
        aws.inline_policies(&crawler.scheduler_role)
            .await
            .into_keys()
            .collect::<Vec<_>>(),
        [format!("{}-SchedulerTargetPolicy", crawler.job)]
    );
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
}
