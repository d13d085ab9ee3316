//! The handler functions. Lambda applies creates and updates
//! asynchronously and rejects a change while another is in progress, so
//! every change waits for the function to settle.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, LastUpdateStatus, LogFormat, LoggingConfig, Runtime,
    State,
};
use aws_sdk_lambda::Client;
use handlers::partition::Partition;

use super::error::{error_code, AwsError};
use super::wait::{self, wait_for_role, Assumer};
use crate::model::FunctionSpec;
use crate::model::{Identity, Observed, Tags};

const NOT_FOUND: &str = "ResourceNotFoundException";
/// How long a create or update may take to apply.
const SETTLE_LIMIT: Duration = Duration::from_secs(300);

pub async fn read(client: &Client, name: &str) -> Result<Option<Observed<FunctionSpec>>, AwsError> {
    let function = match client.get_function().function_name(name).send().await {
        Ok(out) => out,
        Err(err) if error_code(&err) == Some(NOT_FOUND) => return Ok(None),
        Err(err) => return Err(AwsError::call("GetFunction", name, err)),
    };
    let Some(config) = function.configuration else {
        return Ok(None);
    };
    let tags: Tags = function.tags.unwrap_or_default().into_iter().collect();
    Ok(Some(Observed {
        owner: Identity::of(&tags),
        spec: FunctionSpec {
            name: name.to_string(),
            role_arn: config.role.unwrap_or_default(),
            runtime: config
                .runtime
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            handler: config.handler.unwrap_or_default(),
            // Lambda's default when a function names none.
            architecture: config
                .architectures
                .and_then(|a| a.into_iter().next())
                .unwrap_or(Architecture::X8664)
                .as_str()
                .to_string(),
            memory_mb: config.memory_size.unwrap_or_default(),
            timeout_seconds: config.timeout.unwrap_or_default(),
            // Lambda's default when a function sets none.
            log_format: config
                .logging_config
                .and_then(|l| l.log_format)
                .unwrap_or(LogFormat::Text)
                .as_str()
                .to_string(),
            environment: config
                .environment
                .and_then(|e| e.variables)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            code_sha256: config.code_sha256.unwrap_or_default(),
            tags,
        },
    }))
}

/// Whether the function `arn` names (with its qualifier, if any) exists.
pub async fn exists(client: &Client, arn: &str) -> Result<bool, AwsError> {
    match client
        .get_function_configuration()
        .function_name(arn)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err) if error_code(&err) == Some(NOT_FOUND) => Ok(false),
        Err(err) => Err(AwsError::call("GetFunctionConfiguration", arn, err)),
    }
}

/// Creates the function from the zip at `package`, or brings it to
/// `desired`: the configuration and the code each only when they differ.
pub async fn converge(
    client: &Client,
    desired: &FunctionSpec,
    package: &Path,
    actual: Option<&FunctionSpec>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    match actual {
        Some(actual) => update(client, desired, package, actual).await,
        None => {
            super::converge::create_or_adopt(
                "Lambda function",
                name,
                &Identity::of(&desired.tags),
                create(client, desired, package),
                || read(client, name),
                |found| async move { update(client, desired, package, &found).await },
            )
            .await
        }
    }
}

async fn create(client: &Client, desired: &FunctionSpec, package: &Path) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let zip = read_package("CreateFunction", package).await?;
    wait_for_role(Assumer::Lambda, "CreateFunction", name, || {
        client
            .create_function()
            .function_name(name)
            .runtime(Runtime::from(desired.runtime.as_str()))
            .handler(&desired.handler)
            .role(&desired.role_arn)
            .architectures(Architecture::from(desired.architecture.as_str()))
            .memory_size(desired.memory_mb)
            .timeout(desired.timeout_seconds)
            .logging_config(logging(desired))
            .environment(environment(desired))
            .code(FunctionCode::builder().zip_file(zip.clone()).build())
            .set_tags(Some(desired.tags.clone().into_iter().collect()))
            .publish(false)
            .send()
    })
    .await?;
    applied(client, name, "CreateFunction").await
}

/// Brings an existing function to `desired`: the configuration and the
/// code each only when they differ.
async fn update(
    client: &Client,
    desired: &FunctionSpec,
    package: &Path,
    actual: &FunctionSpec,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let configuration_differs = desired.role_arn != actual.role_arn
        || desired.runtime != actual.runtime
        || desired.handler != actual.handler
        || desired.memory_mb != actual.memory_mb
        || desired.timeout_seconds != actual.timeout_seconds
        || desired.log_format != actual.log_format
        || desired.environment != actual.environment;
    let code_differs =
        desired.code_sha256 != actual.code_sha256 || desired.architecture != actual.architecture;
    if !configuration_differs && !code_differs && desired.tags == actual.tags {
        return Ok(());
    }
    // An interrupted deploy may have left an update in progress.
    let arn = settled(client, name)
        .await?
        .function_arn
        .unwrap_or_default();
    if configuration_differs {
        wait_for_role(Assumer::Lambda, "UpdateFunctionConfiguration", name, || {
            client
                .update_function_configuration()
                .function_name(name)
                .role(&desired.role_arn)
                .runtime(Runtime::from(desired.runtime.as_str()))
                .handler(&desired.handler)
                .memory_size(desired.memory_mb)
                .timeout(desired.timeout_seconds)
                .logging_config(logging(desired))
                .environment(environment(desired))
                .send()
        })
        .await?;
        applied(client, name, "UpdateFunctionConfiguration").await?;
    }
    if code_differs {
        let zip = read_package("UpdateFunctionCode", package).await?;
        client
            .update_function_code()
            .function_name(name)
            .zip_file(zip)
            .architectures(Architecture::from(desired.architecture.as_str()))
            .publish(false)
            .send()
            .await
            .map_err(|e| AwsError::call("UpdateFunctionCode", name, e))?;
        applied(client, name, "UpdateFunctionCode").await?;
    }
    let arn = arn.as_str();
    super::converge::sync_resource_tags!(
        client,
        resource,
        arn,
        name,
        &desired.tags,
        &actual.tags,
        desired.tags.clone().into_iter().collect()
    )
    .await
}

fn logging(desired: &FunctionSpec) -> LoggingConfig {
    LoggingConfig::builder()
        .log_format(LogFormat::from(desired.log_format.as_str()))
        .build()
}

fn environment(desired: &FunctionSpec) -> Environment {
    Environment::builder()
        .set_variables(Some(desired.environment.clone().into_iter().collect()))
        .build()
}

async fn read_package(action: &'static str, package: &Path) -> Result<Blob, AwsError> {
    tokio::fs::read(package).await.map(Blob::new).map_err(|e| {
        AwsError::other(
            action,
            package.display().to_string(),
            format!("cannot read the package: {e}"),
        )
    })
}

/// Waits until Lambda is done creating or updating the function.
async fn settled(client: &Client, name: &str) -> Result<GetFunctionConfigurationOutput, AwsError> {
    wait::until("being created or updated", name, SETTLE_LIMIT, || async {
        let config = client
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| AwsError::call("GetFunctionConfiguration", name, e))?;
        let busy = config.state == Some(State::Pending)
            || config.last_update_status == Some(LastUpdateStatus::InProgress);
        Ok((!busy).then_some(config))
    })
    .await
}

/// [`settled`] after a change of ours, which fails if Lambda could not
/// apply it (an earlier failure does not block a new change).
async fn applied(client: &Client, name: &str, action: &'static str) -> Result<(), AwsError> {
    let config = settled(client, name).await?;
    let reason = if config.state == Some(State::Failed) {
        config.state_reason.clone()
    } else if config.last_update_status == Some(LastUpdateStatus::Failed) {
        config.last_update_status_reason.clone()
    } else {
        return Ok(());
    };
    Err(AwsError::other(
        action,
        name,
        format!(
            "Lambda could not apply it: {}",
            reason.unwrap_or_else(|| "no reason given".to_string())
        ),
    ))
}

pub async fn delete(client: &Client, name: &str) -> Result<(), AwsError> {
    match client.delete_function().function_name(name).send().await {
        Err(err) if error_code(&err) != Some(NOT_FOUND) => {
            Err(AwsError::call("DeleteFunction", name, err))
        }
        _ => Ok(()),
    }
}

/// CloudWatch's principal for alarms whose action is a Lambda function, in
/// the partition of `arn` (the alarm's or the function's).
fn alarms_principal(arn: &str) -> String {
    Partition::of_arn(arn)
        .unwrap_or(Partition::Aws)
        .service_principal("lambda.alarms.cloudwatch")
}
/// How long a permission change retries while other changes to the same
/// function's policy are in progress (jobs converge concurrently).
const POLICY_BUSY_LIMIT: Duration = Duration::from_secs(60);

/// Whether `arn` names a Lambda function (an alarm's action may be anything).
pub fn is_function(arn: &str) -> bool {
    arn.split(':').nth(2) == Some("lambda")
}

/// The alarms `function`'s policy lets invoke it: each statement's id and
/// source ARN, for CloudWatch's alarm principal. None for a function that
/// does not exist or has no policy.
pub async fn alarm_statements(
    client: &Client,
    function: &str,
) -> Result<BTreeSet<(String, String)>, AwsError> {
    let policy = match client.get_policy().function_name(function).send().await {
        Ok(out) => out.policy.unwrap_or_default(),
        Err(err) if error_code(&err) == Some(NOT_FOUND) => return Ok(BTreeSet::new()),
        Err(err) => return Err(AwsError::call("GetPolicy", function, err)),
    };
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap_or_default();
    let principal = alarms_principal(function);
    Ok(policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["Principal"]["Service"] == principal.as_str())
        .filter_map(|s| {
            let sid = s["Sid"].as_str()?;
            let source = s["Condition"]["ArnLike"]["AWS:SourceArn"].as_str()?;
            Some((sid.to_string(), source.to_string()))
        })
        .collect())
}

/// Lets the alarm `alarm_arn` (and no other) invoke `function`, under a
/// statement named after the alarm; a statement of that name already there
/// is replaced, so it grants exactly this. Retried while another change to
/// the function's policy is in progress.
pub async fn allow_alarm(
    client: &Client,
    function: &str,
    alarm: &str,
    alarm_arn: &str,
) -> Result<(), AwsError> {
    wait::until(
        "updating the function's policy",
        function,
        POLICY_BUSY_LIMIT,
        || async {
            let added = client
                .add_permission()
                .function_name(function)
                .statement_id(alarm)
                .action("lambda:InvokeFunction")
                .principal(alarms_principal(alarm_arn))
                .source_arn(alarm_arn)
                .send()
                .await;
            match added {
                Ok(_) => Ok(Some(())),
                // The statement exists (replace it), or another update of the
                // policy is in progress (try again).
                Err(err) if error_code(&err) == Some("ResourceConflictException") => {
                    let ours = alarm_statements(client, function).await?;
                    if ours.iter().any(|(sid, _)| sid == alarm) {
                        disallow_alarm(client, function, alarm).await?;
                    }
                    Ok(None)
                }
                Err(err) => Err(AwsError::call("AddPermission", function, err)),
            }
        },
    )
    .await
}

/// Removes the alarm's statement from `function`'s policy; one (or a
/// function) already gone is success.
pub async fn disallow_alarm(client: &Client, function: &str, alarm: &str) -> Result<(), AwsError> {
    wait::until(
        "updating the function's policy",
        function,
        POLICY_BUSY_LIMIT,
        || async {
            let removed = client
                .remove_permission()
                .function_name(function)
                .statement_id(alarm)
                .send()
                .await;
            match removed {
                Ok(_) => Ok(Some(())),
                Err(err) if error_code(&err) == Some(NOT_FOUND) => Ok(Some(())),
                Err(err) if error_code(&err) == Some("ResourceConflictException") => Ok(None),
                Err(err) => Err(AwsError::call("RemovePermission", function, err)),
            }
        },
    )
    .await
}

/// What a function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    pub payload: String,
    /// The payload is the function's error.
    pub failed: bool,
}

/// An Invoke that got no answer from the function.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvokeFailed(String);

/// Invokes `function` with `payload` through a Lambda Invoke API at
/// `endpoint` such as `cargo lambda watch` serves (no AWS account involved:
/// local servers accept any credentials).
pub async fn invoke_local(
    endpoint: &str,
    function: &str,
    payload: &str,
) -> Result<Invoked, InvokeFailed> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "sjob-local",
        ))
        .load()
        .await;
    let out = Client::new(&config)
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| InvokeFailed(aws_sdk_lambda::error::DisplayErrorContext(e).to_string()))?;
    Ok(Invoked {
        payload: out
            .payload
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .unwrap_or_default(),
        failed: out.function_error.is_some(),
    })
}
