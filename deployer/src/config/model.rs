//! The validated configuration: what every later stage works from. Built only
//! by [`super::load`], so nothing downstream re-checks it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::schedule::Schedule;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    pub app_name: String,
    pub stage: String,
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub jobs: BTreeMap<String, Job>,
}

/// One scheduled job, with `[defaults]` already applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The `[jobs.<name>]` key: the seed's `batch_name`.
    pub batch_name: String,
    pub command: Vec<String>,
    pub vcpus: String,
    pub memory: String,
    pub schedule: Schedule,
    pub schedule_timezone: String,
    pub sfn_input: Value,
    pub env: BTreeMap<String, String>,
    pub image_uri: String,
    pub image_tag: String,
    pub batch_job_queue_arn: String,
    pub success_handler_arn: String,
    pub error_handler_arn: String,
    pub enabled: bool,
    pub timeout_seconds: Option<u32>,
    pub retry_attempts: u32,
    pub log_retention_days: i32,
    pub task_policy_statements: Vec<Value>,
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub assign_public_ip: bool,
}

pub const DEFAULT_TIMEZONE: &str = "Asia/Tokyo";
pub const DEFAULT_VCPUS: &str = "1";
pub const DEFAULT_MEMORY: &str = "2048";
pub const DEFAULT_IMAGE_TAG: &str = "latest";
pub const DEFAULT_LOG_RETENTION_DAYS: i32 = 365;
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 1;

/// Keys a `[jobs.<name>]` table (and `[defaults]`) may hold.
pub const JOB_KEYS: &[&str] = &[
    "command",
    "vcpus",
    "memory",
    "schedule_expression",
    "schedule_timezone",
    "sfn_input",
    "env",
    "image_uri",
    "image_tag",
    "batch_job_queue_arn",
    "success_handler_arn",
    "error_handler_arn",
    "enabled",
    "timeout_seconds",
    "retry_attempts",
    "log_retention_days",
    "task_policy_statements",
    "tags",
    "description",
    "assign_public_ip",
];

pub const TOP_KEYS: &[&str] = &[
    "app_name",
    "stage",
    "region",
    "account_id",
    "defaults",
    "jobs",
];

/// CloudWatch Logs' accepted retention periods.
pub const LOG_RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
