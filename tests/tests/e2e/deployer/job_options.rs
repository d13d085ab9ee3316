//! Job options that reach the job definition and the schedule: an ARM64 job
//! with extra task storage, and a schedule with its own retry policy and a
//! dead-letter queue, deployed, read back, changed and removed.

use serde_json::{json, Value};
use sjob_e2e::myapp::{config, ACCOUNT, CRAWLER};
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
    let fixture = Fixture::new().await;
    let Fixture { aws, sjob, .. } = &fixture;
    let targets = fixture.existing_targets().await;
    aws.create_queue("myapp-dev-undelivered").await;
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

    // Each change names its field; the dead-letter policy goes with the
    // queue; an array size is the state machine's.
    sjob.write_config(&config(
        &targets,
        &[&crawler_with(
            "cpu_architecture = \"x86_64\"\nephemeral_storage_gib = 100\narray_size = 5",
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
            update("state_machine", json!(["definition"])),
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
    let asl = aws.definition(&crawler.state_machine_arn()).await;
    assert_eq!(
        asl["States"]["BatchGroup"]["Branches"][0]["States"]["Batch"]["Parameters"]
            ["ArrayProperties"],
        json!({"Size": 5})
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

/// A job's secrets become the job definition's `valueFrom`s, and its task
/// execution role may read exactly those: the secret (with `-??????` for one
/// named without its suffix), the parameter, and the key only through those
/// two services.
#[tokio::test]
async fn secrets_reach_the_job_definition_and_only_their_reads_are_granted() {
    let fixture = Fixture::new().await;
    let Fixture {
        emulator,
        aws,
        sjob,
    } = &fixture;
    let targets = fixture.existing_targets().await;
    let crawler = Names::of("crawler");
    // One secret by its full ARN, one by its name alone (no suffix).
    let secret = emulator.create_secret("myapp/db", "{}").await;
    emulator.create_secret("myapp/api", "k").await;
    let named = format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:myapp/api");
    let parameter = emulator.put_parameter("/myapp/token", "t").await;
    let key = emulator.create_kms_key("alias/myapp-secrets").await;
    sjob.write_config(&config(
        &targets,
        &[&crawler_with(&format!(
            r#"secrets = {{ DB_PASSWORD = "{secret}:password::", API_KEY = "{named}", TOKEN = "{parameter}" }}
secrets_kms_key_arn = "{key}""#
        ))],
    ));
    sjob.run_expecting(0, &["deploy"]).await;

    let definition = aws.active_job_definition(&crawler.job).await;
    let container = definition.container_properties().unwrap();
    let value_from: Vec<(&str, &str)> = container
        .secrets()
        .iter()
        .filter_map(|s| Some((s.name()?, s.value_from()?)))
        .collect();
    let with_key = format!("{secret}:password::");
    assert_eq!(
        value_from,
        [
            ("API_KEY", named.as_str()),
            ("DB_PASSWORD", with_key.as_str()),
            ("TOKEN", parameter.as_str())
        ]
    );
    assert!(
        container
            .environment()
            .iter()
            .all(|v| v.name() != Some("DB_PASSWORD")),
        "a secret is not an environment variable"
    );
    let policies = aws.inline_policies(&crawler.exec_role).await;
    assert_eq!(
        statements(&policies[&format!("{}-EcsTaskExecRoleSecretsPolicy", crawler.job)]),
        [
            json!({
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": [format!("{named}-??????"), secret]
            }),
            json!({
                "Sid": "ReadParameters",
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": [parameter]
            }),
            json!({
                "Sid": "DecryptSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key,
                "Condition": { "StringEquals": { "kms:ViaService": [
                    format!("secretsmanager.{REGION}.amazonaws.com"),
                    format!("ssm.{REGION}.amazonaws.com")
                ] } }
            }),
        ]
    );
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;

    // Without secrets the role is back to the managed policy alone.
    sjob.write_config(&config(&targets, &[CRAWLER]));
    let plan: Value = sjob
        .run_expecting(0, &["plan", "--output", "json"])
        .await
        .json();
    assert!(
        pending_changes(&plan).contains(&(
            "crawler".to_string(),
            "job_definition".to_string(),
            "update".to_string(),
            json!(["secrets"])
        )),
        "{plan:#}"
    );
    sjob.run_expecting(0, &["deploy"]).await;
    let left: Vec<String> = aws
        .inline_policies(&crawler.exec_role)
        .await
        .into_keys()
        .collect();
    assert_eq!(
        left,
        [
            format!("{}-EcsTaskExecRoleImagePullPolicy", crawler.job),
            format!("{}-EcsTaskExecRolePolicy", crawler.job)
        ],
        "the secrets policy is gone with the secrets"
    );
}

/// `platform_version`: deployed, read back to a no-change plan, changed
/// (a job definition field of its own), and back to `LATEST` when removed.
#[tokio::test]
async fn platform_version_round_trips_and_changes_alone() {
    let fixture = Fixture::new().await;
    let Fixture { aws, sjob, .. } = &fixture;
    let targets = fixture.existing_targets().await;
    let crawler = Names::of("crawler");
    let version = |definition: aws_sdk_batch::types::JobDefinition| {
        definition
            .container_properties
            .and_then(|c| c.fargate_platform_configuration)
            .and_then(|f| f.platform_version)
    };
    sjob.write_config(&config(
        &targets,
        &[&crawler_with("platform_version = \"1.4.0\"")],
    ));
    sjob.run_expecting(0, &["deploy"]).await;
    assert_eq!(
        version(aws.active_job_definition(&crawler.job).await).as_deref(),
        Some("1.4.0")
    );
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;

    sjob.write_config(&config(&targets, &[CRAWLER]));
    let plan: Value = sjob
        .run_expecting(0, &["plan", "--output", "json"])
        .await
        .json();
    assert_eq!(
        pending_changes(&plan),
        [(
            "crawler".to_string(),
            "job_definition".to_string(),
            "update".to_string(),
            json!(["platform_version"])
        )],
        "{plan:#}"
    );
    sjob.run_expecting(0, &["deploy"]).await;
    assert_eq!(
        version(aws.active_job_definition(&crawler.job).await).as_deref(),
        Some("LATEST")
    );
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
}
