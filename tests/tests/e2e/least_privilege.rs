//! Least privilege and secrecy:
//!
//! - every IAM policy document sjob generates (`sjob render --what iam` over
//!   several jobs), and those of the Terraform module in `infra/` when it is
//!   there, passes `parliament` (pinned in tests/requirements.txt) with the
//!   community auditors on. A finding is allowed only when the statement
//!   carries a justification in deployer/src/render/iam.rs; the allowlist
//!   below is keyed by that exact text, so removing the comment fails the test;
//! - a secret in a job's environment (it travels to the handlers in
//!   `state.metadata.env`) shows in no log line of `sjob` at debug level,
//!   none of the handler binaries, and no notification.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use sjob_e2e::myapp::{config, offline_config, Targets, CRAWLER, REPORT};
use sjob_e2e::{workspace_root, Aws, Emulator, HandlersBuilder, JobOutcome, Sjob, SjobRun, REGION};

const ACCOUNT: &str = "123456789012";

// ---------------------------------------------------------------------------
// parliament
// ---------------------------------------------------------------------------

/// Findings parliament reports that are justified where the statement is
/// written: (issue, what the finding names, the justification that must be
/// in deployer/src/render/iam.rs).
const JUSTIFIED: &[(&str, &str, &str)] = &[
    (
        "CREDENTIALS_EXPOSURE",
        "ecr:getauthorizationtoken",
        "parliament reports CREDENTIALS_EXPOSURE here: GetAuthorizationToken returns a registry login token",
    ),
    (
        "RESOURCE_MISMATCH",
        "batch:SubmitJob",
        "parliament reports RESOURCE_MISMATCH here: its action data lists only `job/*` for SubmitJob",
    ),
    (
        "RESOURCE_MISMATCH",
        "states:DescribeExecution",
        "parliament reports RESOURCE_MISMATCH here: its action data lists only `express` for DescribeExecution",
    ),
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "logs:putresourcepolicy",
        "Log delivery for Step Functions requires `*`: these actions do\n            // not support resource-level permissions",
    ),
];

/// A third job, on a queue of its own, whose schedule has a dead-letter
/// queue (the scheduler role's send to it), which reads secrets under a
/// customer key (the task execution role's reads) and skips overlapping
/// runs (the state machine's claim in its table and its read of the
/// claim's holder).
const EXPORT: &str = r#"
[jobs.export]
command = ["python", "-m", "export"]
schedule_expression = "cron(0 4 ? * MON *)"
batch_job_queue_arn = "arn:aws:batch:eu-west-1:123456789012:job-queue/myapp-dev-big"
schedule_dead_letter_arn = "arn:aws:sqs:eu-west-1:123456789012:myapp-dev-undelivered"
secrets = { DB_PASSWORD = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:myapp/db-Ab12Cd:password::", TOKEN = "arn:aws:ssm:eu-west-1:123456789012:parameter/myapp/token" }
secrets_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
overlap = "skip"
"#;

fn parliament() -> String {
    std::env::var("SJOB_PARLIAMENT").unwrap_or_else(|_| "parliament".to_string())
}

/// Runs parliament (community auditors included) over a directory of
/// policy files; one finding per line.
fn audit(dir: &Path) -> Vec<Value> {
    let output = Command::new(parliament())
        .args(["--include-community-auditors", "--json", "--directory"])
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run parliament ({e}): pip install -r tests/requirements.txt")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.trim().is_empty() || output.status.success() || !stdout.trim().is_empty(),
        "parliament failed: {stderr}"
    );
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The findings no justification covers.
fn unjustified(findings: Vec<Value>) -> Vec<Value> {
    let source = std::fs::read_to_string(workspace_root().join("deployer/src/render/iam.rs"))
        .expect("read iam.rs");
    findings
        .into_iter()
        .filter(|finding| {
            let text = finding.to_string();
            !JUSTIFIED.iter().any(|(issue, subject, why)| {
                finding["issue"] == *issue && text.contains(subject) && source.contains(why)
            })
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sjob-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn every_generated_policy_passes_parliament() {
    let sjob = Sjob::offline();
    sjob.write_config(&offline_config(
        &Targets::nowhere(),
        &[CRAWLER, REPORT, EXPORT],
    ));
    let render = sjob.run(&["render", "--what", "iam"]).await;
    render.assert_code(0);
    let rendered: Value = render.json();

    let dir = scratch("parliament");
    let mut written = 0;
    for (job, roles) in rendered.as_object().expect("keyed by job") {
        for (role, spec) in roles.as_object().expect("keyed by role") {
            for (name, document) in spec["policies"].as_object().expect("policies by name") {
                std::fs::write(dir.join(format!("{name}.json")), document.to_string()).unwrap();
                written += 1;
            }
            assert!(
                spec["trust_policy"]["Statement"][0]["Principal"]["Service"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(".amazonaws.com")),
                "{job}/{role}: a trust policy for one AWS service"
            );
        }
    }
    // 3 jobs x (3 Step Functions + 1 scheduler + 2 task execution (logs,
    // ECR pull) policies), plus one task policy, one dead-letter policy, one
    // secrets policy and one overlap check.
    assert_eq!(written, 22, "{rendered:#}");

    let findings = audit(&dir);
    let left = unjustified(findings.clone());
    assert!(
        left.is_empty(),
        "parliament findings without a justification in deployer/src/render/iam.rs:\n{left:#?}"
    );
    eprintln!("{} justified finding(s): {findings:#?}", findings.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Terraform module's policy templates (another engineer's `infra/`),
/// filled with sample values.
#[test]
fn the_terraform_module_policies_pass_parliament() {
    let templates = workspace_root().join("infra/terraform/modules/scheduled_job/templates/roles");
    if !templates.is_dir() {
        eprintln!("{} does not exist: nothing to audit", templates.display());
        return;
    }
    let values = [
        ("partition", "aws".to_string()),
        ("region", REGION.to_string()),
        ("account_id", ACCOUNT.to_string()),
        ("app_name", "myapp".to_string()),
        ("stage", "dev".to_string()),
        ("batch_name", "crawler".to_string()),
        (
            "success_handler_arn",
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:s"),
        ),
        (
            "error_handler_arn",
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:e"),
        ),
        (
            "batch_job_queue_arn",
            format!("arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/q"),
        ),
        (
            "notification_topic_arn",
            format!("arn:aws:sns:{REGION}:{ACCOUNT}:myapp-dev-job-notifications"),
        ),
        (
            "schedule_dead_letter_arn",
            format!("arn:aws:sqs:{REGION}:{ACCOUNT}:myapp-dev-undelivered"),
        ),
        (
            "ecr_repository_arn",
            format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/myapp"),
        ),
    ];
    let statements = json!([{"Effect": "Allow", "Action": "s3:GetObject",
                             "Resource": "arn:aws:s3:::myapp-dev-reports/*"}]);
    let dir = scratch("parliament-tf");
    let mut written = 0;
    for role in std::fs::read_dir(&templates).unwrap() {
        let policies = role.unwrap().path().join("policies");
        let Ok(entries) = std::fs::read_dir(&policies) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let mut text = std::fs::read_to_string(&path).unwrap();
            text = text.replace(
                "${jsonencode(task_policy_statements)}",
                &statements.to_string(),
            );
            for (name, value) in &values {
                text = text
                    .replace(
                        &format!("${{jsonencode({name})}}"),
                        &json!(value).to_string(),
                    )
                    .replace(&format!("${{{name}}}"), value);
            }
            assert!(
                !text.contains("${"),
                "{}: an unfilled placeholder:\n{text}",
                path.display()
            );
            let document: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON once filled ({e})", path.display()));
            let name = path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".json.tftpl", ".json");
            std::fs::write(dir.join(name), document.to_string()).unwrap();
            written += 1;
        }
    }
    assert!(written >= 5, "{written} templates");
    let left = unjustified(audit(&dir));
    assert!(left.is_empty(), "parliament findings in infra/:\n{left:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

const SECRET: &str = "sk_live_0123456789abcdefSECRET";

#[tokio::test]
async fn a_secret_in_the_job_environment_reaches_no_log_and_no_notification() {
    let emulator = Emulator::start().await;
    let aws = Aws::new(&emulator.sdk_config());
    let handlers = HandlersBuilder::new(&emulator, &aws)
        .env("AWS_LAMBDA_LOG_LEVEL", "debug")
        .build()
        .await;
    let queue = handlers
        .subscriber
        .clone()
        .expect("a new topic has a subscriber");
    let sjob = Sjob::at(&emulator.endpoint()).with_env("SJOB_LOG", "debug");
    let crawler = format!(
        r#"
[jobs.crawler]
command = ["python", "-m", "crawler"]
schedule_expression = "rate(5 minutes)"
env = {{ DB_PASSWORD = "{SECRET}", LOG_LEVEL = "info" }}
"#
    );
    sjob.write_config(&config(&handlers.targets, &[&crawler]));

    let mut runs: Vec<SjobRun> = Vec::new();
    runs.push(sjob.run(&["deploy"]).await);
    runs.push(sjob.run(&["plan"]).await);
    runs.push(sjob.run(&["run", "crawler", "--wait"]).await);
    emulator.set_job_outcome(JobOutcome::Failed).await;
    runs.push(sjob.run(&["run", "crawler", "--wait"]).await);
    runs.push(sjob.run(&["status", "crawler"]).await);
    // At trace level the SDK would dump response bodies (job definitions
    // carry the environment); sjob caps it at debug.
    let tracing = Sjob::at(&emulator.endpoint()).with_env("SJOB_LOG", "trace");
    tracing.write_config(&std::fs::read_to_string(sjob.config_path()).unwrap());
    runs.push(tracing.run(&["plan"]).await);
    let codes: Vec<Option<i32>> = runs.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        [Some(0), Some(0), Some(0), Some(3), Some(0), Some(0)],
        "{runs:#?}"
    );

    for run in &runs {
        assert!(
            run.stderr.contains("DEBUG") || run.args[0] != "deploy",
            "SJOB_LOG=debug gave no debug lines: {run}"
        );
        assert!(
            !run.stderr.contains(SECRET),
            "`sjob {}` logged the secret:\n{}",
            run.args.join(" "),
            secret_lines(&run.stderr)
        );
    }
    let lambda_log = emulator.lambda_log();
    assert!(
        lambda_log.contains("notification published"),
        "{lambda_log}"
    );
    assert!(
        !lambda_log.contains(SECRET),
        "a handler logged the secret:\n{}",
        secret_lines(&lambda_log)
    );
    // The handlers did receive it (so the check above means something).
    let invocations = emulator.lambda_invocations().await;
    assert_eq!(invocations.len(), 2, "{invocations:#?}");
    assert!(invocations
        .iter()
        .all(|i| i["event"].to_string().contains(SECRET)));

    let messages = aws.take_messages(&queue, Duration::from_secs(2)).await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    for message in &messages {
        let body = message.body().unwrap_or_default();
        assert!(
            !body.contains(SECRET),
            "a notification carries the secret: {body}"
        );
        let attributes = format!("{:?}", message.message_attributes());
        assert!(!attributes.contains(SECRET), "{attributes}");
    }
}

fn secret_lines(text: &str) -> String {
    text.lines()
        .filter(|l| l.contains(SECRET))
        .map(|l| l.chars().take(400).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}
