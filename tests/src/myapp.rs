//! The `myapp`/`dev` project the deployer's end-to-end tests deploy: its
//! config text and the ARNs it points at, in the emulator's account.

use crate::REGION;

/// moto's account, which `sjob` gets from STS (the config sets none).
pub const ACCOUNT: &str = "123456789012";
pub const SUCCESS_FUNCTION: &str = "myapp-dev-BatchSuccessHandler";
pub const ERROR_FUNCTION: &str = "myapp-dev-BatchErrorHandler";
/// Each handler function with the binary it runs.
pub const HANDLER_FUNCTIONS: [(&str, &str); 2] = [
    (SUCCESS_FUNCTION, "success-handler"),
    (ERROR_FUNCTION, "error-handler"),
];

/// Where executions go: the job queue and the two handlers.
#[derive(Debug, Clone)]
pub struct Targets {
    pub queue: String,
    pub success_handler: String,
    pub error_handler: String,
}

impl Targets {
    /// ARNs of nothing: enough to render and validate, which write them
    /// into the state machine and the policies; `plan` refuses them until
    /// they exist ([`crate::Fixture::existing_targets`]).
    pub fn nowhere() -> Targets {
        Targets::with_queue(format!(
            "arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/myapp-dev-queue"
        ))
    }

    /// `queue` and the two handler functions by their usual names.
    pub fn with_queue(queue: String) -> Targets {
        Targets {
            queue,
            success_handler: lambda_arn(SUCCESS_FUNCTION),
            error_handler: lambda_arn(ERROR_FUNCTION),
        }
    }
}

pub fn lambda_arn(function: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}")
}

/// A job with input, environment and an explicit Fargate size.
pub const CRAWLER: &str = r#"
[jobs.crawler]
command = ["python", "-m", "crawler"]
vcpus = "1"
memory = "2048"
schedule_expression = "rate(5 minutes)"
sfn_input = { source = "schedule", pages = 3 }
env = { LOG_LEVEL = "info", SITE = "https://example.com" }
"#;

/// A job with a timeout, retries, tags and a task policy.
pub const REPORT: &str = r#"
[jobs.report]
command = ["python", "-m", "report"]
schedule_expression = "cron(0 3 * * ? *)"
timeout_seconds = 3600
retry_attempts = 2
tags = { team = "data" }
task_policy_statements = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::myapp-dev-reports/*" }]
"#;

/// `myapp`/`dev` with these `[jobs.*]` tables; sjob asks STS for the account.
pub fn config(targets: &Targets, jobs: &[&str]) -> String {
    text(targets, jobs, "")
}

/// [`config`] naming its account, for commands that run without AWS.
pub fn offline_config(targets: &Targets, jobs: &[&str]) -> String {
    text(targets, jobs, &format!("account_id = \"{ACCOUNT}\"\n"))
}

fn text(targets: &Targets, jobs: &[&str], account: &str) -> String {
    let mut text = format!(
        r#"app_name = "myapp"
stage = "dev"
region = "{REGION}"
{account}
[defaults]
image_uri = "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/myapp"
batch_job_queue_arn = "{}"
success_handler_arn = "{}"
error_handler_arn = "{}"
"#,
        targets.queue, targets.success_handler, targets.error_handler
    );
    jobs.iter().for_each(|job| text.push_str(job));
    text
}
