//! Least privilege and secrecy:
//!
//! - every IAM policy document sjob generates (`sjob render --what iam` over
//!   several jobs), and those of the Terraform module in `infra/` when it is
//!   there, passes `parliament` (pinned in tests/requirements.txt) with the
//!   community auditors on. A finding is allowed only when the statement
//!   carries a justification in deployer/src/render/iam.rs; the allowlist
//!   below is keyed by that exact text, so removing the comment fails the test;
//! - every action and condition key of those documents (trust policies
//!   included) exists: IAM accepts a policy naming an action or a key that
//!   does not, and the statement then silently grants nothing. Checked
//!   against parliament's copy of the Service Authorization Reference
//!   (`iam_definition.json`) and the global condition keys;
//! - a secret in a job's environment (it travels to the handlers in
//!   `state.metadata.env`) shows in no log line of `sjob` at debug level,
//!   none of the handler binaries, and no notification.

use std::collections::HashSet;
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

/// AWS's global condition keys ("AWS global condition context keys", IAM
/// User Guide), which no service lists as its own. A key ending in `/`
/// takes a tag key or a name after it.
const GLOBAL_CONDITION_KEYS: &[&str] = &[
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:currenttime",
    "aws:epochtime",
    "aws:multifactorauthage",
    "aws:multifactorauthpresent",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalisawsservice",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:principalservicenameslist",
    "aws:principaltag/",
    "aws:principaltype",
    "aws:referer",
    "aws:requestedregion",
    "aws:requesttag/",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:resourcetag/",
    "aws:securetransport",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceidentity",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:tagkeys",
    "aws:tokenissuetime",
    "aws:useragent",
    "aws:userid",
    "aws:username",
    "aws:viaawsservice",
    "aws:vpcsourceip",
];

/// The actions and condition keys IAM knows, lowercased, from parliament's
/// `iam_definition.json`; a condition key with a `${TagKey}`-like
/// placeholder is kept as the prefix before it.
struct IamNames {
    actions: HashSet<String>,
    condition_keys: HashSet<String>,
}

impl IamNames {
    fn load() -> IamNames {
        let python = std::env::var("SJOB_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let output = Command::new(python)
            .args([
                "-c",
                "import os, parliament; print(os.path.join(os.path.dirname(parliament.__file__), 'iam_definition.json'))",
            ])
            .output()
            .expect("python3 runs");
        let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("cannot read parliament's {path} ({e}): pip install -r tests/requirements.txt")
        });
        let services: Vec<Value> =
            serde_json::from_str(&text).expect("iam_definition.json is JSON");
        let mut names = IamNames {
            actions: HashSet::new(),
            condition_keys: GLOBAL_CONDITION_KEYS
                .iter()
                .map(|k| k.to_lowercase())
                .collect(),
        };
        for service in &services {
            let prefix = service["prefix"].as_str().unwrap_or_default();
            for privilege in service["privileges"].as_array().into_iter().flatten() {
                let action = privilege["privilege"].as_str().unwrap_or_default();
                names
                    .actions
                    .insert(format!("{prefix}:{action}").to_lowercase());
            }
            for condition in service["conditions"].as_array().into_iter().flatten() {
                let key = condition["condition"].as_str().unwrap_or_default();
                let key = key.split("${").next().unwrap_or_default();
                names.condition_keys.insert(key.to_lowercase());
            }
        }
        names
    }

    fn knows_action(&self, action: &str) -> bool {
        let action = action.to_lowercase();
        match action.split_once('*') {
            None => self.actions.contains(&action),
            Some((before, after)) => self.actions.iter().any(|known| {
                known.starts_with(before)
                    && known.ends_with(after)
                    && known.len() >= before.len() + after.len()
            }),
        }
    }

    fn knows_condition_key(&self, key: &str) -> bool {
        let key = key.to_lowercase();
        self.condition_keys.contains(&key)
            || self
                .condition_keys
                .iter()
                .any(|known| known.ends_with('/') && key.starts_with(known.as_str()))
    }

    /// Each action and condition key of `document` IAM does not know.
    fn unknown_in(&self, document: &Value) -> Vec<String> {
        let statements = match &document["Statement"] {
            Value::Array(statements) => statements.clone(),
            statement => vec![statement.clone()],
        };
        let mut unknown = Vec::new();
        for statement in &statements {
            for field in ["Action", "NotAction"] {
                let actions = match &statement[field] {
                    Value::String(action) => vec![action.clone()],
                    Value::Array(actions) => actions
                        .iter()
                        .filter_map(|a| a.as_str().map(String::from))
                        .collect(),
                    _ => vec![],
                };
                unknown.extend(
                    actions
                        .into_iter()
                        .filter(|action| action != "*" && !self.knows_action(action))
                        .map(|action| format!("action {action}")),
                );
            }
            for keys in statement["Condition"]
                .as_object()
                .into_iter()
                .flat_map(|c| c.values())
            {
                for key in keys.as_object().into_iter().flat_map(|k| k.keys()) {
                    if !self.knows_condition_key(key) {
                        unknown.push(format!("condition key {key}"));
                    }
                }
            }
        }
        unknown
    }
}

/// Fails naming each document that has an action or condition key IAM
/// does not know.
fn assert_known_to_iam(documents: &[(String, Value)]) {
    let names = IamNames::load();
    let unknown: Vec<(String, Vec<String>)> = documents
        .iter()
        .map(|(name, document)| (name.clone(), names.unknown_in(document)))
        .filter(|(_, unknown)| !unknown.is_empty())
        .collect();
    assert!(unknown.is_empty(), "names IAM does not know: {unknown:#?}");
}

#[test]
fn an_unknown_action_or_condition_key_is_found() {
    let names = IamNames::load();
    let document = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["states:StartExecution", "states:StartExecutionn", "logs:Put*", "logs:Fly*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "1", "aws:SourceAccunt": "1", "states:StateMachineQualifier": "x"},
            "ForAnyValue:StringLike": {"aws:RequestTag/team": "x", "batch:Bogus": "x"}
        }
    }]});
    assert_eq!(
        names.unknown_in(&document),
        [
            "action states:StartExecutionn",
            "action logs:Fly*",
            "condition key batch:Bogus",
            "condition key aws:SourceAccunt"
        ]
    );
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
    let mut documents = Vec::new();
    for (job, roles) in rendered.as_object().expect("keyed by job") {
        for (role, spec) in roles.as_object().expect("keyed by role") {
            for (name, document) in spec["policies"].as_object().expect("policies by name") {
                std::fs::write(dir.join(format!("{name}.json")), document.to_string()).unwrap();
                documents.push((name.clone(), document.clone()));
                written += 1;
            }
            documents.push((format!("{job}/{role} trust"), spec["trust_policy"].clone()));
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
    assert_known_to_iam(&documents);

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
    let mut documents = Vec::new();
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
            std::fs::write(dir.join(&name), document.to_string()).unwrap();
            documents.push((name, document));
            written += 1;
        }
    }
    assert!(written >= 5, "{written} templates");
    assert_known_to_iam(&documents);
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
