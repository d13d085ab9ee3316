//! The event Step Functions sends a handler, built for a run that did not go
//! through Step Functions (`sjob local run`, `sjob simulate`).
//!
//! Everything comes from the same rendered stack the state machine is built
//! from: the Pass state's metadata from `render::definition::metadata`, the
//! job record from the job definition spec. A test compares the result with
//! what moto's interpreter sends the deployed state machine's handlers.

use std::hash::{BuildHasher, Hasher};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::config::{Config, Job};
use crate::input::{EXECUTION_ENV, INPUT_ENV};
use crate::model::alarm::{DIMENSION, METRIC, NAMESPACE, STATISTIC, THRESHOLD};
use crate::model::{AlarmSpec, JobDefinitionSpec, JobStack};
use crate::render::definition::metadata;
use crate::target::Target;

/// A random id shaped like the UUIDs AWS uses for executions and jobs.
pub fn new_id() -> String {
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let bytes: Vec<u8> = [random(), random()]
        .iter()
        .flat_map(|r| r.to_be_bytes())
        .collect();
    handlers::notification::uuid_shaped(&bytes)
}

/// One execution, as the `$$` context object describes it.
#[derive(Debug, Clone)]
pub struct Execution {
    pub name: String,
    pub arn: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub started_at: DateTime<Utc>,
    pub input: Value,
}

impl Execution {
    pub fn new(
        stack: &JobStack,
        target: &Target,
        name: String,
        input: Value,
        started_at: DateTime<Utc>,
    ) -> Execution {
        let machine = &stack.state_machine;
        Execution {
            arn: target.arn("states", &format!("execution:{}:{name}", machine.name)),
            state_machine_arn: target.state_machine_arn(&machine.name),
            state_machine_name: machine.name.clone(),
            name,
            input,
            started_at,
        }
    }
}

/// One Batch attempt as it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: DateTime<Utc>,
    pub exit_code: Option<i32>,
    /// The container's reason (`CannotStartContainerError: ...`).
    pub container_reason: Option<String>,
    pub status_reason: String,
    pub log_stream: Option<String>,
}

/// How the run ended, as the state machine would see it.
#[derive(Debug, Clone)]
pub enum Ending {
    /// The Batch task finished: SUCCEEDED when the last attempt exited 0.
    Batch {
        job_id: String,
        created_at: DateTime<Utc>,
        attempts: Vec<Attempt>,
    },
    /// The Batch task of an array job finished: SUCCEEDED when every
    /// child's last attempt exited 0. Children by index.
    Array {
        job_id: String,
        created_at: DateTime<Utc>,
        children: Vec<Vec<Attempt>>,
    },
    /// The task failed without a job record (`States.Timeout`, `Batch.*`).
    TaskError { error: String, cause: String },
}

impl Ending {
    pub fn succeeded(&self) -> bool {
        match self {
            Ending::Batch { attempts, .. } => succeeded(attempts),
            Ending::Array { children, .. } => children.iter().all(|c| succeeded(c)),
            Ending::TaskError { .. } => false,
        }
    }
}

/// Whether a job (or a child) whose attempts these were SUCCEEDED.
pub fn succeeded(attempts: &[Attempt]) -> bool {
    attempts.last().is_some_and(|a| a.exit_code == Some(0))
}

/// Batch's status reason for an array job's parent whose children failed.
const ARRAY_CHILD_FAILED: &str = "Array Child Job failed";

fn millis(t: DateTime<Utc>) -> Value {
    Value::from(t.timestamp_millis())
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `DescribeJobs` record of a finished job, PascalCase, as `.sync`
/// returns it.
pub fn job_record(
    stack: &JobStack,
    target: &Target,
    execution: &Execution,
    job_queue: &str,
    job_id: &str,
    created_at: DateTime<Utc>,
    attempts: &[Attempt],
) -> Value {
    let spec = &stack.job_definition;
    let last = attempts.last();
    let status = if succeeded(attempts) {
        "SUCCEEDED"
    } else {
        "FAILED"
    };
    let container_of = |a: &Attempt| {
        let mut c = Map::new();
        if let Some(code) = a.exit_code {
            c.insert("ExitCode".into(), code.into());
        }
        if let Some(reason) = &a.container_reason {
            c.insert("Reason".into(), reason.clone().into());
        }
        if let Some(stream) = &a.log_stream {
            c.insert("LogStreamName".into(), stream.clone().into());
        }
        if a.started_at.is_some() {
            let task = format!(
                "task/{}/{}",
                job_queue.rsplit('/').next().unwrap_or_default(),
                job_id.replace('-', "")
            );
            c.insert("TaskArn".into(), target.arn("ecs", &task).into());
        }
        c.insert("NetworkInterfaces".into(), json!([]));
        c
    };
    let mut environment: Vec<Value> = spec
        .environment
        .iter()
        .map(|(k, v)| json!({"Name": k, "Value": v}))
        .collect();
    environment.push(json!({"Name": INPUT_ENV, "Value": execution.input.to_string()}));
    environment.push(json!({"Name": EXECUTION_ENV, "Value": execution.arn}));
    environment.push(json!({"Name": "MANAGED_BY_AWS", "Value": "STARTED_BY_STEP_FUNCTIONS"}));
    let mut container = last.map(container_of).unwrap_or_default();
    container.extend([
        ("Command".to_string(), json!(spec.command)),
        ("Environment".to_string(), Value::Array(environment)),
        ("ExecutionRoleArn".to_string(), json!(spec.execution_role_arn)),
        ("FargatePlatformConfiguration".to_string(), json!({"PlatformVersion": spec.platform_version})),
        ("NetworkConfiguration".to_string(), json!({"AssignPublicIp": if spec.assign_public_ip { "ENABLED" } else { "DISABLED" }})),
        ("Image".to_string(), json!(spec.image)),
        ("JobRoleArn".to_string(), json!(spec.job_role_arn)),
        ("ResourceRequirements".to_string(), json!([{"Type": "VCPU", "Value": spec.vcpus}, {"Type": "MEMORY", "Value": spec.memory}])),
    ]);
    let mut record = json!({
        "Attempts": attempts.iter().map(|a| {
            let mut attempt = json!({
                "Container": container_of(a),
                "StatusReason": a.status_reason,
                "StoppedAt": millis(a.stopped_at),
            });
            if let Some(started) = a.started_at {
                attempt["StartedAt"] = millis(started);
            }
            attempt
        }).collect::<Vec<_>>(),
        "Container": container,
        "CreatedAt": millis(created_at),
        "DependsOn": [],
        "EksAttempts": [],
        "JobArn": target.arn("batch", &format!("job/{job_id}")),
        "JobDefinition": format!("{}:1", target.job_definition_arn(&spec.name)),
        "JobId": job_id,
        "JobName": spec.name,
        "JobQueue": job_queue,
        "Parameters": {},
        "PlatformCapabilities": ["FARGATE"],
        "PropagateTags": true,
        "RetryStrategy": retry_strategy(spec),
        "Status": status,
        // Job definition tags are not copied to jobs; sjob submits none.
        "Tags": {},
    });
    if let Some(seconds) = spec.timeout_seconds {
        record["Timeout"] = json!({"AttemptDurationSeconds": seconds});
    }
    if !spec.secrets.is_empty() {
        record["Container"]["Secrets"] = spec
            .secrets
            .iter()
            .map(|(name, arn)| json!({"Name": name, "ValueFrom": arn}))
            .collect();
    }
    if let Some(architecture) = &spec.cpu_architecture {
        record["Container"]["RuntimePlatform"] = json!({
            "OperatingSystemFamily": crate::aws::batch::OPERATING_SYSTEM_FAMILY,
            "CpuArchitecture": architecture,
        });
    }
    if let Some(gib) = spec.ephemeral_storage_gib {
        record["Container"]["EphemeralStorage"] = json!({"SizeInGiB": gib});
    }
    if !spec.log_options.is_empty() {
        record["Container"]["LogConfiguration"] = json!({
            "LogDriver": "awslogs",
            "Options": spec.log_options,
        });
    }
    if let Some(last) = last {
        record["StatusReason"] = json!(last.status_reason);
        record["StoppedAt"] = millis(last.stopped_at);
        if let Some(started) = last.started_at {
            record["StartedAt"] = millis(started);
        }
    }
    record
}

/// The `DescribeJobs` record of a finished array job's parent, from its
/// `record` as a job without attempts: no container outcome of its own, its
/// children counted by status, its times those of the first start and the
/// last stop.
pub fn array_parent(mut record: Value, children: &[Vec<Attempt>]) -> Value {
    let failed = children.iter().filter(|c| !succeeded(c)).count();
    let summary = json!({
        "STARTING": 0, "FAILED": failed, "RUNNING": 0, "SUCCEEDED": children.len() - failed,
        "RUNNABLE": 0, "SUBMITTED": 0, "PENDING": 0
    });
    record["ArrayProperties"] = json!({ "StatusSummary": summary, "Size": children.len() });
    if failed == 0 {
        record["Status"] = json!("SUCCEEDED");
    } else {
        record["StatusReason"] = json!(ARRAY_CHILD_FAILED);
    }
    let attempts = children.iter().flatten();
    if let Some(started) = attempts.clone().filter_map(|a| a.started_at).min() {
        record["StartedAt"] = millis(started);
    }
    if let Some(stopped) = attempts.map(|a| a.stopped_at).max() {
        record["StoppedAt"] = millis(stopped);
    }
    record
}

/// The Lambda event `{"state": ..., "context": ...}` for the handler the
/// state machine would invoke after `ending`, at `entered`.
pub fn handler_event(
    config: &Config,
    job: &Job,
    target: &Target,
    execution: &Execution,
    ending: &Ending,
    entered: DateTime<Utc>,
) -> Value {
    let stack = JobStack::render(config, job, target);
    let metadata = metadata(&config.app_name, &config.stage, job, &stack.names);
    let mut state = json!({ "metadata": metadata, "input": execution.input });
    let queue = job.queue_arn(target);
    let described = |job_id: &str, created_at: DateTime<Utc>, attempts: &[Attempt]| {
        job_record(
            &stack, target, execution, &queue, job_id, created_at, attempts,
        )
    };
    let record = match ending {
        Ending::Batch {
            job_id,
            created_at,
            attempts,
        } => described(job_id, *created_at, attempts),
        Ending::Array {
            job_id,
            created_at,
            children,
        } => array_parent(described(job_id, *created_at, &[]), children),
        Ending::TaskError { error, cause } => {
            json!({"Error": error, "Cause": cause})
        }
    };
    let state_name = match ending {
        Ending::TaskError { .. } => {
            state["error"] = record;
            "ErrorHandler"
        }
        _ if ending.succeeded() => {
            state["batch"] = record;
            "OnSuccess"
        }
        _ => {
            let cause = serde_json::to_string(&record).expect("a job record serialises");
            state["error"] = json!({"Error": "States.TaskFailed", "Cause": cause});
            "ErrorHandler"
        }
    };
    json!({
        "state": state,
        "context": {
            "Execution": {
                "Id": execution.arn,
                "StartTime": iso(execution.started_at),
                "Name": execution.name,
                "RedriveCount": 0
            },
            "StateMachine": { "Id": execution.state_machine_arn, "Name": execution.state_machine_name },
            "State": { "Name": state_name, "EnteredTime": iso(entered), "RetryCount": 0 }
        }
    })
}

/// The error handler's event after the success handler failed for good:
/// the success handler's `event` with the caught error beside the Batch
/// result, as `OnSuccess`'s Catch leaves it.
pub fn notification_failed(mut event: Value, error: &str, cause: &str) -> Value {
    event["state"]["error"] = json!({"Error": error, "Cause": cause});
    event["context"]["State"]["Name"] = json!("ErrorHandler");
    event
}

/// The job's `RetryStrategy` as DescribeJobs shows it.
fn retry_strategy(spec: &JobDefinitionSpec) -> Value {
    let mut strategy = json!({"Attempts": spec.attempts});
    if !spec.retry_on.is_empty() {
        strategy["EvaluateOnExit"] = spec
            .retry_on
            .iter()
            .map(|rule| {
                let mut entry = json!({"Action": rule.action.batch_name()});
                for (key, pattern) in [
                    ("OnExitCode", &rule.on_exit_code),
                    ("OnReason", &rule.on_reason),
                    ("OnStatusReason", &rule.on_status_reason),
                ] {
                    if let Some(pattern) = pattern {
                        entry[key] = json!(pattern);
                    }
                }
                entry
            })
            .collect();
    }
    strategy
}

/// What CloudWatch sends the error handler when `alarm` changes state: to
/// ALARM (`missed`) or back to OK.
pub fn alarm_event(alarm: &AlarmSpec, target: &Target, missed: bool, at: DateTime<Utc>) -> Value {
    // CloudWatch writes its times with a `+0000` offset.
    let time = at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    let (state, previous, reason) = if missed {
        ("ALARM", "OK", format!("Threshold Crossed: no datapoints were received for {n} periods and {n} missing datapoints were treated as [Breaching].", n = alarm.evaluation_periods))
    } else {
        ("OK", "ALARM", format!("Threshold Crossed: 1 datapoint [1.0] was not less than the threshold ({THRESHOLD:.1})."))
    };
    json!({
        "source": "aws.cloudwatch",
        "alarmArn": target.alarm_arn(&alarm.name),
        "accountId": target.account_id,
        "time": time,
        "region": target.region,
        "alarmData": {
            "alarmName": alarm.name,
            "state": {"value": state, "reason": reason, "timestamp": time},
            "previousState": {"value": previous, "reason": "", "timestamp": time},
            "configuration": {
                "description": alarm.description,
                "metrics": [{
                    "id": new_id(),
                    "metricStat": {
                        "metric": {"namespace": NAMESPACE, "name": METRIC, "dimensions": {DIMENSION: alarm.state_machine_arn}},
                        "period": alarm.period_seconds,
                        "stat": STATISTIC
                    },
                    "returnData": true
                }]
            }
        }
    })
}
