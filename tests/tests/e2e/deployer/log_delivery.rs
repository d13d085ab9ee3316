//! Sixty jobs deploy and destroy in one account and region. Step Functions
//! adds the log group of every state machine that logs outside
//! `/aws/vendedlogs/` to the account's CloudWatch Logs resource policy, and
//! that policy is capped at 5,120 characters: past it, CreateStateMachine
//! fails with `InvalidLoggingConfiguration` (the harness models this:
//! tests/harness/log_delivery.py). A job's default log group must therefore
//! need no entry of its own.

use aws_sdk_cloudwatchlogs::types::ResourcePolicy;
use sjob_e2e::myapp::config;
use sjob_e2e::Fixture;

const JOBS: usize = 60;
const POLICY_LIMIT: usize = 5120;

#[tokio::test]
async fn sixty_jobs_deploy_and_destroy_within_the_log_resource_policy_limit() {
    let fixture = Fixture::new().await;
    let targets = fixture.existing_targets().await;
    let Fixture { aws, sjob, .. } = &fixture;
    let jobs: Vec<String> = (0..JOBS)
        .map(|i| {
            format!(
                r#"
[jobs.job{i:02}]
command = ["python", "-m", "job", "{i}"]
schedule_expression = "rate(1 hour)"
"#
            )
        })
        .collect();
    let jobs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    sjob.write_config(&config(&targets, &jobs));

    sjob.run_expecting(0, &["deploy"]).await;
    let machines = aws
        .sfn
        .list_state_machines()
        .max_results(1000)
        .send()
        .await
        .unwrap();
    assert_eq!(machines.state_machines().len(), JOBS);
    let policies = aws.logs.describe_resource_policies().send().await.unwrap();
    let sizes: Vec<(&str, usize)> = policies
        .resource_policies()
        .iter()
        .map(|policy: &ResourcePolicy| {
            (
                policy.policy_name().unwrap_or_default(),
                policy.policy_document().unwrap_or_default().chars().count(),
            )
        })
        .collect();
    assert!(
        sizes.iter().all(|(_, size)| *size <= POLICY_LIMIT),
        "{sizes:?}"
    );

    sjob.run_expecting(0, &["destroy", "--yes"]).await;
    let machines = aws.sfn.list_state_machines().send().await.unwrap();
    assert_eq!(machines.state_machines().len(), 0);
}
