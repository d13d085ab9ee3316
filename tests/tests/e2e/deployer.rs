//! The `sjob` binary as a user runs it, against the patched moto: each
//! command's exit code and output, and what it leaves in AWS, read back
//! through the SDK. The last tests run real executions: Step Functions
//! submits the Batch job and invokes the real handler binaries, which
//! notify SNS, which delivers to SQS.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_batch::types::{JobStatus, LogDriver};
use aws_sdk_iam::types::Role;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, LogLevel};
use aws_sdk_sqs::error::DisplayErrorContext;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sjob_e2e::myapp::{
    config, lambda_arn, Targets, ACCOUNT, CRAWLER, ERROR_FUNCTION, REPORT, SUCCESS_FUNCTION,
};
use sjob_e2e::{
    policy_document, Aws, FaultPlan, FaultProxy, Fixture, JobOutcome, Sjob, SjobRun, REGION,
};

mod credentials;
mod job_options;
mod log_delivery;
mod logs;
mod overlap;
mod ownership;
mod roles;

const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// SNS delivers to SQS inside the handler's Publish, before the execution
/// ends; this only bounds the wait for a message that never comes.
const DELIVERY_WAIT: Duration = Duration::from_secs(2);

/// What the crawler's schedule passes to each execution.
fn crawler_input() -> Value {
    json!({"source": "schedule", "pages": 3})
}

/// The names the seed's Terraform module gave one job's resources.
struct Names {
    job: String,
    schedule: String,
    log_group: String,
    container_log_group: String,
    exec_role: String,
    task_role: String,
    sfn_role: String,
    scheduler_role: String,
}

impl Names {
    fn of(batch_name: &str) -> Names {
        let job = format!("myapp-dev-{batch_name}-ScheduledJob");
        Names {
            schedule: format!("{job}-Scheduler"),
            log_group: format!("/aws/vendedlogs/states/myapp/dev/{batch_name}"),
            container_log_group: format!("myapp/dev/batch/{batch_name}"),
            exec_role: format!("{job}-EcsTaskExecRole"),
            task_role: format!("{job}-EcsTaskRole"),
            sfn_role: format!("{job}-BatchSfnRole"),
            scheduler_role: format!("{job}-PipesRole"),
            job,
        }
    }

    fn roles(&self) -> [&str; 4] {
        [
            &self.exec_role,
            &self.task_role,
            &self.sfn_role,
            &self.scheduler_role,
        ]
    }

    fn state_machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{}",
            self.job
        )
    }

    fn job_definition_arn(&self) -> String {
        format!(
            "arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{}",
            self.job
        )
    }

    fn log_group_arn(&self) -> String {
        log_group_arn(&self.log_group)
    }
}

fn log_group_arn(name: &str) -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}")
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A fixture with this config, deployed.
async fn deployed(jobs: &[&str]) -> (Fixture, Targets) {
    let fixture = Fixture::new().await;
    let targets = fixture.existing_targets().await;
    fixture.sjob.write_config(&config(&targets, jobs));
    fixture.sjob.run_expecting(0, &["deploy"]).await;
    (fixture, targets)
}

// ---------------------------------------------------------------------------
// Reading AWS back
// ---------------------------------------------------------------------------

/// The `Principal.Service` of each statement of a trust policy.
fn trusted_services(role: &Role) -> Vec<String> {
    let trust = policy_document(role.assume_role_policy_document().unwrap_or("{}"));
    statements(&trust)
        .iter()
        .map(|s| {
            s["Principal"]["Service"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn statements(policy: &Value) -> Vec<Value> {
    match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        single => vec![single.clone()],
    }
}

/// A string or a list of strings, as policies write Action and Resource.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// The resources of the statements granting `action`.
fn granted(policy: &Value, action: &str) -> BTreeSet<String> {
    statements(policy)
        .iter()
        .filter(|s| strings(&s["Action"]).iter().any(|a| a == action))
        .flat_map(|s| strings(&s["Resource"]))
        .collect()
}

/// Everything of app `myapp` in stage `dev` that is still there: roles,
/// state machines, schedules, log groups and active job definitions.
async fn app_resources(aws: &Aws) -> Vec<String> {
    let mut found = Vec::new();
    let roles = aws
        .iam
        .list_roles()
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListRoles: {}", DisplayErrorContext(e)));
    found.extend(
        roles
            .roles()
            .iter()
            .filter(|r| r.role_name().starts_with("myapp-dev-"))
            .map(|r| format!("role {}", r.role_name())),
    );
    let machines = aws
        .sfn
        .list_state_machines()
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListStateMachines: {}", DisplayErrorContext(e)));
    found.extend(
        machines
            .state_machines()
            .iter()
            .filter(|m| m.name().starts_with("myapp-dev-"))
            .map(|m| format!("state machine {}", m.name())),
    );
    let schedules = aws
        .scheduler
        .list_schedules()
        .name_prefix("myapp-dev-")
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListSchedules: {}", DisplayErrorContext(e)));
    found.extend(
        schedules
            .schedules()
            .iter()
            .map(|s| format!("schedule {}", s.name().unwrap_or_default())),
    );
    found.extend(
        aws.log_groups("myapp/dev/")
            .await
            .iter()
            .map(|g| format!("log group {}", g.log_group_name().unwrap_or_default())),
    );
    let definitions = aws
        .batch
        .describe_job_definitions()
        .status("ACTIVE")
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeJobDefinitions: {}", DisplayErrorContext(e)));
    found.extend(
        definitions
            .job_definitions()
            .iter()
            .filter(|d| {
                d.job_definition_name()
                    .is_some_and(|n| n.starts_with("myapp-dev-"))
            })
            .map(|d| {
                format!(
                    "job definition {}:{}",
                    d.job_definition_name().unwrap_or_default(),
                    d.revision().unwrap_or_default()
                )
            }),
    );
    found
}

/// `(job, kind, action, fields)` of the changes a plan would make.
fn pending_changes(plan: &Value) -> Vec<(String, String, String, Value)> {
    plan["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("a plan lists changes: {plan}"))
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            let text = |key: &str| c[key].as_str().unwrap_or_default().to_string();
            (
                text("job"),
                text("kind"),
                text("action"),
                c["fields"].clone(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Deploy, plan, prune, destroy
// ---------------------------------------------------------------------------

#[tokio::test]
async fn deploy_creates_every_resource_and_redeploy_changes_nothing() {
    let fixture = Fixture::new().await;
    let targets = fixture.existing_targets().await;
    let (aws, sjob) = (&fixture.aws, &fixture.sjob);
    sjob.write_config(&config(&targets, &[CRAWLER, REPORT]));

    let deploy = sjob.run_expecting(0, &["deploy"]).await;

    assert!(
        deploy
            .stdout
            .contains("18 to create, 0 to update, 0 to delete"),
        "{deploy}"
    );
    for batch_name in ["crawler", "report"] {
        let names = Names::of(batch_name);
        for (name, service) in [
            (&names.exec_role, "ecs-tasks.amazonaws.com"),
            (&names.task_role, "ecs-tasks.amazonaws.com"),
            (&names.sfn_role, "states.amazonaws.com"),
            (&names.scheduler_role, "scheduler.amazonaws.com"),
        ] {
            let role = aws.existing_role(name).await;
            assert_eq!(trusted_services(&role), [service], "trust policy of {name}");
        }
        // No AWS-managed policy: the task execution role writes to the
        // job's own log group and pulls from the job's own repository.
        assert_eq!(
            aws.attached_policies(&names.exec_role).await,
            BTreeSet::new()
        );
        let exec_policies = aws.inline_policies(&names.exec_role).await;
        assert_eq!(
            exec_policies[&format!("{}-EcsTaskExecRolePolicy", names.job)]["Statement"],
            json!([{
                "Sid": "WriteContainerLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": format!("{}:log-stream:*", log_group_arn(&names.container_log_group))
            }])
        );
        assert_eq!(
            exec_policies[&format!("{}-EcsTaskExecRoleImagePullPolicy", names.job)]["Statement"][0]
                ["Resource"],
            format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/myapp")
        );
        assert_eq!(exec_policies.len(), 2, "{exec_policies:?}");

        let sfn_policies = aws.inline_policies(&names.sfn_role).await;
        let policy_names: Vec<&str> = sfn_policies.keys().map(String::as_str).collect();
        let batch_policy = format!("{}-BatchJobManagementAccessPolicy", names.job);
        let invoke_policy = format!("{}-InvokeHandlersPolicy", names.job);
        let logs_policy = format!("{}-CloudWatchLogsDeliveryFullAccessPolicy", names.job);
        assert_eq!(
            policy_names,
            [batch_policy.as_str(), &logs_policy, &invoke_policy],
            "inline policies of {}",
            names.sfn_role
        );
        let definition_arn = names.job_definition_arn();
        let all: Vec<&Value> = sfn_policies.values().collect();
        let granted_anywhere = |action: &str| -> BTreeSet<String> {
            all.iter().flat_map(|p| granted(p, action)).collect()
        };
        assert_eq!(
            granted_anywhere("batch:SubmitJob"),
            BTreeSet::from([
                definition_arn.clone(),
                format!("{definition_arn}:*"),
                targets.queue.clone(),
            ]),
            "SubmitJob is limited to this job's definition and queue"
        );
        assert_eq!(
            granted(&sfn_policies[&batch_policy], "batch:SubmitJob"),
            granted_anywhere("batch:SubmitJob")
        );
        assert_eq!(
            granted_anywhere("lambda:InvokeFunction"),
            BTreeSet::from([
                targets.success_handler.clone(),
                format!("{}:*", targets.success_handler),
                targets.error_handler.clone(),
                format!("{}:*", targets.error_handler),
            ]),
            "only the two handlers may be invoked"
        );
        assert_eq!(
            granted(&sfn_policies[&invoke_policy], "lambda:InvokeFunction"),
            granted_anywhere("lambda:InvokeFunction")
        );

        for group_name in [&names.log_group, &names.container_log_group] {
            let group = aws
                .log_group(group_name)
                .await
                .unwrap_or_else(|| panic!("no log group {group_name}"));
            assert_eq!(group.retention_in_days, Some(365));
            let tags = aws
                .logs
                .list_tags_for_resource()
                .resource_arn(log_group_arn(group_name))
                .send()
                .await
                .unwrap_or_else(|e| panic!("ListTagsForResource: {}", DisplayErrorContext(e)))
                .tags
                .unwrap_or_default();
            assert_eq!(
                tags.get("sjob:job").map(String::as_str),
                Some(batch_name),
                "{group_name}: {tags:?}"
            );
        }

        let definition = aws.active_job_definition(&names.job).await;
        assert_eq!(definition.revision, Some(1));
        assert_eq!(
            definition
                .platform_capabilities()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
            ["FARGATE"]
        );
        let container = definition
            .container_properties
            .as_ref()
            .expect("a container job definition");
        assert_eq!(
            container.image(),
            Some(format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp:latest").as_str())
        );
        let requirements: BTreeMap<&str, &str> = container
            .resource_requirements()
            .iter()
            .map(|r| {
                (
                    r.r#type().map(|t| t.as_str()).unwrap_or_default(),
                    r.value().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            requirements,
            BTreeMap::from([("MEMORY", "2048"), ("VCPU", "1")])
        );
        assert_eq!(
            container.job_role_arn(),
            Some(role_arn(&names.task_role).as_str())
        );
        assert_eq!(
            container.execution_role_arn(),
            Some(role_arn(&names.exec_role).as_str())
        );
        let logging = container
            .log_configuration
            .as_ref()
            .expect("the container logs to its own group");
        assert_eq!(logging.log_driver, Some(LogDriver::Awslogs));
        assert_eq!(
            logging.options,
            Some(HashMap::from([
                (
                    "awslogs-group".to_string(),
                    names.container_log_group.clone()
                ),
                ("awslogs-region".to_string(), REGION.to_string()),
                ("awslogs-stream-prefix".to_string(), batch_name.to_string()),
            ]))
        );

        let machine = aws
            .state_machine(&names.state_machine_arn())
            .await
            .unwrap_or_else(|| panic!("no state machine {}", names.job));
        let asl: Value = serde_json::from_str(&machine.definition).expect("the definition is JSON");
        let states: BTreeSet<&str> = asl["States"]
            .as_object()
            .expect("States is an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            states,
            // No topic is known (handlers given by ARN): no last resort.
            BTreeSet::from([
                "BatchGroup",
                "ErrorHandler",
                "ExtractInputParameters",
                "JobFailed",
                "NotificationFailed",
                "Notified",
                "Succeeded",
                "Unnotified",
                "WhatFailed"
            ])
        );
        assert_eq!(asl["StartAt"], "ExtractInputParameters");
        assert_eq!(machine.role_arn, role_arn(&names.sfn_role));
        let logging = machine
            .logging_configuration
            .as_ref()
            .expect("execution logging is configured");
        assert_eq!(logging.level(), Some(&LogLevel::All));
        assert!(logging.include_execution_data());
        let destinations: Vec<&str> = logging
            .destinations()
            .iter()
            .filter_map(|d| d.cloud_watch_logs_log_group()?.log_group_arn())
            .collect();
        assert_eq!(destinations, [format!("{}:*", names.log_group_arn())]);

        let deployed = aws
            .schedule(&names.schedule)
            .await
            .unwrap_or_else(|| panic!("no schedule {}", names.schedule));
        assert_eq!(deployed.schedule_expression_timezone(), Some("Asia/Tokyo"));
        let target = deployed.target().expect("a schedule has a target");
        assert_eq!(target.arn(), names.state_machine_arn());
        assert_eq!(target.role_arn(), role_arn(&names.scheduler_role));
        let input: Value = serde_json::from_str(target.input().unwrap_or("null")).unwrap();
        let expected_input = if batch_name == "crawler" {
            crawler_input()
        } else {
            json!({})
        };
        assert_eq!(input, expected_input, "the execution input of {batch_name}");
    }

    let crawler = Names::of("crawler");
    let environment: BTreeMap<String, String> = aws
        .active_job_definition(&crawler.job)
        .await
        .container_properties
        .expect("a container job definition")
        .environment()
        .iter()
        .filter_map(|kv| Some((kv.name.clone()?, kv.value.clone()?)))
        .collect();
    assert_eq!(
        environment,
        BTreeMap::from([
            ("LOG_LEVEL".to_string(), "info".to_string()),
            ("SITE".to_string(), "https://example.com".to_string()),
        ])
    );
    assert_eq!(
        aws.schedule(&crawler.schedule)
            .await
            .unwrap()
            .schedule_expression(),
        Some("rate(5 minutes)")
    );

    let report = Names::of("report");
    let definition = aws.active_job_definition(&report.job).await;
    assert_eq!(
        definition
            .timeout()
            .and_then(|t| t.attempt_duration_seconds()),
        Some(3600)
    );
    assert_eq!(
        definition.retry_strategy().and_then(|r| r.attempts()),
        Some(2)
    );
    assert_eq!(
        definition
            .tags()
            .and_then(|t| t.get("team"))
            .map(String::as_str),
        Some("data")
    );
    assert_eq!(
        aws.schedule(&report.schedule)
            .await
            .unwrap()
            .schedule_expression(),
        Some("cron(0 3 * * ? *)")
    );

    let plan = sjob
        .run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
    assert!(
        plan.stdout
            .contains("0 to create, 0 to update, 0 to delete, 18 unchanged"),
        "{plan}"
    );

    let redeploy = sjob.run_expecting(0, &["deploy"]).await;
    assert!(
        redeploy
            .stdout
            .contains("0 to create, 0 to update, 0 to delete"),
        "{redeploy}"
    );
    for batch_name in ["crawler", "report"] {
        assert_eq!(
            aws.revisions(&Names::of(batch_name).job).await,
            [(1, "ACTIVE".to_string())],
            "a redeploy registers no new revision of {batch_name}"
        );
    }
}

#[tokio::test]
async fn changing_memory_and_schedule_updates_exactly_those() {
    let (fixture, targets) = deployed(&[CRAWLER, REPORT]).await;
    let (aws, sjob) = (&fixture.aws, &fixture.sjob);
    let crawler = Names::of("crawler");
    let changed = CRAWLER
        .replace(r#"memory = "2048""#, r#"memory = "4096""#)
        .replace("rate(5 minutes)", "rate(10 minutes)");
    sjob.write_config(&config(&targets, &[&changed, REPORT]));

    let plan = sjob
        .run_expecting(0, &["plan", "--output", "json"])
        .await
        .json();

    let update = |kind: &str, field: &str| {
        (
            "crawler".to_string(),
            kind.to_string(),
            "update".to_string(),
            json!([field]),
        )
    };
    assert_eq!(
        pending_changes(&plan),
        [
            update("job_definition", "memory"),
            // The Pass state's metadata records the memory.
            update("state_machine", "definition"),
            update("schedule", "expression"),
        ],
        "{plan:#}"
    );
    assert_eq!(plan["summary"]["update"], 3);
    assert_eq!(plan["summary"]["unchanged"], 15);
    assert!(
        sjob.run(&["plan", "--detailed-exitcode"]).await.code == Some(2),
        "plan --detailed-exitcode exits 2 when something would change"
    );

    sjob.run_expecting(0, &["deploy"]).await;

    assert_eq!(
        aws.revisions(&crawler.job).await,
        [(1, "INACTIVE".to_string()), (2, "ACTIVE".to_string())]
    );
    let definition = aws.active_job_definition(&crawler.job).await;
    let memory = definition
        .container_properties()
        .expect("a container job definition")
        .resource_requirements()
        .iter()
        .find(|r| r.r#type().map(|t| t.as_str()) == Some("MEMORY"))
        .and_then(|r| r.value().map(String::from));
    assert_eq!(memory.as_deref(), Some("4096"));
    assert_eq!(
        aws.schedule(&crawler.schedule)
            .await
            .unwrap()
            .schedule_expression(),
        Some("rate(10 minutes)")
    );
    let asl = aws.definition(&crawler.state_machine_arn()).await;
    assert_eq!(
        asl["States"]["ExtractInputParameters"]["Parameters"]["metadata"]["memory"],
        "4096"
    );
    assert_eq!(
        aws.revisions(&Names::of("report").job).await,
        [(1, "ACTIVE".to_string())],
        "the other job is untouched"
    );
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
}

#[tokio::test]
async fn prune_removes_jobs_dropped_from_the_config() {
    let (fixture, targets) = deployed(&[CRAWLER, REPORT]).await;
    let (aws, sjob) = (&fixture.aws, &fixture.sjob);
    let report = Names::of("report");
    sjob.write_config(&config(&targets, &[CRAWLER]));

    let plan = sjob.run_expecting(0, &["plan"]).await;
    assert!(
        plan.stdout
            .contains("report  (not in the config: `deploy --prune` deletes it)"),
        "{plan}"
    );
    assert!(
        plan.stdout
            .contains("0 to delete, 9 unchanged, 9 kept until `deploy --prune`"),
        "{plan}"
    );
    for role in report.roles() {
        assert!(
            plan.stdout.contains(&format!("- role            {role}")),
            "{plan}"
        );
    }

    sjob.run_expecting(0, &["deploy"]).await;
    for role in report.roles() {
        aws.existing_role(role).await;
    }
    assert!(aws
        .state_machine(&report.state_machine_arn())
        .await
        .is_some());
    assert!(aws.schedule(&report.schedule).await.is_some());

    let prune = sjob.run_expecting(0, &["deploy", "--prune", "--yes"]).await;
    assert!(
        prune
            .stdout
            .contains("report  (not in the config: deleting)"),
        "{prune}"
    );

    for role_name in report.roles() {
        assert!(aws.role(role_name).await.is_none(), "{role_name} is left");
    }
    assert!(aws
        .state_machine(&report.state_machine_arn())
        .await
        .is_none());
    assert!(aws.schedule(&report.schedule).await.is_none());
    assert!(aws.log_group(&report.log_group).await.is_none());
    assert_eq!(
        aws.revisions(&report.job).await,
        [(1, "INACTIVE".to_string())]
    );

    let crawler = Names::of("crawler");
    for role in crawler.roles() {
        aws.existing_role(role).await;
    }
    assert!(aws
        .state_machine(&crawler.state_machine_arn())
        .await
        .is_some());
    assert!(aws.schedule(&crawler.schedule).await.is_some());
    assert!(aws.log_group(&crawler.log_group).await.is_some());
    assert_eq!(
        aws.revisions(&crawler.job).await,
        [(1, "ACTIVE".to_string())]
    );
    let plan = sjob
        .run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
    assert!(plan.stdout.contains("0 to delete, 9 unchanged"), "{plan}");
}

#[tokio::test]
async fn destroy_leaves_nothing_and_is_idempotent() {
    let (fixture, _) = deployed(&[CRAWLER, REPORT]).await;
    let (aws, sjob) = (&fixture.aws, &fixture.sjob);

    let destroy = sjob.run_expecting(0, &["destroy", "--yes"]).await;

    assert!(destroy.stdout.contains("18 to delete"), "{destroy}");
    assert_eq!(app_resources(aws).await, Vec::<String>::new());
    for batch_name in ["crawler", "report"] {
        assert_eq!(
            aws.revisions(&Names::of(batch_name).job).await,
            [(1, "INACTIVE".to_string())]
        );
    }

    let again = sjob.run_expecting(0, &["destroy", "--yes"]).await;
    assert!(
        again
            .stdout
            .contains("0 to create, 0 to update, 0 to delete"),
        "{again}"
    );

    // Half of a stack: the crawler's state machine deleted behind sjob's back.
    sjob.run_expecting(0, &["deploy"]).await;
    let crawler = Names::of("crawler");
    aws.sfn
        .delete_state_machine()
        .state_machine_arn(crawler.state_machine_arn())
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteStateMachine: {}", DisplayErrorContext(e)));

    let partial = sjob.run_expecting(0, &["destroy", "--yes"]).await;

    assert!(partial.stdout.contains("17 to delete"), "{partial}");
    assert_eq!(app_resources(aws).await, Vec::<String>::new());
}

#[tokio::test]
async fn refuses_to_touch_resources_it_did_not_create() {
    let fixture = Fixture::new().await;
    let (aws, sjob) = (&fixture.aws, &fixture.sjob);
    let theirs = Names::of("crawler").sfn_role;
    aws.iam
        .create_role()
        .role_name(&theirs)
        .assume_role_policy_document(
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "states.amazonaws.com"},
                    "Action": "sts:AssumeRole"
                }]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateRole {theirs}: {}", DisplayErrorContext(e)));
    let targets = fixture.existing_targets().await;
    sjob.write_config(&config(&targets, &[CRAWLER, REPORT]));

    let deploy = sjob.run(&["deploy"]).await;

    assert_eq!(deploy.code, Some(1), "{deploy}");
    assert!(
        deploy.stdout.contains(&format!(
            "! role            {theirs}  (exists, not this stack's: not sjob's (no sjob:managed-by tag))"
        )),
        "{deploy}"
    );
    assert!(
        deploy.stderr_says("exist under this stack's names but are not its own"),
        "{deploy}"
    );
    assert_eq!(
        app_resources(aws).await,
        [format!("role {theirs}")],
        "nothing else was created"
    );
    let untouched = aws.existing_role(&theirs).await;
    assert!(untouched.tags().is_empty(), "{untouched:?}");
    assert_eq!(aws.inline_policies(&theirs).await, BTreeMap::new());
}

#[tokio::test]
async fn validate_reports_every_problem_with_its_place() {
    let fixture = Fixture::new().await;
    let sjob = &fixture.sjob;
    let long_name = "nightly-full-export-of-every-table-for-analytics";
    let text = format!(
        r#"app_name = "myapp"
stage = "dev"

[defaults]
image_uri = "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp"
batch_job_queue_arn = "arn:aws:batch:{REGION}:{ACCOUNT}:queue/myapp"
success_handler_arn = "{}"
error_handler_arn = "{}"

[jobs.crawler]
command = []
schedule_expression = "cron(0 3 * * *)"
schedule_timezone = "Mars/Olympus"
vcpus = "1"
memory = "1000"
memroy = "2048"
env = {{ 1BAD = "x" }}

[jobs.{long_name}]
command = ["python", "-m", "export"]
schedule_expression = "rate(1 day)"
"#,
        lambda_arn(SUCCESS_FUNCTION),
        lambda_arn(ERROR_FUNCTION)
    );
    sjob.write_config(&text);
    let long_job = format!("jobs.{long_name}");
    let role_too_long = |suffix: &str| {
        let role = format!("myapp-dev-{long_name}-ScheduledJob-{suffix}");
        format!(
            "the IAM role name `{role}` would be {} characters; AWS allows 64",
            role.len()
        )
    };
    let schedule = format!("myapp-dev-{long_name}-ScheduledJob-Scheduler");
    let schedule_too_long = format!(
        "the schedule name `{schedule}` would be {} characters; AWS allows 64",
        schedule.len()
    );
    // (line, column, key, message), in file order; the queue ARN, which
    // both jobs inherit from [defaults], once.
    let expected: Vec<(u64, u64, &str, String)> = vec![
        (
            6,
            23,
            "defaults.batch_job_queue_arn",
            format!("`arn:aws:batch:{REGION}:{ACCOUNT}:queue/myapp` is not a batch ARN"),
        ),
        (
            11,
            11,
            "jobs.crawler.command",
            "the command is empty".into(),
        ),
        (
            12,
            23,
            "jobs.crawler.schedule_expression",
            "cron needs 6 fields (minutes hours day-of-month month day-of-week year), found 5"
                .into(),
        ),
        (
            13,
            21,
            "jobs.crawler.schedule_timezone",
            "`Mars/Olympus` is not an IANA timezone (e.g. UTC, Asia/Tokyo, Europe/Berlin)".into(),
        ),
        (
            15,
            10,
            "jobs.crawler.memory",
            "Fargate does not offer 1000 MiB with 1 vCPU".into(),
        ),
        (16, 1, "jobs.crawler.memroy", "unknown key `memroy`".into()),
        (
            17,
            9,
            "jobs.crawler.env.1BAD",
            "`1BAD` is not a valid environment variable name".into(),
        ),
        (19, 7, long_job.as_str(), schedule_too_long),
        (19, 7, long_job.as_str(), role_too_long("EcsTaskExecRole")),
        (19, 7, long_job.as_str(), role_too_long("EcsTaskRole")),
        (19, 7, long_job.as_str(), role_too_long("PipesRole")),
        (19, 7, long_job.as_str(), role_too_long("BatchSfnRole")),
    ];

    let json_run = sjob
        .run_expecting(1, &["validate", "--output", "json"])
        .await;
    let report = json_run.json();
    assert_eq!(report["valid"], false, "{json_run}");
    let problems = report["problems"].as_array().expect("a list of problems");
    let found: Vec<(u64, u64, &str, String)> = problems
        .iter()
        .map(|p| {
            assert_eq!(p["file"], sjob.config_path().display().to_string(), "{p}");
            (
                p["line"].as_u64().unwrap_or_default(),
                p["column"].as_u64().unwrap_or_default(),
                p["key"].as_str().unwrap_or_default(),
                p["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(found, expected, "{json_run}");
    let memroy = problems
        .iter()
        .find(|p| p["key"] == "jobs.crawler.memroy")
        .unwrap();
    assert!(
        memroy["help"]
            .as_str()
            .unwrap_or_default()
            .starts_with("did you mean `memory`?"),
        "{memroy}"
    );

    let text_run = sjob.run_expecting(1, &["validate"]).await;
    assert_eq!(text_run.stdout, "", "{text_run}");
    assert!(
        text_run.stderr_says(&format!("{} problem(s) in the config", expected.len())),
        "{text_run}"
    );
    let path = sjob.config_path().display().to_string();
    for (line, column, key, message) in &expected {
        assert!(
            text_run.stderr_says(&format!("{key}: {message}")),
            "stderr lacks `{key}: {message}`:\n{text_run}"
        );
        assert!(
            text_run
                .stderr
                .contains(&format!("[{path}:{line}:{column}]")),
            "stderr does not point at line {line} for {key}:\n{text_run}"
        );
    }
}

// ---------------------------------------------------------------------------
// Executions with the real handlers
// ---------------------------------------------------------------------------

/// The crawler deployed against a Fargate job queue and the two handler
/// functions running the real binaries, which notify an SNS topic that an
/// SQS queue subscribes to (raw delivery).
struct Live {
    fixture: Fixture,
    notifications: String,
    /// The job queue the crawler runs in.
    queue: String,
    /// The queue and the handlers, for a changed config.
    targets: Targets,
    crawler: Names,
}

impl Live {
    async fn deployed() -> Live {
        Live::deployed_with(CRAWLER).await
    }

    /// Deployed with this `[jobs.crawler]` table.
    async fn deployed_with(crawler: &str) -> Live {
        let fixture = Fixture::new().await;
        let handlers = fixture.handlers().timeout(HANDLER_TIMEOUT).build().await;
        let notifications = handlers.subscriber.expect("a new topic has a subscriber");
        let targets = handlers.targets;
        fixture.sjob.write_config(&config(&targets, &[crawler]));
        fixture.sjob.run_expecting(0, &["deploy"]).await;
        Live {
            fixture,
            notifications,
            queue: targets.queue.clone(),
            targets,
            crawler: Names::of("crawler"),
        }
    }

    /// `sjob run crawler --wait [extra...]`, expecting exit code `code`:
    /// the execution ARN (the first line of stdout) and the run.
    async fn run_crawler(&self, code: i32, extra: &[&str]) -> (String, SjobRun) {
        let mut args = vec!["run", "crawler", "--wait"];
        args.extend_from_slice(extra);
        let run = self.fixture.sjob.run_expecting(code, &args).await;
        let arn = run.stdout.lines().next().unwrap_or_default().to_string();
        assert!(
            arn.starts_with(&format!(
                "arn:aws:states:{REGION}:{ACCOUNT}:execution:{}:",
                self.crawler.job
            )),
            "the first line is the execution ARN: {run}"
        );
        (arn, run)
    }

    /// The one notification that arrived since the last call.
    async fn notification(&self) -> Value {
        let mut messages = self
            .fixture
            .aws
            .take_messages(&self.notifications, DELIVERY_WAIT)
            .await;
        assert_eq!(messages.len(), 1, "{messages:#?}");
        let body = messages.remove(0).body.unwrap_or_default();
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }

    /// The events `function` received, oldest first.
    async fn events_of(&self, function: &str) -> Vec<Value> {
        self.fixture
            .emulator
            .lambda_invocations()
            .await
            .into_iter()
            .filter(|i| i["function_name"] == function)
            .map(|i| i["event"].clone())
            .collect()
    }
}

#[tokio::test]
async fn run_wait_drives_batch_and_the_success_handler_to_sqs() {
    let live = Live::deployed().await;

    let (execution, run) = live.run_crawler(0, &[]).await;

    assert!(run.stdout.contains("SUCCEEDED"), "{run}");
    let notification = live.notification().await;
    assert_eq!(notification["status"], "SUCCEEDED", "{notification:#}");
    assert_eq!(notification["app_name"], "myapp");
    assert_eq!(notification["stage"], "dev");
    assert_eq!(notification["batch_name"], "crawler");
    assert_eq!(notification["job_name"], live.crawler.job.as_str());
    assert_eq!(notification["execution"]["arn"], execution.as_str());
    assert_eq!(notification["batch_job"]["exit_code"], 0);
    assert_eq!(notification["error"], Value::Null);
    assert_eq!(notification["input"], crawler_input());

    let events = live.events_of(SUCCESS_FUNCTION).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let state = &events[0]["state"];
    assert_eq!(state["metadata"]["job_name"], live.crawler.job.as_str());
    assert_eq!(state["metadata"]["batch_name"], "crawler");
    assert_eq!(state["input"], crawler_input());
    assert_eq!(state["batch"]["Status"], "SUCCEEDED", "{state:#}");
    assert_eq!(state["batch"]["JobName"], live.crawler.job.as_str());
    assert_eq!(events[0]["context"]["Execution"]["Id"], execution.as_str());
    assert!(live.events_of(ERROR_FUNCTION).await.is_empty());

    live.run_crawler(0, &["--input", r#"{"x":1}"#]).await;

    let notification = live.notification().await;
    assert_eq!(notification["status"], "SUCCEEDED", "{notification:#}");
    assert_eq!(notification["input"], json!({"x": 1}));
}

#[tokio::test]
async fn a_failing_job_drives_the_error_handler() {
    let live = Live::deployed().await;
    let aws = &live.fixture.aws;
    live.fixture
        .emulator
        .set_job_outcome(JobOutcome::Failed)
        .await;

    let (execution, run) = live.run_crawler(3, &[]).await;

    assert!(run.stdout.contains("FAILED"), "{run}");
    let described = aws.execution(&execution).await;
    assert_eq!(described.status(), &ExecutionStatus::Failed);
    assert_eq!(described.error(), Some("sjob.JobFailed"));
    let history = aws
        .sfn
        .get_execution_history()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetExecutionHistory: {}", DisplayErrorContext(e)));
    let entered: Vec<&str> = history
        .events()
        .iter()
        .filter_map(|e| e.state_entered_event_details().map(|d| d.name()))
        .collect();
    assert_eq!(
        entered.last(),
        Some(&"JobFailed"),
        "states entered: {entered:?}"
    );
    assert!(
        entered.contains(&"ErrorHandler"),
        "states entered: {entered:?}"
    );
    let last = history.events().last().expect("an execution has events");
    assert_eq!(last.r#type(), &HistoryEventType::ExecutionFailed);

    let notification = live.notification().await;
    assert_eq!(notification["status"], "FAILED", "{notification:#}");
    assert_eq!(notification["batch_name"], "crawler");
    assert_eq!(notification["execution"]["arn"], execution.as_str());
    assert_eq!(notification["error"]["kind"], "job_failed");
    assert_eq!(notification["error"]["error"], "States.TaskFailed");
    assert_eq!(notification["batch_job"]["exit_code"], 1);
    assert_eq!(notification["input"], crawler_input());
    assert!(live.events_of(SUCCESS_FUNCTION).await.is_empty());
    assert_eq!(live.events_of(ERROR_FUNCTION).await.len(), 1);
}

/// `run_timeout_seconds` caps the Batch task: a job that never ends is
/// stopped when the cap is reached, the error handler sends one `timeout`
/// notification, and the execution fails.
#[tokio::test]
async fn a_run_over_its_cap_is_stopped_and_reported_as_a_timeout() {
    let live = Live::deployed_with(&format!("{CRAWLER}run_timeout_seconds = 60\n")).await;
    let aws = &live.fixture.aws;
    live.fixture
        .emulator
        .set_job_outcome(JobOutcome::Running)
        .await;

    let (execution, run) = live.run_crawler(3, &[]).await;

    assert!(run.stdout.contains("FAILED"), "{run}");
    let described = aws.execution(&execution).await;
    assert_eq!(described.status(), &ExecutionStatus::Failed);
    assert_eq!(described.error(), Some("sjob.JobFailed"));
    let notification = live.notification().await;
    assert_eq!(notification["status"], "FAILED", "{notification:#}");
    assert_eq!(notification["error"]["kind"], "timeout");
    assert_eq!(notification["error"]["error"], "States.Timeout");
    assert_eq!(live.events_of(ERROR_FUNCTION).await.len(), 1);
    // Step Functions stopped the job its task was managing. TerminateJob
    // is asynchronous on Batch (and in the harness): the job reaches FAILED
    // some time after the task ended.
    let deadline = std::time::Instant::now() + HANDLER_TIMEOUT;
    let stopped = loop {
        let stopped = aws.jobs(&live.queue, JobStatus::Failed).await;
        if !stopped.is_empty() || std::time::Instant::now() > deadline {
            break stopped;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(stopped.len(), 1, "{stopped:#?}");
    assert!(
        stopped[0]
            .status_reason()
            .is_some_and(|r| r.contains(execution.as_str())),
        "{stopped:#?}"
    );
}

/// `array_size`: the state machine submits one array job of that size and
/// waits for its parent; each notification carries the children's summary,
/// and a partial failure's names the failed index, which the error handler
/// asked Batch for (`ListJobs`).
#[tokio::test]
async fn an_array_jobs_notifications_carry_its_childrens_summary() {
    let live = Live::deployed_with(&format!("{CRAWLER}array_size = 3\n")).await;
    let aws = &live.fixture.aws;
    live.fixture
        .emulator
        .set_container_output(JobOutcome::Succeeded, &["page done"])
        .await;

    live.run_crawler(0, &[]).await;
    // `sjob logs` reads every child's stream, by index.
    let logs = live
        .fixture
        .sjob
        .run_expecting(0, &["logs", "crawler"])
        .await;
    let children: Vec<&str> = logs
        .stdout
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest))
        .collect();
    assert_eq!(
        children,
        [
            "[0, attempt 1] page done",
            "[1, attempt 1] page done",
            "[2, attempt 1] page done"
        ],
        "{logs}"
    );
    let notification = live.notification().await;
    assert_eq!(notification["status"], "SUCCEEDED", "{notification:#}");
    let array = &notification["batch_job"]["array"];
    assert_eq!(array["size"], 3, "{notification:#}");
    assert_eq!(array["succeeded"], 3);
    assert_eq!(array["failed"], 0);
    assert_eq!(array["failed_indexes"], json!([]));
    assert_eq!(array["status_summary"]["SUCCEEDED"], 3);
    let parent = notification["batch_job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let children: Vec<String> = aws
        .jobs(&live.queue, JobStatus::Succeeded)
        .await
        .iter()
        .filter_map(|j| {
            j.job_id()?
                .strip_prefix(&format!("{parent}:"))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(children.len(), 3, "{children:?}");

    live.fixture
        .emulator
        .set_array_outcome(JobOutcome::Succeeded, &[1])
        .await;
    let (execution, _) = live.run_crawler(3, &[]).await;
    let described = aws.execution(&execution).await;
    assert_eq!(described.error(), Some("sjob.JobFailed"));
    let notification = live.notification().await;
    assert_eq!(notification["status"], "FAILED", "{notification:#}");
    assert_eq!(notification["error"]["kind"], "job_failed");
    assert_eq!(
        notification["error"]["message"],
        "Array Child Job failed; 1 of 3 children failed"
    );
    let array = &notification["batch_job"]["array"];
    assert_eq!(array["succeeded"], 2, "{notification:#}");
    assert_eq!(array["failed"], 1);
    assert_eq!(array["failed_indexes"], json!([1]));
    assert_eq!(live.events_of(ERROR_FUNCTION).await.len(), 1);
}

/// Progress goes to stderr (log lines without a terminal): the Batch job's
/// statuses while `run --wait` follows it. Stdout stays one JSON document.
#[tokio::test]
async fn progress_goes_to_stderr_and_json_stays_parseable() {
    let live = Live::deployed().await;
    let run = live
        .fixture
        .sjob
        .run_expecting(0, &["--output", "json", "run", "crawler", "--wait"])
        .await;
    assert_eq!(run.json()["status"], "SUCCEEDED", "{run}");
    let statuses: Vec<Value> = run
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|log| {
            let message = log["fields"]["message"].as_str()?.to_string();
            message.starts_with("Batch job ").then_some(json!(message))
        })
        .collect();
    assert_eq!(statuses.len(), 1, "{run}");
    assert!(
        statuses[0].as_str().unwrap().ends_with(": SUCCEEDED"),
        "{statuses:?}"
    );
}

/// `expect_success_within`: an alarm on the state machine's successful
/// executions, every period of the window without one breaching (missing
/// data too), whose actions invoke the error handler, and only this alarm
/// may. CloudWatch's invocations (ALARM, then OK) become a `missed` and a
/// `recovered` notification. A new window updates it; dropping the key
/// deletes it and its permission.
#[tokio::test]
async fn a_job_without_a_success_in_its_window_is_reported_missed_then_recovered() {
    let live = Live::deployed_with(&format!("{CRAWLER}expect_success_within = \"26h\"\n")).await;
    let (aws, emulator, sjob) = (
        &live.fixture.aws,
        &live.fixture.emulator,
        &live.fixture.sjob,
    );
    let name = format!("{}-Missed", live.crawler.job);
    let machine = live.crawler.state_machine_arn();
    let alarm = emulator.alarm(&name).await.expect("the alarm exists");
    assert_eq!(
        (
            alarm.namespace.as_str(),
            alarm.metric.as_str(),
            alarm.statistic.as_str()
        ),
        ("AWS/States", "ExecutionsSucceeded", "Sum")
    );
    assert_eq!(alarm.dimensions, std::slice::from_ref(&machine));
    assert_eq!(
        (
            alarm.period,
            alarm.evaluation_periods,
            alarm.datapoints_to_alarm
        ),
        (3600, 26, 26)
    );
    assert_eq!(alarm.threshold, 1.0);
    assert_eq!(alarm.comparison, "LessThanThreshold");
    assert_eq!(alarm.treat_missing_data, "breaching");
    assert_eq!(alarm.alarm_actions, [lambda_arn(ERROR_FUNCTION)]);
    assert_eq!(alarm.ok_actions, [lambda_arn(ERROR_FUNCTION)]);
    assert_eq!(
        alarm_statements(aws, &name).await,
        [json!({
            "Sid": name,
            "Effect": "Allow",
            "Principal": {"Service": "lambda.alarms.cloudwatch.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": lambda_arn(ERROR_FUNCTION),
            "Condition": {"ArnLike": {"AWS:SourceArn": alarm.arn}}
        })]
    );
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;

    // A permission removed by hand is drift: the alarm would fire into
    // nothing. Deploy grants it again.
    aws.lambda
        .remove_permission()
        .function_name(ERROR_FUNCTION)
        .statement_id(&name)
        .send()
        .await
        .unwrap();
    let plan = sjob
        .run_expecting(0, &["plan", "--output", "json"])
        .await
        .json();
    assert!(
        plan["changes"].as_array().unwrap().contains(&json!({
            "job": "crawler", "kind": "alarm", "name": name, "action": "update", "fields": ["invokable"]
        })),
        "{plan:#}"
    );
    sjob.run_expecting(0, &["deploy"]).await;
    assert_eq!(alarm_statements(aws, &name).await.len(), 1);
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;

    // What CloudWatch sends the function when the alarm changes state.
    let event = |state: &str, previous: &str| {
        json!({
            "source": "aws.cloudwatch",
            "alarmArn": alarm.arn,
            "accountId": ACCOUNT,
            "time": "2026-12-06T03:05:00.000+0000",
            "region": REGION,
            "alarmData": {
                "alarmName": name,
                "state": {"value": state, "reason": format!("now {state}"), "timestamp": "2026-12-06T03:05:00.000+0000"},
                "previousState": {"value": previous, "reason": "before", "timestamp": "2026-12-05T01:00:00.000+0000"},
                "configuration": {
                    "description": alarm.description,
                    "metrics": [{"id": "m1", "returnData": true, "metricStat": {
                        "metric": {"namespace": "AWS/States", "name": "ExecutionsSucceeded", "dimensions": {"StateMachineArn": machine}},
                        "period": 3600, "stat": "Sum"
                    }}]
                }
            }
        })
    };
    let invoked = aws.invoke(ERROR_FUNCTION, &event("ALARM", "OK")).await;
    assert_eq!(invoked.function_error, None, "{:#}", invoked.payload);
    let missed = live.notification().await;
    assert_eq!(missed["status"], "FAILED", "{missed:#}");
    assert_eq!(missed["error"]["kind"], "missed");
    assert_eq!(missed["error"]["error"], "sjob.Missed");
    assert_eq!(
        missed["error"]["message"],
        "no successful run within 26h (now ALARM)"
    );
    assert_eq!(
        (&missed["app_name"], &missed["stage"], &missed["batch_name"]),
        (&json!("myapp"), &json!("dev"), &json!("crawler"))
    );
    assert_eq!(missed["execution"]["state_machine"], json!(machine));
    // `sjob simulate` gives what CloudWatch sends on the return to OK.
    let ok = sjob
        .run_expecting(0, &["simulate", "crawler", "--outcome", "recovered"])
        .await
        .json();
    assert_eq!(ok["alarmArn"], json!(alarm.arn));
    assert_eq!(
        ok["alarmData"]["configuration"]["description"],
        json!(alarm.description)
    );
    let invoked = aws.invoke(ERROR_FUNCTION, &ok).await;
    assert_eq!(invoked.function_error, None, "{:#}", invoked.payload);
    let recovered = live.notification().await;
    assert_eq!(recovered["status"], "SUCCEEDED", "{recovered:#}");
    assert_eq!(recovered["error"]["kind"], "recovered");

    sjob.write_config(&config(
        &live.targets,
        &[&format!("{CRAWLER}expect_success_within = \"2d\"\n")],
    ));
    let plan = sjob
        .run_expecting(0, &["plan", "--output", "json"])
        .await
        .json();
    let alarm_change = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "alarm")
        .cloned();
    assert_eq!(
        alarm_change,
        Some(
            json!({"job": "crawler", "kind": "alarm", "name": name, "action": "update",
            "fields": ["evaluation_periods", "rule", "description"]})
        ),
        "{plan:#}"
    );
    sjob.run_expecting(0, &["deploy"]).await;
    assert_eq!(emulator.alarm(&name).await.unwrap().evaluation_periods, 48);

    // Deleting it is deploy's, but, as every delete, only with --yes.
    sjob.write_config(&config(&live.targets, &[CRAWLER]));
    let plan = sjob.run_expecting(0, &["plan"]).await;
    assert!(plan.stdout.contains("1 to delete"), "{plan}");
    sjob.run_expecting(0, &["deploy", "--yes"]).await;
    assert_eq!(emulator.alarm(&name).await, None);
    assert_eq!(alarm_statements(aws, &name).await, Vec::<Value>::new());
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
}

/// The error handler's policy statements that name `alarm`.
async fn alarm_statements(aws: &Aws, alarm: &str) -> Vec<Value> {
    aws.policy_statements(ERROR_FUNCTION)
        .await
        .into_iter()
        .filter(|s| s["Sid"] == alarm)
        .collect()
}

/// `overlap = "skip"`: while the first run's job is still running, a run
/// started after it ends at once: SUCCEEDED, no second Batch job, the
/// running execution recorded in its output, and (with `notify_on_skip`)
/// one SKIPPED notification naming it.
#[tokio::test]
async fn a_run_while_another_is_running_is_skipped_with_its_reason() {
    let live = Live::deployed_with(&format!(
        "{CRAWLER}overlap = \"skip\"\nnotify_on_skip = true\n"
    ))
    .await;
    let aws = &live.fixture.aws;
    live.fixture
        .emulator
        .set_job_outcome(JobOutcome::Running)
        .await;
    let started = live
        .fixture
        .sjob
        .run_expecting(0, &["run", "crawler"])
        .await;
    let first = started
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let running_jobs = || aws.jobs(&live.queue, JobStatus::Running);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while running_jobs().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run's job never started: {started}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (second, run) = live.run_crawler(0, &[]).await;

    assert!(run.stdout.contains("SUCCEEDED"), "{run}");
    let described = aws.execution(&second).await;
    let output: Value = serde_json::from_str(described.output().unwrap_or("null")).unwrap();
    assert_eq!(
        output["skipped"]["running_execution"],
        first.as_str(),
        "{output:#}"
    );
    assert_eq!(
        running_jobs().await.len(),
        1,
        "the skipped run submitted no job"
    );
    let notification = live.notification().await;
    assert_eq!(notification["status"], "SKIPPED", "{notification:#}");
    assert_eq!(notification["execution"]["arn"], second.as_str());
    assert_eq!(notification["error"]["kind"], "skipped");
    assert_eq!(notification["error"]["error"], "sjob.Skipped");
    assert_eq!(
        notification["error"]["message"],
        format!("an earlier execution is still running: {first}")
    );
    assert_eq!(notification["batch_job"], Value::Null);
}

/// `status`: each run with its Batch job and attempts, the success rate
/// and duration percentiles, a history strip and the next fire times; the
/// calls it makes do not grow with the runs it shows.
#[tokio::test]
async fn status_lists_executions_and_next_fire_times() {
    let live = Live::deployed().await;
    live.fixture
        .emulator
        .set_job_outcome(JobOutcome::Failed)
        .await;
    let (failed, _) = live.run_crawler(3, &[]).await;
    live.fixture
        .emulator
        .set_job_outcome(JobOutcome::Succeeded)
        .await;
    let (execution, _) = live.run_crawler(0, &[]).await;
    let before = Utc::now();

    let status = live
        .fixture
        .sjob
        .run_expecting(0, &["status", "crawler", "--output", "json"])
        .await;

    let jobs = status.json();
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{status}");
    let job = &jobs[0];
    assert_eq!(job["job"], "crawler");
    assert_eq!(job["deployed"], true);
    assert_eq!(job["enabled"], true);
    assert_eq!(job["schedule_expression"], "rate(5 minutes)");
    assert_eq!(job["timezone"], "Asia/Tokyo");
    let recent = job["recent_executions"].as_array().expect("a list");
    assert_eq!(recent.len(), 2, "{status}");
    assert_eq!(recent[0]["execution_arn"], execution.as_str());
    assert_eq!(recent[0]["status"], "SUCCEEDED");
    assert_eq!(recent[1]["execution_arn"], failed.as_str());
    assert_eq!(recent[1]["status"], "FAILED");
    let batch_jobs = live
        .fixture
        .aws
        .jobs(&live.queue, JobStatus::Succeeded)
        .await;
    assert_eq!(
        recent[0]["batch_job_id"].as_str(),
        batch_jobs[0].job_id(),
        "{status}"
    );
    assert_ne!(recent[0]["batch_job_id"], recent[1]["batch_job_id"]);
    assert_eq!(
        (&recent[0]["attempts"], &recent[1]["attempts"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(job["success_rate"], 0.5);
    assert!(job["p50_seconds"].as_f64().is_some(), "{status}");
    assert!(
        job["p95_seconds"].as_f64() >= job["p50_seconds"].as_f64(),
        "{status}"
    );
    let text = live
        .fixture
        .sjob
        .run_expecting(0, &["status", "crawler"])
        .await;
    assert!(text.stdout.contains("  runs  x+  "), "{text}");
    assert!(text.stdout.contains("50% succeeded"), "{text}");
    let next: Vec<DateTime<Utc>> = job["next_fire_times"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            t.as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("not a time: {t}"))
        })
        .collect();
    assert_eq!(next.len(), 3, "{status}");
    assert!(next[0] > before, "{next:?}");
    for pair in next.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::minutes(5), "{next:?}");
    }

    // The calls, counted through a proxy, at 10 and 100 jobs (the crawler
    // and jobs not deployed yet), 50 runs each at most: two per job, one
    // Batch listing per queue and one DescribeJobs per 100 runs found.
    let proxy = FaultProxy::start(&live.fixture.emulator.endpoint(), FaultPlan::none()).await;
    let counted = Sjob::at(proxy.endpoint());
    for jobs in [10, 100] {
        let others: Vec<String> = (1..jobs)
            .map(|n| format!("[jobs.other{n}]\ncommand = [\"true\"]\nschedule_expression = \"rate(1 hour)\"\n"))
            .collect();
        let mut tables: Vec<&str> = vec![CRAWLER];
        tables.extend(others.iter().map(String::as_str));
        counted.write_config(&config(&live.targets, &tables));
        let before = proxy.calls().len();
        let status = counted
            .run_expecting(0, &["status", "--count", "50", "--output", "json"])
            .await;
        assert_eq!(status.json().as_array().map(Vec::len), Some(jobs));
        let mut by_action: BTreeMap<String, usize> = BTreeMap::new();
        for call in &proxy.calls()[before..] {
            *by_action.entry(call.action.clone()).or_default() += 1;
        }
        eprintln!("status of {jobs} jobs: {by_action:?}");
        assert_eq!(
            by_action,
            // The proxy names Batch's REST actions by their paths; the
            // account comes from STS, as the config does not give it.
            BTreeMap::from([
                ("GetCallerIdentity".to_string(), 1),
                ("ListExecutions".to_string(), jobs),
                ("GetSchedule".to_string(), jobs),
                ("listjobs".to_string(), 1),
                ("describejobs".to_string(), 1),
            ]),
            "status of {jobs} jobs"
        );
    }
}

/// Fields moto's interpreter gets wrong, left out of the comparison: it
/// omits `RedriveCount` (AWS sends 0), and reports Batch defaults a Fargate
/// job record does not carry.
const EMULATOR_ONLY: &[&str] = &[
    ".context.Execution.RedriveCount",
    ".Privileged",
    ".ReadonlyRootFilesystem",
];

/// Replaces what differs between any two executions (ids, times, the
/// execution's name) so two events can be compared as values. Environment
/// lists are compared as sets: their order means nothing to a container.
fn without_ids_and_times(value: &Value) -> Value {
    const VARYING: &[&str] = &[
        "JobId",
        "JobArn",
        "TaskArn",
        "LogStreamName",
        "CreatedAt",
        "StartedAt",
        "StoppedAt",
        "StartTime",
        "EnteredTime",
        "Id",
    ];
    let is_uuid = |s: &str| s.len() == 36 && s.matches('-').count() == 4;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if VARYING.contains(&k.as_str()) && !v.is_object() {
                        json!("<varies>")
                    } else if k == "Cause" {
                        // The failed job's record, as JSON text.
                        without_ids_and_times(
                            &serde_json::from_str(v.as_str().unwrap_or("null"))
                                .unwrap_or(Value::Null),
                        )
                    } else {
                        without_ids_and_times(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(without_ids_and_times).collect();
            items.sort_by_key(|item| item.get("Name").and_then(Value::as_str).map(str::to_string));
            Value::Array(items)
        }
        Value::String(s) if s.contains(":execution:") => json!("<execution arn>"),
        Value::String(s) if is_uuid(s) => json!("<uuid>"),
        other => other.clone(),
    }
}

/// Every path to a leaf of `value`, for reporting which differ.
fn leaves(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| leaves(v, format!("{path}.{k}"), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{path}[{i}]"), out)),
        leaf => {
            out.insert(path, leaf.clone());
        }
    }
}

/// The paths where two events differ, with both values.
fn differences(local: &Value, interpreted: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves(&without_ids_and_times(local), String::new(), &mut a);
    leaves(&without_ids_and_times(interpreted), String::new(), &mut b);
    let paths: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    paths
        .into_iter()
        .filter(|p| a.get(*p) != b.get(*p))
        .filter(|p| !EMULATOR_ONLY.iter().any(|gap| p.ends_with(gap)))
        .map(|p| format!("{p}: local {:?} / interpreter {:?}", a.get(p), b.get(p)))
        .collect()
}

/// `sjob simulate` (and `sjob local run`, which shares its event builder)
/// must send the handlers what the deployed state machine sends them when
/// moto's interpreter runs it: same shape, same values but ids and times.
/// The job uses the options that shape the job record and the run:
/// `array_size` (the record is the array's parent), `retry_on`, the runtime
/// platform and storage, and `overlap = "skip"` (whose skipped run's event
/// is compared too).
#[tokio::test]
async fn local_events_match_what_the_state_machine_sends() {
    let live = Live::deployed_with(&format!(
        r#"{CRAWLER}retry_attempts = 2
array_size = 3
retry_on = [{{ exit_code = "3", action = "exit" }}, {{ status_reason = "Host EC2*", action = "retry" }}]
cpu_architecture = "arm64"
ephemeral_storage_gib = 30
overlap = "skip"
notify_on_skip = true
"#
    ))
    .await;
    let sjob = &live.fixture.sjob;

    live.run_crawler(0, &[]).await;
    let interpreted = live.events_of(SUCCESS_FUNCTION).await.remove(0);
    assert_eq!(
        interpreted["state"]["batch"]["ArrayProperties"]["Size"], 3,
        "{interpreted:#}"
    );
    let local = sjob
        .run_expecting(0, &["simulate", "crawler", "--outcome", "success"])
        .await
        .json();
    let diff = differences(&local, &interpreted);
    assert!(
        diff.is_empty(),
        "success events differ:\n{}",
        diff.join("\n")
    );

    live.fixture
        .emulator
        .set_job_outcome(JobOutcome::Failed)
        .await;
    live.run_crawler(3, &[]).await;
    let interpreted = live.events_of(ERROR_FUNCTION).await.remove(0);
    let local = sjob
        .run_expecting(0, &["simulate", "crawler", "--outcome", "failed"])
        .await
        .json();
    let diff = differences(&local, &interpreted);
    assert!(
        diff.is_empty(),
        "failure events differ:\n{}",
        diff.join("\n")
    );

    live.fixture
        .emulator
        .set_job_outcome(JobOutcome::Running)
        .await;
    sjob.run_expecting(0, &["run", "crawler"]).await;
    live.run_crawler(0, &[]).await;
    let interpreted = live.events_of(SUCCESS_FUNCTION).await.pop().unwrap();
    let local = sjob
        .run_expecting(0, &["simulate", "crawler", "--outcome", "skipped"])
        .await
        .json();
    let diff = differences(&local, &interpreted);
    assert!(
        diff.is_empty(),
        "skipped events differ:\n{}",
        diff.join("\n")
    );
}

/// Tags of a role, a log group and a state machine, as AWS reports them.
async fn tags_of(aws: &Aws, names: &Names) -> [BTreeMap<String, String>; 3] {
    let role = aws.existing_role(&names.sfn_role).await;
    let role_tags = role
        .tags()
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let group_arn = format!(
        "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}",
        names.log_group
    );
    let group_tags = aws
        .logs
        .list_tags_for_resource()
        .resource_arn(&group_arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default()
        .into_iter()
        .collect();
    let machine_arn = format!(
        "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{}",
        names.job
    );
    let machine_tags = aws
        .sfn
        .list_tags_for_resource()
        .resource_arn(&machine_arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone()?)))
        .collect();
    [role_tags, group_tags, machine_tags]
}

#[tokio::test]
async fn changed_tags_are_updated_in_place_and_dropped_ones_removed() {
    let (fixture, targets) = deployed(&[REPORT]).await;
    let (aws, sjob) = (&fixture.aws, &fixture.sjob);
    let report = Names::of("report");
    for tags in tags_of(aws, &report).await {
        assert_eq!(
            tags.get("team").map(String::as_str),
            Some("data"),
            "{tags:?}"
        );
    }

    sjob.write_config(&config(
        &targets,
        &[&REPORT.replace(r#"tags = { team = "data" }"#, r#"tags = { owner = "ops" }"#)],
    ));
    let plan = sjob
        .run_expecting(2, &["plan", "--detailed-exitcode"])
        .await;
    assert!(plan.stdout.contains("(tags)"), "{plan}");
    sjob.run_expecting(0, &["deploy"]).await;

    for tags in tags_of(aws, &report).await {
        assert_eq!(
            tags.get("owner").map(String::as_str),
            Some("ops"),
            "{tags:?}"
        );
        assert!(!tags.contains_key("team"), "{tags:?}");
        assert_eq!(
            tags.get("sjob:managed-by").map(String::as_str),
            Some("sjob"),
            "{tags:?}"
        );
    }
    sjob.run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;
}
