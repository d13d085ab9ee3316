//! The shared base every job of an app and stage uses: the notification
//! topic and its subscriptions, the two handler functions with their role and
//! log groups, and the Fargate compute environment with its job queue. As
//! plain values, like [`crate::stack`]: what the config asks for (rendered
//! here) and what AWS has (read by `aws::*` into the same types).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{Capacity, Config};
use crate::names::BaseNames;
use crate::render::iam;
use crate::stack::{field_diff, Identity, LogGroupSpec, RoleSpec, Tags};
use crate::target::Target;

/// The prefix of the topic tags that record the subscriptions sjob made.
/// SNS subscriptions take no tags, so their topic carries one tag per
/// subscription sjob created (a hash of its protocol and endpoint); sjob
/// deletes only those, and one added by hand is never touched.
pub const SUBSCRIPTION_TAG_PREFIX: &str = "sjob:subscription:";

/// The Lambda runtime and handler of a Rust binary named `bootstrap`.
pub const FUNCTION_RUNTIME: &str = "provided.al2023";
pub const FUNCTION_HANDLER: &str = "bootstrap";

#[derive(Debug, Clone, PartialEq)]
pub struct TopicSpec {
    pub name: String,
    pub fifo: bool,
    pub kms_key_id: Option<String>,
    /// Without the subscription records.
    pub tags: Tags,
    /// The [`SubscriptionSpec::record_tag`]s the topic carries.
    pub recorded_subscriptions: BTreeSet<String>,
}

/// One subscription, identified by protocol and endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSpec {
    pub protocol: String,
    pub endpoint: String,
    /// On the message attributes the handlers set (`status`, `error_kind`, ...).
    pub filter_policy: Option<Value>,
    pub raw_message_delivery: bool,
}

impl SubscriptionSpec {
    /// How plans name it.
    pub fn label(&self) -> String {
        format!("{}:{}", self.protocol, self.endpoint)
    }

    /// The topic tag key that records sjob created it. A hash: endpoints
    /// may hold characters tag keys may not, and be longer.
    pub fn record_tag(&self) -> String {
        let digest = Sha256::digest(self.label().as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{SUBSCRIPTION_TAG_PREFIX}{hex}")
    }
}

/// A subscription as SNS lists it. `arn` is `None` while an email or https
/// endpoint has not confirmed: SNS then allows neither reading nor deleting it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedSubscription {
    pub arn: Option<String>,
    pub spec: SubscriptionSpec,
    /// Whether the topic records that sjob created it.
    pub recorded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    pub role_arn: String,
    pub runtime: String,
    pub handler: String,
    /// `arm64` or `x86_64`.
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_seconds: i32,
    pub environment: BTreeMap<String, String>,
    /// Base64 SHA-256 of the zip: Lambda's `CodeSha256`.
    pub code_sha256: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroupSpec {
    pub name: String,
    pub vpc_id: String,
    pub description: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComputeEnvironmentSpec {
    pub name: String,
    /// `FARGATE` or `FARGATE_SPOT`.
    pub resource_type: String,
    pub max_vcpus: i32,
    pub subnets: BTreeSet<String>,
    pub security_group_ids: BTreeSet<String>,
    /// Always wanted; `false` reads back after an interrupted destroy.
    pub enabled: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobQueueSpec {
    pub name: String,
    pub priority: i32,
    pub compute_environment_arn: String,
    /// Always wanted; `false` reads back after an interrupted destroy.
    pub enabled: bool,
    pub tags: Tags,
}

/// A handler function with the package it is deployed from.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerFunction {
    pub function: FunctionSpec,
    pub package: PathBuf,
    pub log_group: LogGroupSpec,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NotificationsStack {
    pub topic: TopicSpec,
    pub subscriptions: Vec<SubscriptionSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HandlersStack {
    pub role: RoleSpec,
    /// Success, then error.
    pub functions: [HandlerFunction; 2],
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComputeStack {
    /// Created when the config gives a VPC instead of security groups; the
    /// compute environment then uses it alongside any groups given.
    pub security_group: Option<SecurityGroupSpec>,
    pub compute_environment: ComputeEnvironmentSpec,
    pub job_queue: JobQueueSpec,
}

/// Everything sjob deploys for the base. A part is `None` when the config
/// does not ask for it (its resources, if any exist, are then removals).
#[derive(Debug, Clone, PartialEq)]
pub struct BaseStack {
    pub names: BaseNames,
    /// The identity tags every base resource carries.
    pub identity: Identity,
    pub notifications: Option<NotificationsStack>,
    pub handlers: Option<HandlersStack>,
    pub compute: Option<ComputeStack>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BaseError {
    #[error("cannot read the {which} handler package {path}: {reason}")]
    #[diagnostic(
        code(sjob::base::package),
        help("build it with `sjob package`, or set [base.handlers].{which}_package")
    )]
    Package {
        which: &'static str,
        path: String,
        reason: String,
    },
}

impl BaseStack {
    /// A base with no parts: planning it removes whatever base exists.
    pub fn none(config: &Config, target: &Target) -> BaseStack {
        BaseStack {
            names: base_names(config),
            identity: Identity::base(&config.app_name, &config.stage, &target.region),
            notifications: None,
            handlers: None,
            compute: None,
        }
    }

    /// Renders the config's `[base]`. Reads the handler packages to hash them.
    pub fn render(config: &Config, target: &Target) -> Result<BaseStack, BaseError> {
        let names = base_names(config);
        let Some(base) = &config.base else {
            return Ok(BaseStack::none(config, target));
        };
        let identity = Identity::base(&config.app_name, &config.stage, &target.region);
        let mut tags = base.tags.clone();
        tags.extend(identity.tags().clone());
        let notifications = base.notifications.as_ref().map(|n| NotificationsStack {
            topic: TopicSpec {
                name: names.topic.clone(),
                fifo: n.fifo,
                kms_key_id: n.kms_key_id.clone(),
                tags: tags.clone(),
                recorded_subscriptions: BTreeSet::new(),
            },
            subscriptions: n
                .subscriptions
                .iter()
                .map(|s| SubscriptionSpec {
                    protocol: s.protocol.clone(),
                    endpoint: s.endpoint.clone(),
                    filter_policy: s.filter_policy.clone(),
                    raw_message_delivery: s.raw_message_delivery,
                })
                .collect(),
        });
        let handlers = match &base.handlers {
            None => None,
            Some(h) => {
                let topic_arn = config
                    .topic_arn(target)
                    .expect("validation gives [base.handlers] a topic");
                let topic_kms_key = base
                    .notifications
                    .as_ref()
                    .and_then(|n| n.kms_key_id.clone());
                let mut environment = h.env.clone();
                environment.insert("SNS_TOPIC_ARN".to_string(), topic_arn.clone());
                let function = |which: &'static str, name: &str, package: &Path| {
                    Ok::<_, BaseError>(HandlerFunction {
                        function: FunctionSpec {
                            name: name.to_string(),
                            role_arn: target.role_arn(&names.handler_role),
                            runtime: FUNCTION_RUNTIME.to_string(),
                            handler: FUNCTION_HANDLER.to_string(),
                            architecture: h.architecture.as_str().to_string(),
                            memory_mb: h.memory_mb,
                            timeout_seconds: h.timeout_seconds,
                            environment: environment.clone(),
                            code_sha256: package_sha256(which, package)?,
                            tags: tags.clone(),
                        },
                        package: package.to_path_buf(),
                        log_group: LogGroupSpec {
                            name: BaseNames::function_log_group(name),
                            retention_days: Some(h.log_retention_days),
                            tags: tags.clone(),
                        },
                    })
                };
                let functions = [
                    function("success", &names.success_function, &h.success_package)?,
                    function("error", &names.error_function, &h.error_package)?,
                ];
                Some(HandlersStack {
                    role: handler_role(
                        &names,
                        target,
                        &topic_arn,
                        topic_kms_key.as_deref(),
                        tags.clone(),
                    ),
                    functions,
                })
            }
        };
        let compute = base.compute.as_ref().map(|c| {
            let security_group = c.vpc_id.as_ref().map(|vpc| SecurityGroupSpec {
                name: names.security_group.clone(),
                vpc_id: vpc.clone(),
                description: format!(
                    "Batch jobs of {}/{} (managed by sjob)",
                    config.app_name, config.stage
                ),
                tags: tags.clone(),
            });
            ComputeStack {
                security_group,
                compute_environment: ComputeEnvironmentSpec {
                    name: names.compute_environment.clone(),
                    resource_type: c.capacity.resource_type().to_string(),
                    max_vcpus: c.max_vcpus,
                    subnets: c.subnets.iter().cloned().collect(),
                    security_group_ids: c.security_groups.iter().cloned().collect(),
                    enabled: true,
                    tags: tags.clone(),
                },
                job_queue: JobQueueSpec {
                    name: names.job_queue.clone(),
                    priority: 1,
                    compute_environment_arn: target
                        .compute_environment_arn(&names.compute_environment),
                    enabled: true,
                    tags: tags.clone(),
                },
            }
        });
        Ok(BaseStack {
            names,
            identity,
            notifications,
            handlers,
            compute,
        })
    }

    /// Whether the config asks for any part of the base.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_none() && self.handlers.is_none() && self.compute.is_none()
    }
}

/// The role both handlers run as: its policy names the topic, the key the
/// topic is encrypted with (when a customer key) and the functions' log groups.
pub fn handler_role(
    names: &BaseNames,
    target: &Target,
    topic_arn: &str,
    topic_kms_key: Option<&str>,
    tags: Tags,
) -> RoleSpec {
    let log_group_arns: Vec<String> = [&names.success_function, &names.error_function]
        .iter()
        .map(|f| {
            format!(
                "{}:*",
                target.log_group_arn(&BaseNames::function_log_group(f))
            )
        })
        .collect();
    RoleSpec {
        name: names.handler_role.clone(),
        trust_policy: iam::trust_policy("lambda.amazonaws.com"),
        policies: iam::handler_policies(names, topic_arn, topic_kms_key, &log_group_arns),
        managed_policies: BTreeSet::new(),
        tags,
    }
}

fn base_names(config: &Config) -> BaseNames {
    let topic = config
        .base
        .as_ref()
        .and_then(|b| b.notifications.as_ref())
        .map(|n| n.topic_name.clone());
    BaseNames::new(&config.app_name, &config.stage, topic)
}

/// The package's hash as Lambda reports it, so an unchanged zip is no change.
fn package_sha256(which: &'static str, path: &Path) -> Result<String, BaseError> {
    let bytes = std::fs::read(path).map_err(|e| BaseError::Package {
        which,
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(aws_smithy_types::base64::encode(Sha256::digest(&bytes)))
}

impl Capacity {
    pub fn resource_type(self) -> &'static str {
        match self {
            Capacity::Fargate => "FARGATE",
            Capacity::FargateSpot => "FARGATE_SPOT",
        }
    }
}

/// The JSON `sjob render` prints for the base.
pub fn describe(stack: &BaseStack) -> Value {
    json!({
        "notifications": stack.notifications.as_ref().map(|n| json!({
            "topic": n.topic.name,
            "fifo": n.topic.fifo,
            "kms_key_id": n.topic.kms_key_id,
            "subscriptions": n.subscriptions.iter().map(|s| json!({
                "protocol": s.protocol,
                "endpoint": s.endpoint,
                "filter_policy": s.filter_policy,
                "raw_message_delivery": s.raw_message_delivery,
            })).collect::<Vec<_>>(),
        })),
        "handlers": stack.handlers.as_ref().map(|h| json!({
            "role": h.role.name,
            "policies": h.role.policies,
            "functions": h.functions.iter().map(|f| json!({
                "name": f.function.name,
                "package": f.package.display().to_string(),
                "code_sha256": f.function.code_sha256,
                "runtime": f.function.runtime,
                "architecture": f.function.architecture,
                "memory_mb": f.function.memory_mb,
                "timeout_seconds": f.function.timeout_seconds,
                "environment": f.function.environment,
                "log_group": f.log_group.name,
            })).collect::<Vec<_>>(),
        })),
        "compute": stack.compute.as_ref().map(|c| json!({
            "security_group": c.security_group.as_ref().map(|g| json!({"name": g.name, "vpc_id": g.vpc_id})),
            "compute_environment": {
                "name": c.compute_environment.name,
                "type": c.compute_environment.resource_type,
                "max_vcpus": c.compute_environment.max_vcpus,
                "subnets": c.compute_environment.subnets,
                "security_group_ids": c.compute_environment.security_group_ids,
            },
            "job_queue": c.job_queue.name,
        })),
    })
}

field_diff!(TopicSpec {
    fifo,
    kms_key_id,
    tags
});
field_diff!(SubscriptionSpec {
    filter_policy,
    raw_message_delivery
});
field_diff!(FunctionSpec {
    role_arn,
    runtime,
    handler,
    architecture,
    memory_mb,
    timeout_seconds,
    environment,
    code_sha256,
    tags
});
field_diff!(SecurityGroupSpec {
    vpc_id,
    description,
    tags
});
field_diff!(ComputeEnvironmentSpec {
    resource_type,
    max_vcpus,
    subnets,
    security_group_ids,
    enabled,
    tags
});
field_diff!(JobQueueSpec {
    priority,
    compute_environment_arn,
    enabled,
    tags
});
