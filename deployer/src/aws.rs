//! AWS access, one module per service: each reads a resource into its
//! `stack` spec (absent is `None`, not an error), and creates, updates or
//! deletes it. SDK configuration and error mapping live here, once.

pub mod batch;
pub mod cloudwatch;
pub mod compute;
pub mod ec2;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod logs;
pub mod pace;
pub mod scheduler;
pub mod secrets;
pub mod sfn;
pub mod signed;
pub mod sns;
pub mod sqs;
pub mod tagging;
pub mod wait;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig;
use handlers::http::TlsOnFirstUse;

use crate::model::{Identity, Observed, Tags};
use pace::Pace;

/// The AWS settings the command line gives (`--profile`, `--region`); the
/// rest is the SDK's standard resolution (`AWS_PROFILE`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, the config and credentials files, ...).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub profile: Option<String>,
    pub region: Option<String>,
}

impl Settings {
    /// The SDK configuration. The region is `--region`, else the config's
    /// `region`, else the environment's or the profile's. Retries are the
    /// user's when `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE` or the profile's
    /// `max_attempts` / `retry_mode` set them, else sjob's: 8 attempts with
    /// backoff from 200 ms to 10 s, for a deploy's bursts of calls. Every
    /// request goes through `pace`'s gates.
    pub async fn sdk_config(
        &self,
        config_region: Option<&str>,
        pace: &Pace,
    ) -> Result<SdkConfig, SettingsError> {
        // A call waiting for its place in `pace`'s gate has not sent its
        // body yet: the SDK's upload stall check would count that wait as a
        // stalled upload. Our bodies are small and in memory; answers stay
        // guarded by the download check.
        let stalls = StalledStreamProtectionConfig::enabled()
            .upload_enabled(false)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(pace.http_client(SharedHttpClient::new(TlsOnFirstUse::new())))
            .stalled_stream_protection(stalls);
        let profiles = handlers::sdk::profiles(self.profile.as_deref()).await;
        if let Some(profile) = &self.profile {
            if profiles
                .as_ref()
                .is_none_or(|p| p.get_profile(profile).is_none())
            {
                return Err(SettingsError::UnknownProfile(profile.clone()));
            }
            loader = loader.profile_name(profile);
        }
        if let Some(region) = self.region.as_deref().or(config_region) {
            loader = loader.region(Region::new(region.to_string()));
        }
        let retries = RetryConfig::standard()
            .with_max_attempts(8)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(10));
        Ok(
            handlers::sdk::with_default_retries(loader, profiles.as_ref(), retries)
                .load()
                .await,
        )
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SettingsError {
    #[error("profile `{0}` is not in the AWS config or credentials file")]
    #[diagnostic(
        code(sjob::aws::profile),
        help("`aws configure list-profiles` lists them; AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE name other files")
    )]
    UnknownProfile(String),
}

/// One client per service we call, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub config: SdkConfig,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub batch: aws_sdk_batch::Client,
    pub cloudwatch: cloudwatch::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sns: aws_sdk_sns::Client,
    pub ec2: ec2::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub sts: aws_sdk_sts::Client,
    /// The calls' gates, one per service.
    pub pace: Pace,
}

impl Clients {
    /// Clients for `settings`, in the config's region (`config_region`)
    /// unless `--region` names another. Throttling and 5xx answers are
    /// retried with exponential backoff by the SDK.
    pub async fn load(
        settings: &Settings,
        config_region: Option<&str>,
    ) -> Result<Clients, SettingsError> {
        let pace = Pace::default();
        let config = settings.sdk_config(config_region, &pace).await?;
        Ok(Clients::from_config(config, pace))
    }

    /// Clients over `config`, whose HTTP client sends through `pace`.
    fn from_config(config: SdkConfig, pace: Pace) -> Clients {
        Clients {
            iam: aws_sdk_iam::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            batch: aws_sdk_batch::Client::new(&config),
            cloudwatch: cloudwatch::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            ec2: ec2::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            scheduler: aws_sdk_scheduler::Client::new(&config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            config,
            pace,
        }
    }

    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    /// The caller's account, for ARNs, when the config does not give it.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::call("GetCallerIdentity", "(credentials)", e))?;
        identity.account.ok_or_else(|| {
            AwsError::other(
                "GetCallerIdentity",
                "(credentials)",
                "no account in the answer",
            )
        })
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AwsError {
    #[error("{action} {resource} failed: {message}")]
    #[diagnostic(code(sjob::aws::call))]
    Call {
        action: &'static str,
        resource: String,
        message: String,
        /// The service's error code, when it answered with one.
        code: Option<String>,
    },
    #[error("{kind} `{name}` exists but is not this stack's: its tags say {owner}; sjob leaves it alone")]
    #[diagnostic(
        code(sjob::aws::not_managed),
        help("nothing of it was changed; when two stacks' names collide, rename a job, the app or the stage (see Ownership in the README)")
    )]
    NotManaged {
        kind: &'static str,
        name: String,
        owner: Identity,
    },
    /// No answer came: the connection failed or the call timed out.
    #[error("{action} {resource} failed: {message}")]
    #[diagnostic(code(sjob::aws::unanswered))]
    Unanswered {
        action: &'static str,
        resource: String,
        message: String,
    },
    /// A change AWS makes asynchronously did not settle in time.
    #[error("{resource}: still {what} after {seconds} s")]
    #[diagnostic(code(sjob::aws::still_waiting))]
    StillWaiting {
        resource: String,
        what: String,
        seconds: u64,
    },
    #[error(
        "{action} {resource}: the new IAM role was still not usable after {seconds} s: {message}"
    )]
    #[diagnostic(code(sjob::aws::iam_propagation))]
    RoleNotReady {
        action: &'static str,
        resource: String,
        seconds: u64,
        message: String,
    },
}

impl AwsError {
    /// A failed call. A service's answer reads as its code and message; a
    /// failure to get one (connection, timeout) keeps the whole chain.
    pub fn call<E>(action: &'static str, resource: impl Into<String>, err: E) -> AwsError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = match (&code, err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            (None, _) => {
                return AwsError::Unanswered {
                    action,
                    resource: resource.into(),
                    message: DisplayErrorContext(err).to_string(),
                }
            }
        };
        AwsError::Call {
            action,
            resource: resource.into(),
            message,
            code,
        }
    }

    /// Whether running the command again can get past this error: AWS was
    /// throttling, failing on its side or busy with a concurrent change,
    /// did not answer, a new role had not propagated, or a change had not
    /// settled in time. Not a missing resource, a refused request or a
    /// resource that is not the stack's: those fail the same way again.
    pub fn can_pass_on_rerun(&self) -> bool {
        /// Server-side failures and concurrent changes, across services.
        const PASSING: [&str; 13] = [
            "InternalFailure",
            "InternalError",
            "InternalServerError",
            "InternalServiceError",
            "InternalServiceErrorException",
            "ServiceException",
            "ServiceUnavailable",
            "ServiceUnavailableException",
            "Unavailable",
            "ConcurrentModification",
            "ConcurrentModificationException",
            "OperationAbortedException",
            "ResourceConflictException",
        ];
        match self {
            AwsError::Call { code, .. } => code.as_deref().is_some_and(|code| {
                pace::THROTTLING_CODES.contains(&code)
                    || aws_runtime::retries::classifiers::TRANSIENT_ERRORS.contains(&code)
                    || PASSING.contains(&code)
            }),
            AwsError::Unanswered { .. }
            | AwsError::StillWaiting { .. }
            | AwsError::RoleNotReady { .. } => true,
            AwsError::NotManaged { .. } => false,
        }
    }

    /// A failure sjob itself finds in an answer, with no service code.
    pub fn other(
        action: &'static str,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError::Call {
            action,
            resource: resource.into(),
            message: message.into(),
            code: None,
        }
    }

    /// The service's error code, when it answered with one.
    pub fn service_code(&self) -> Option<&str> {
        match self {
            AwsError::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Whether a create failed because the resource exists: each service's
    /// own code, and for SNS and Batch, which answer with a generic code,
    /// their message.
    pub fn is_already_exists(&self) -> bool {
        const CODES: [&str; 6] = [
            "EntityAlreadyExists",            // IAM
            "ResourceAlreadyExistsException", // CloudWatch Logs
            "StateMachineAlreadyExists",      // Step Functions
            "ConflictException",              // EventBridge Scheduler
            "ResourceConflictException",      // Lambda
            "InvalidGroup.Duplicate",         // EC2
        ];
        match self {
            AwsError::Call { code, message, .. } => match code.as_deref() {
                Some(code) if CODES.contains(&code) => true,
                Some("InvalidParameter" | "ClientException") => {
                    message.to_ascii_lowercase().contains("already exist")
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// Creates a resource the plan found absent. When it turns out to exist
/// (a concurrent deploy, a listing that had not caught up, or another stack
/// that took the name since the plan), it is read: brought to the desired
/// state by `converge` when its identity is `ours`, left untouched with
/// [`AwsError::NotManaged`] when it is anyone else's. Every service creates
/// through this one path, so none can skip the ownership check.
pub async fn create_or_adopt<T, R, Read, Converge>(
    kind: &'static str,
    name: &str,
    ours: &Identity,
    create: impl std::future::Future<Output = Result<R, AwsError>>,
    read: impl FnOnce() -> Read,
    converge: impl FnOnce(T) -> Converge,
) -> Result<R, AwsError>
where
    Read: std::future::Future<Output = Result<Option<Observed<T>>, AwsError>>,
    Converge: std::future::Future<Output = Result<R, AwsError>>,
{
    let err = match create.await {
        Ok(created) => return Ok(created),
        Err(err) if err.is_already_exists() => err,
        Err(err) => return Err(err),
    };
    match read().await? {
        Some(found) if found.owner == *ours => {
            tracing::info!(kind, name, "exists already, as this stack's: converging it");
            converge(found.spec).await
        }
        Some(found) => Err(AwsError::NotManaged {
            kind,
            name: name.to_string(),
            owner: found.owner,
        }),
        // Deleted again since: the next deploy creates it.
        None => Err(err),
    }
}

/// Brings a resource's tags from `actual` to `desired`: `untag` removes the
/// stale keys (when there are any), then `tag` sets every desired tag.
pub async fn sync_tags<U, T>(
    desired: &Tags,
    actual: &Tags,
    untag: impl FnOnce(Vec<String>) -> U,
    tag: impl FnOnce() -> T,
) -> Result<(), AwsError>
where
    U: std::future::Future<Output = Result<(), AwsError>>,
    T: std::future::Future<Output = Result<(), AwsError>>,
{
    if desired == actual {
        return Ok(());
    }
    let stale: Vec<String> = actual
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .cloned()
        .collect();
    // Different keys: the two calls do not race.
    let untag = async {
        if stale.is_empty() {
            Ok(())
        } else {
            untag(stale).await
        }
    };
    tokio::try_join!(untag, tag())?;
    Ok(())
}

/// [`sync_tags`] for the services that tag by ARN with `TagResource` and
/// `UntagResource`: `$arn_setter` is the request's ARN field (`resource_arn`,
/// or Lambda's `resource`), `$tags` the desired tags in the service's shape,
/// `$label` what errors name.
macro_rules! sync_resource_tags {
    ($client:expr, $arn_setter:ident, $arn:expr, $label:expr, $desired:expr, $actual:expr, $tags:expr) => {
        $crate::aws::sync_tags(
            $desired,
            $actual,
            |stale| async move {
                $client
                    .untag_resource()
                    .$arn_setter($arn)
                    .set_tag_keys(Some(stale))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| $crate::aws::AwsError::call("UntagResource", $label, e))
            },
            || async {
                $client
                    .tag_resource()
                    .$arn_setter($arn)
                    .set_tags(Some($tags))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| $crate::aws::AwsError::call("TagResource", $label, e))
            },
        )
    };
}
pub(crate) use sync_resource_tags;

/// The service error code of an SDK error, if the service answered.
pub fn error_code<E: ProvideErrorMetadata>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}

/// Retries `op` while AWS reports that a just-created role cannot be
/// assumed yet (IAM is eventually consistent), for up to a minute.
pub async fn wait_for_role<T, E, F, Fut>(
    action: &'static str,
    resource: &str,
    mut op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    const LIMIT: Duration = Duration::from_secs(60);
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) => {
                let message = DisplayErrorContext(&err).to_string();
                let propagating = is_role_propagation(&message);
                if !propagating {
                    return Err(AwsError::call(action, resource, err));
                }
                if started.elapsed() >= LIMIT {
                    return Err(AwsError::RoleNotReady {
                        action,
                        resource: resource.to_string(),
                        seconds: LIMIT.as_secs(),
                        message,
                    });
                }
                tracing::info!(
                    action,
                    resource,
                    "waiting for the new IAM role to propagate"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The messages Step Functions and the Scheduler give for a role that IAM
/// has not propagated yet.
fn is_role_propagation(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (m.contains("role") && (m.contains("assume") || m.contains("not authorized")))
        || m.contains("the execution role you provided")
}
