//! `[base]` to its [`BaseStack`]: the topic, the handler functions (hashing
//! their packages) with their role, and the compute environment and queue.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::iam;
use crate::config::Config;
use crate::model::{
    BaseStack, ComputeEnvironmentSpec, ComputeStack, FunctionSpec, HandlerFunction, Handlers,
    HandlersStack, Identity, JobQueueSpec, LogGroupSpec, NotificationsStack, RoleSpec,
    SecurityGroupSpec, SubscriptionSpec, Tags, TopicSpec, FUNCTION_HANDLER, FUNCTION_LOG_FORMAT,
    FUNCTION_RUNTIME,
};
use crate::names::BaseNames;
use crate::target::Target;

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
                kms_key_id: n.kms_key_id.as_ref().map(|k| k.setting(target)),
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
                    .and_then(|n| n.kms_key_id.as_ref())
                    .and_then(|k| k.grant_arn(target));
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
                            log_format: FUNCTION_LOG_FORMAT.to_string(),
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
                let functions = Handlers {
                    success: function("success", &names.success_function, &h.success_package)?,
                    error: function("error", &names.error_function, &h.error_package)?,
                };
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
}

/// The role both handlers run as: its policy names the topic, the ARN of
/// the key the topic is encrypted with (when a customer key) and the
/// functions' log groups.
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
        trust_policy: iam::trust_policy(&target.service_principal("lambda")),
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
    Ok(base64(&Sha256::digest(&bytes)))
}

/// Standard base64 with padding, the form Lambda gives `CodeSha256` in.
/// (Only `aws` uses the SDK's crates, its encoder among them.)
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |bits, (i, b)| bits | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(match i <= chunk.len() {
                true => ALPHABET[(bits >> (18 - 6 * i) & 63) as usize] as char,
                false => '=',
            });
        }
    }
    out
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
                "log_format": f.function.log_format,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_the_standard_padded_form() {
        for (bytes, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(bytes.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }
}
