//! `[base]` against the patched moto: one `sjob deploy` on an empty account
//! brings up the topic and its subscriptions, both handler functions with
//! their role, logs and code, the security group, the Fargate compute
//! environment and the queue, and the jobs pointing at them. The deployed
//! handlers then notify through the deployed topic, a second deploy changes
//! nothing, a new package changes only that function's code, and destroy
//! leaves the account empty.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_batch::types::{CeStatus, ComputeEnvironmentDetail, JqState, JqStatus};
use aws_sdk_lambda::types::{FunctionConfiguration, LogFormat, LoggingConfig};
use aws_sdk_sqs::error::DisplayErrorContext;
use serde_json::{json, Value};
use sjob_e2e::myapp::{lambda_arn, ACCOUNT, ERROR_FUNCTION, HANDLER_FUNCTIONS, SUCCESS_FUNCTION};
use sjob_e2e::{
    handler_binary, policy_document, write_handler_packages, zip_bootstrap, Delivery, Fixture,
    JobOutcome, IAM_PROPAGATION_SECONDS, REGION,
};

const TOPIC: &str = "myapp-dev-job-notifications";
const HANDLER_ROLE: &str = "myapp-dev-BatchHandlerRole";
const BATCH: &str = "myapp-dev-Batch";
/// SNS delivers inside the handler's Publish; this bounds the wait for a
/// message that never comes.
const DELIVERY_WAIT: Duration = Duration::from_secs(2);

fn topic_arn() -> String {
    format!("arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}")
}

/// A workspace whose package `handlers` has the two binaries `sjob package`
/// builds, doing nothing; returns its manifest.
fn write_handlers_stand_in(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("src/bin")).unwrap();
    let manifest = dir.join("Cargo.toml");
    std::fs::write(
        &manifest,
        r#"[package]
name = "handlers"
version = "0.1.0"
edition = "2021"

[workspace]

[[bin]]
name = "success-handler"
path = "src/bin/success_handler.rs"

[[bin]]
name = "error-handler"
path = "src/bin/error_handler.rs"
"#,
    )
    .unwrap();
    for source in ["success_handler.rs", "error_handler.rs"] {
        std::fs::write(dir.join("src/bin").join(source), "fn main() {}\n").unwrap();
    }
    manifest
}

fn sha256_base64(path: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import base64, hashlib, sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], 'rb').read()).digest()).decode())",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Project {
    fixture: Fixture,
    /// Subscribed to every notification.
    everything: String,
    /// Subscribed with a filter policy: failures only.
    failures: String,
}

impl Project {
    /// An empty account, the handler packages under `dist/`, and a config
    /// whose `[base]` has every part and two jobs that name no ARN.
    async fn new() -> Project {
        let fixture = Fixture::new().await;
        let Fixture {
            emulator,
            aws,
            sjob,
        } = &fixture;
        write_handler_packages(sjob.dir());
        let network = emulator.default_network().await;
        let (everything, everything_arn) = aws.create_queue("everything").await;
        let (failures, failures_arn) = aws.create_queue("failures").await;
        let subnets = serde_json::to_string(&network.subnets).unwrap();
        sjob.write_config(&format!(
            r#"app_name = "myapp"
stage = "dev"
region = "{REGION}"

[defaults]
image_uri = "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp"

[base]
tags = {{ team = "data" }}

[base.notifications]
[[base.notifications.subscriptions]]
protocol = "sqs"
endpoint = "{everything_arn}"
raw_message_delivery = true

[[base.notifications.subscriptions]]
protocol = "sqs"
endpoint = "{failures_arn}"
raw_message_delivery = true
filter_policy = {{ status = ["FAILED"] }}

[base.handlers]
success_package = "dist/success-handler/bootstrap.zip"
error_package = "dist/error-handler/bootstrap.zip"
architecture = "x86_64"
timeout_seconds = 30
log_retention_days = 14

[base.compute]
subnets = {subnets}
vpc_id = "{vpc}"
max_vcpus = 16

[jobs.crawler]
command = ["python", "-m", "crawler"]
schedule_expression = "rate(5 minutes)"

[jobs.report]
command = ["python", "-m", "report"]
schedule_expression = "cron(0 3 * * ? *)"
expect_success_within = "26h"
"#,
            vpc = network.vpc
        ));
        Project {
            fixture,
            everything,
            failures,
        }
    }

    fn package(&self, binary: &str) -> std::path::PathBuf {
        self.fixture
            .sjob
            .dir()
            .join(format!("dist/{binary}/bootstrap.zip"))
    }

    /// The base's compute environment, as Batch describes it.
    async fn compute_environment(&self) -> ComputeEnvironmentDetail {
        let environments = self
            .fixture
            .aws
            .batch
            .describe_compute_environments()
            .compute_environments(BATCH)
            .send()
            .await
            .unwrap();
        environments.compute_environments()[0].clone()
    }

    async fn function(&self, name: &str) -> FunctionConfiguration {
        self.fixture.aws.function(name).await
    }

    /// The `status` of each notification `queue` received since the last call.
    async fn statuses(&self, queue: &str) -> Vec<String> {
        self.fixture
            .aws
            .take_messages(queue, DELIVERY_WAIT)
            .await
            .iter()
            .map(|m| {
                let body: Value = serde_json::from_str(m.body().unwrap_or_default()).unwrap();
                body["status"].as_str().unwrap_or_default().to_string()
            })
            .collect()
    }

    /// The plan's changes other than no-ops.
    async fn pending_changes(&self) -> Vec<Value> {
        let plan = self
            .fixture
            .sjob
            .run_expecting(0, &["plan", "--output", "json"])
            .await;
        plan.json()["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] != "no_op")
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn one_deploy_brings_up_the_base_and_the_jobs_on_an_empty_account() {
    let project = Project::new().await;
    let aws = &project.fixture.aws;

    let deploy = project.fixture.sjob.run_expecting(0, &["deploy"]).await;
    assert!(
        deploy.stdout.contains("base (shared by every job)"),
        "{deploy}"
    );

    // The topic, tagged, and its two subscriptions, one filtered.
    let tags: BTreeMap<String, String> = aws
        .sns
        .list_tags_for_resource()
        .resource_arn(topic_arn())
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListTagsForResource: {}", DisplayErrorContext(e)))
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert_eq!(
        tags.get("sjob:managed-by").map(String::as_str),
        Some("sjob")
    );
    assert_eq!(tags.get("team").map(String::as_str), Some("data"));
    let subscriptions = aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn())
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListSubscriptionsByTopic: {}", DisplayErrorContext(e)));
    assert_eq!(subscriptions.subscriptions().len(), 2);

    // Both functions: the package's code, the role, the topic, the settings.
    for (name, binary) in HANDLER_FUNCTIONS {
        let function = project.function(name).await;
        assert_eq!(
            function.code_sha256(),
            Some(sha256_base64(&project.package(binary)).as_str())
        );
        assert_eq!(
            function.role(),
            Some(format!("arn:aws:iam::{ACCOUNT}:role/{HANDLER_ROLE}").as_str())
        );
        assert_eq!(
            function.runtime().map(|r| r.as_str()),
            Some("provided.al2023")
        );
        assert_eq!(function.handler(), Some("bootstrap"));
        assert_eq!(
            function.logging_config().and_then(|l| l.log_format()),
            Some(&LogFormat::Json),
            "JSON lines with the request id"
        );
        assert_eq!(function.timeout(), Some(30));
        assert_eq!(function.memory_size(), Some(128));
        let variables = function.environment().unwrap().variables().unwrap();
        assert_eq!(variables.get("SNS_TOPIC_ARN"), Some(&topic_arn()));
        let logs = aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/aws/lambda/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(logs.log_groups()[0].retention_in_days(), Some(14));
    }
    let policy = aws
        .iam
        .get_role_policy()
        .role_name(HANDLER_ROLE)
        .policy_name("myapp-dev-BatchHandlerPolicy")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetRolePolicy: {}", DisplayErrorContext(e)));
    let policy = policy_document(policy.policy_document());
    let notify = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "Notify")
        .unwrap();
    assert_eq!(notify["Action"], "sns:Publish");
    assert_eq!(notify["Resource"], topic_arn());

    // A security group of its own in the VPC, the compute environment on it,
    // and the queue on that, both usable.
    let groups = project.fixture.emulator.security_group_ids(BATCH).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    let environment = project.compute_environment().await;
    assert_eq!(environment.status(), Some(&CeStatus::Valid));
    let resources = environment.compute_resources().unwrap();
    assert_eq!(resources.maxv_cpus(), Some(16));
    assert_eq!(resources.security_group_ids(), groups);
    let queues = aws
        .batch
        .describe_job_queues()
        .job_queues(BATCH)
        .send()
        .await
        .unwrap();
    let queue = &queues.job_queues()[0];
    assert_eq!(queue.state(), Some(&JqState::Enabled));
    assert_eq!(queue.status(), Some(&JqStatus::Valid));
    assert_eq!(
        queue.compute_environment_order()[0].compute_environment(),
        environment.compute_environment_arn()
    );

    // The jobs' state machines submit to that queue and invoke those functions.
    let machine = aws
        .sfn
        .describe_state_machine()
        .state_machine_arn(format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:myapp-dev-crawler-ScheduledJob"
        ))
        .send()
        .await
        .unwrap();
    let definition: Value = serde_json::from_str(machine.definition()).unwrap();
    let branch = &definition["States"]["BatchGroup"]["Branches"][0]["States"];
    assert_eq!(
        branch["Batch"]["Parameters"]["JobQueue"],
        json!(queue.job_queue_arn())
    );
    assert_eq!(
        branch["OnSuccess"]["Parameters"]["FunctionName"],
        json!(lambda_arn(SUCCESS_FUNCTION))
    );

    // A second deploy has nothing to do.
    assert_eq!(project.pending_changes().await, Vec::<Value>::new());
    project
        .fixture
        .sjob
        .run_expecting(0, &["plan", "--detailed-exitcode"])
        .await;

    // The deployed handlers notify through the deployed topic; the filtered
    // subscription gets failures only.
    for (function, binary) in HANDLER_FUNCTIONS {
        project
            .fixture
            .emulator
            .register_lambda(function, &handler_binary(binary))
            .await;
    }
    project
        .fixture
        .sjob
        .run_expecting(0, &["run", "crawler", "--wait"])
        .await;
    assert_eq!(project.statuses(&project.everything).await, ["SUCCEEDED"]);
    assert_eq!(
        project.statuses(&project.failures).await,
        Vec::<String>::new()
    );
    project
        .fixture
        .emulator
        .set_job_outcome(JobOutcome::Failed)
        .await;
    project
        .fixture
        .sjob
        .run_expecting(3, &["run", "crawler", "--wait"])
        .await;
    assert_eq!(project.statuses(&project.everything).await, ["FAILED"]);
    assert_eq!(project.statuses(&project.failures).await, ["FAILED"]);
}

/// A role IAM has not propagated yet: Lambda refuses to create the
/// functions with it for a few seconds (the harness says so in Lambda's
/// words), and the deploy waits it out.
#[tokio::test]
async fn the_handler_functions_wait_for_their_new_role_to_propagate() {
    let project = Project::new().await;
    let emulator = &project.fixture.emulator;
    emulator.set_iam_propagation(IAM_PROPAGATION_SECONDS).await;

    project.fixture.sjob.run_expecting(0, &["deploy"]).await;

    let refused = emulator.iam_refusals().await;
    assert!(
        refused.get("CreateFunction").is_some_and(|n| *n > 0),
        "Lambda refused the new role at first: {refused:?}"
    );
    let role = format!("arn:aws:iam::{ACCOUNT}:role/{HANDLER_ROLE}");
    for (name, _) in HANDLER_FUNCTIONS {
        assert_eq!(project.function(name).await.role(), Some(role.as_str()));
    }
}

#[tokio::test]
async fn a_new_package_updates_only_that_functions_code_and_destroy_empties_the_account() {
    let project = Project::new().await;
    let aws = &project.fixture.aws;
    project.fixture.sjob.run_expecting(0, &["deploy"]).await;
    let error_before = project.function(ERROR_FUNCTION).await;

    // A rebuilt success handler: a different binary in its zip.
    zip_bootstrap(
        &handler_binary("error-handler"),
        &project.package("success-handler"),
    );
    let changes = project.pending_changes().await;
    assert_eq!(
        changes,
        [json!({
            "kind": "function",
            "name": SUCCESS_FUNCTION,
            "action": "update",
            "fields": ["code_sha256"]
        })]
    );
    project.fixture.sjob.run_expecting(0, &["deploy"]).await;
    assert_eq!(
        project.function(SUCCESS_FUNCTION).await.code_sha256(),
        Some(sha256_base64(&project.package("success-handler")).as_str())
    );
    let error_after = project.function(ERROR_FUNCTION).await;
    assert_eq!(error_after.code_sha256(), error_before.code_sha256());
    assert_eq!(error_after.last_modified(), error_before.last_modified());
    assert_eq!(project.pending_changes().await, Vec::<Value>::new());

    // A log format changed by hand is drift: an update, brought back.
    aws.lambda
        .update_function_configuration()
        .function_name(ERROR_FUNCTION)
        .logging_config(LoggingConfig::builder().log_format(LogFormat::Text).build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        project.pending_changes().await,
        [json!({
            "kind": "function",
            "name": ERROR_FUNCTION,
            "action": "update",
            "fields": ["log_format"]
        })]
    );
    project.fixture.sjob.run_expecting(0, &["deploy"]).await;
    assert_eq!(project.pending_changes().await, Vec::<Value>::new());

    // The report's missed-run alarm may invoke the base's error handler.
    let alarm = "myapp-dev-report-ScheduledJob-Missed";
    let alarm_arn = project.fixture.emulator.alarm(alarm).await.unwrap().arn;
    let statements = || async {
        aws.policy_statements(ERROR_FUNCTION)
            .await
            .iter()
            .map(|s| s["Condition"]["ArnLike"]["AWS:SourceArn"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(statements().await, [json!(alarm_arn)]);

    // Destroying one job leaves the base its sibling uses, and takes its
    // alarm and the alarm's permission with it.
    project
        .fixture
        .sjob
        .run_expecting(0, &["destroy", "report", "--yes"])
        .await;
    assert_eq!(project.fixture.emulator.alarm(alarm).await, None);
    assert_eq!(statements().await, Vec::<Value>::new());
    project.function(SUCCESS_FUNCTION).await;
    let queues = aws
        .batch
        .describe_job_queues()
        .job_queues(BATCH)
        .send()
        .await
        .unwrap();
    assert_eq!(queues.job_queues().len(), 1);

    // Destroying everything leaves nothing of sjob's.
    project
        .fixture
        .sjob
        .run_expecting(0, &["destroy", "--yes"])
        .await;
    let topics = aws.sns.list_topics().send().await.unwrap();
    assert_eq!(topics.topics().len(), 0, "{topics:?}");
    let functions = aws.lambda.list_functions().send().await.unwrap();
    assert_eq!(functions.functions().len(), 0);
    let roles = aws.iam.list_roles().send().await.unwrap();
    let role_names: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).collect();
    assert!(
        role_names.iter().all(|r| !r.starts_with("myapp-dev-")),
        "{role_names:?}"
    );
    let groups = aws.logs.describe_log_groups().send().await.unwrap();
    assert_eq!(groups.log_groups().len(), 0, "{groups:?}");
    let machines = aws.sfn.list_state_machines().send().await.unwrap();
    assert_eq!(machines.state_machines().len(), 0);
    let schedules = aws.scheduler.list_schedules().send().await.unwrap();
    assert_eq!(schedules.schedules().len(), 0);
    let environments = aws
        .batch
        .describe_compute_environments()
        .send()
        .await
        .unwrap();
    assert_eq!(environments.compute_environments().len(), 0);
    let queues = aws.batch.describe_job_queues().send().await.unwrap();
    assert_eq!(queues.job_queues().len(), 0);
    let definitions = aws
        .batch
        .describe_job_definitions()
        .status("ACTIVE")
        .send()
        .await
        .unwrap();
    assert_eq!(definitions.job_definitions().len(), 0);
    assert_eq!(
        project.fixture.emulator.security_group_ids(BATCH).await,
        Vec::<String>::new()
    );

    // And a plan of the same config starts from scratch.
    let changes = project.pending_changes().await;
    assert!(
        changes.iter().all(|c| c["action"] == "create"),
        "{changes:#?}"
    );
}

/// AWS allows one group name per VPC, and the base finds its groups by
/// their identity tags in every VPC: a new `vpc_id` replaces the group (the
/// new one made, the compute environment moved to it, the old one deleted),
/// and `destroy` deletes every group of the base's, whichever VPC it is in.
#[tokio::test]
async fn a_new_vpc_replaces_the_security_group_and_destroy_leaves_none() {
    let project = Project::new().await;
    let (emulator, sjob) = (&project.fixture.emulator, &project.fixture.sjob);
    sjob.run_expecting(0, &["deploy"]).await;
    let first = emulator.default_network().await;
    let old_groups = emulator.security_group_vpcs(BATCH).await;
    assert_eq!(old_groups.values().collect::<Vec<_>>(), [&first.vpc]);
    let old_group = old_groups.keys().next().unwrap().clone();

    let second = emulator.create_network("10.1.0.0/16").await;
    let json = |value: &Vec<String>| serde_json::to_string(value).unwrap();
    let config = std::fs::read_to_string(sjob.config_path())
        .unwrap()
        .replace(&first.vpc, &second.vpc)
        .replace(&json(&first.subnets), &json(&second.subnets));
    sjob.write_config(&config);

    // In the order deploy carries them out.
    assert_eq!(
        project.pending_changes().await,
        [
            json!({"kind": "security_group", "name": BATCH, "action": "create"}),
            json!({"kind": "compute_environment", "name": BATCH, "action": "update",
                   "fields": ["subnets", "security_group_ids"]}),
            json!({"kind": "security_group",
                   "name": format!("{BATCH} ({old_group} in {})", first.vpc),
                   "action": "replaced", "by": format!("the group in {}", second.vpc)}),
        ],
        "the plan shows the replacement"
    );
    sjob.run_expecting(0, &["deploy"]).await;

    let groups = emulator.security_group_vpcs(BATCH).await;
    assert_eq!(
        groups.values().collect::<Vec<_>>(),
        [&second.vpc],
        "{groups:?}"
    );
    let environment = project.compute_environment().await;
    let resources = environment.compute_resources().unwrap();
    assert_eq!(
        resources.security_group_ids(),
        groups.keys().cloned().collect::<Vec<_>>()
    );
    assert_eq!(resources.subnets(), second.subnets);
    assert_eq!(project.pending_changes().await, Vec::<Value>::new());

    // A group of the base's left in the first VPC (as a deploy before this
    // fix left it) is found too, and destroy deletes both.
    let identity = [
        ("sjob:managed-by", "sjob"),
        ("sjob:app", "myapp"),
        ("sjob:stage", "dev"),
        ("sjob:region", REGION),
        ("sjob:part", "base"),
    ];
    emulator
        .create_security_group(BATCH, &first.vpc, &identity)
        .await;
    sjob.run_expecting(0, &["destroy", "--yes"]).await;
    assert_eq!(
        emulator.security_group_vpcs(BATCH).await,
        BTreeMap::new(),
        "no group of the base's is left"
    );
    let again = sjob
        .run_expecting(0, &["destroy", "--yes", "--output", "json"])
        .await
        .json();
    assert_eq!(again["summary"]["delete"], 0, "{again:#}");
}

/// An account has one Batch service-linked role, `AWSServiceRoleForBatch`:
/// a compute environment made after another one was destroyed reuses it
/// (the harness once looked for AWS's name while moto made its own, and the
/// second compute environment of an emulator failed with
/// EntityAlreadyExists).
#[tokio::test]
async fn a_compute_environment_after_a_destroy_reuses_the_batch_service_linked_role() {
    let project = Project::new().await;
    let Fixture { aws, sjob, .. } = &project.fixture;
    sjob.run_expecting(0, &["deploy"]).await;
    sjob.run_expecting(0, &["destroy", "--yes"]).await;
    sjob.run_expecting(0, &["deploy"]).await;

    let roles = aws
        .iam
        .list_roles()
        .path_prefix("/aws-service-role/batch.amazonaws.com/")
        .send()
        .await
        .unwrap();
    let roles: Vec<(&str, &str)> = roles
        .roles()
        .iter()
        .map(|role| (role.role_name(), role.arn()))
        .collect();
    assert_eq!(
        roles.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        ["AWSServiceRoleForBatch"]
    );
    assert_eq!(
        project.compute_environment().await.service_role(),
        Some(roles[0].1)
    );
}

/// A security group under the base's name that is not this stack's (here:
/// the same app's `prod` stage) is a conflict: plan names its owner, deploy
/// refuses before any write, and the group keeps its tags.
#[tokio::test]
async fn a_security_group_of_another_stack_under_the_base_name_is_left_alone() {
    let project = Project::new().await;
    let emulator = &project.fixture.emulator;
    let network = emulator.default_network().await;
    let foreign = emulator
        .create_security_group(
            BATCH,
            &network.vpc,
            &[
                ("sjob:managed-by", "sjob"),
                ("sjob:app", "myapp"),
                ("sjob:stage", "prod"),
                ("sjob:region", REGION),
            ],
        )
        .await;

    let sjob = &project.fixture.sjob;
    let plan = sjob
        .run_expecting(1, &["plan", "--detailed-exitcode"])
        .await;
    assert!(
        plan.stdout
            .lines()
            .any(|line| line.contains("! security group") && line.contains("stage `prod`")),
        "{plan}"
    );
    let deploy = sjob.run_expecting(1, &["deploy"]).await;
    assert!(
        deploy.stderr_says("exist under this stack's names but are not its own"),
        "{deploy}"
    );
    assert_eq!(emulator.security_group_ids(BATCH).await, [foreign]);
    let environments = project
        .fixture
        .aws
        .batch
        .describe_compute_environments()
        .send()
        .await
        .unwrap();
    assert!(environments.compute_environments().is_empty());
}

/// `sjob package && sjob deploy`: cargo-lambda builds the zips where the
/// config expects them, and deploy ships exactly those. (x86_64 and a debug
/// build with cargo's own linker, so the test needs neither the aarch64
/// target nor zig.)
///
/// What cargo-lambda builds is a stand-in `handlers` package with the two
/// binaries and no dependencies: this test is about `sjob package`, and the
/// real handlers' dependencies would compile again for cargo-lambda's
/// explicit target, minutes of the suite's 2 cores. The real handler
/// binaries run in every other `base::` test; `cargo_lambda::` runs them
/// under `cargo lambda watch`.
#[tokio::test]
async fn package_then_deploy_ships_the_zips_cargo_lambda_built() {
    let Fixture { aws, sjob, .. } = &Fixture::new().await;
    let manifest = write_handlers_stand_in(&sjob.dir().join("handlers-src"));
    let queue = aws.create_job_queue("elsewhere").await;
    sjob.write_config(&format!(
        r#"app_name = "myapp"
stage = "dev"
region = "{REGION}"

[defaults]
image_uri = "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp"
batch_job_queue_arn = "{queue}"

[base.notifications]

[base.handlers]
architecture = "x86_64"

[jobs.crawler]
command = ["python", "-m", "crawler"]
schedule_expression = "rate(5 minutes)"
"#
    ));
    let package = sjob
        .run_build_expecting(
            0,
            &[
                "package",
                "--manifest-path",
                manifest.to_str().unwrap(),
                "--debug",
                "--output",
                "json",
                "--",
                "--compiler",
                "cargo",
            ],
        )
        .await;
    let built = package.json();
    let built = built.as_array().unwrap();
    assert_eq!(built.len(), 2, "{package}");
    for (entry, binary) in built.iter().zip(["success-handler", "error-handler"]) {
        assert_eq!(entry["binary"], binary);
        assert_eq!(entry["architecture"], "x86_64");
        let expected = sjob
            .dir()
            .join(format!("target/lambda/{binary}/bootstrap.zip"));
        assert_eq!(entry["path"], expected.display().to_string());
        // A zip whose `bootstrap` is an executable.
        let listing = Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; i = zipfile.ZipFile(sys.argv[1]).getinfo('bootstrap'); print(oct(i.external_attr >> 16))",
            ])
            .arg(&expected)
            .output()
            .unwrap();
        let mode = String::from_utf8_lossy(&listing.stdout);
        assert!(
            mode.trim().ends_with("755"),
            "{binary}: {mode} {}",
            String::from_utf8_lossy(&listing.stderr)
        );
    }

    sjob.run_expecting(0, &["deploy"]).await;
    for (name, binary) in HANDLER_FUNCTIONS {
        let function = aws.function(name).await;
        let zip = sjob
            .dir()
            .join(format!("target/lambda/{binary}/bootstrap.zip"));
        assert_eq!(function.code_sha256(), Some(sha256_base64(&zip).as_str()));
        assert_eq!(
            function
                .architectures()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>(),
            ["x86_64"]
        );
    }
}

/// Removing things from `[base]` deletes them only with `--prune`, like a
/// removed job; a part the jobs still use (now by ARN) is never deleted, nor
/// is a subscription someone added by hand, which also keeps its topic.
#[tokio::test]
async fn what_leaves_the_base_goes_with_prune_but_never_while_a_job_uses_it() {
    let project = Project::new().await;
    let aws = &project.fixture.aws;
    project.fixture.sjob.run_expecting(0, &["deploy"]).await;

    // The jobs now name the queue themselves, [base.compute] goes, and so
    // does the failures-only subscription.
    let config = std::fs::read_to_string(project.fixture.sjob.config_path()).unwrap();
    let (head, rest) = config.split_once("[base.compute]").unwrap();
    let (_, jobs) = rest.split_once("[jobs.crawler]").unwrap();
    let queue_arn = format!("arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{BATCH}");
    let (before_failures, after_failures) = head
        .rsplit_once("[[base.notifications.subscriptions]]")
        .unwrap();
    let (_, handlers) = after_failures.split_once("[base.handlers]").unwrap();
    project.fixture.sjob.write_config(
        &format!("{before_failures}[base.handlers]{handlers}[jobs.crawler]{jobs}").replace(
            "[defaults]\n",
            &format!("[defaults]\nbatch_job_queue_arn = \"{queue_arn}\"\n"),
        ),
    );

    let failures_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:failures");
    assert_eq!(
        project.pending_changes().await,
        [json!({
            "kind": "subscription",
            "name": format!("sqs:{failures_arn}"),
            "action": "delete"
        })]
    );
    let subscribed = || async {
        aws.sns
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn())
            .send()
            .await
            .unwrap()
            .subscriptions()
            .len()
    };
    let deploy = project.fixture.sjob.run_expecting(0, &["deploy"]).await;
    assert!(
        deploy.stdout.contains("deploy --prune` deletes it"),
        "{deploy}"
    );
    assert_eq!(subscribed().await, 2);
    aws.subscribe_queue(&topic_arn(), "by-hand", Delivery::Envelope)
        .await;
    assert_eq!(subscribed().await, 3);

    project
        .fixture
        .sjob
        .run_expecting(0, &["deploy", "--prune", "--yes"])
        .await;
    assert_eq!(
        subscribed().await,
        2,
        "sjob's other one and the one by hand"
    );
    let queues = aws
        .batch
        .describe_job_queues()
        .job_queues(BATCH)
        .send()
        .await
        .unwrap();
    assert_eq!(queues.job_queues().len(), 1, "the jobs' queue stays");
    assert_eq!(project.pending_changes().await, Vec::<Value>::new());

    let destroy = project
        .fixture
        .sjob
        .run_expecting(0, &["destroy", "--yes"])
        .await;
    assert!(
        destroy.stdout.contains(&format!(
            "= topic           {TOPIC}  (kept: 1 subscription(s) on it were not made by sjob)"
        )),
        "{destroy}"
    );
    let left: Vec<String> = aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn())
        .send()
        .await
        .unwrap()
        .subscriptions()
        .iter()
        .filter_map(|s| s.endpoint.clone())
        .collect();
    assert_eq!(
        left,
        [format!("arn:aws:sqs:{REGION}:{ACCOUNT}:by-hand")],
        "the subscription made by hand survives destroy"
    );
}
