//! AWS access, one module per service: each reads a resource into its
//! `stack` spec (absent is `None`, not an error), and creates, updates or
//! deletes it. SDK configuration and error mapping live here, once.

pub mod batch;
pub mod cloudwatch;
pub mod compute;
pub mod dynamodb;
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
pub struct SdkOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
}

impl SdkOptions {
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
    ) -> Result<SdkConfig, SdkOptionsError> {
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
                return Err(SdkOptionsError::UnknownProfile(profile.clone()));
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
pub enum SdkOptionsError {
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
    pub dynamodb: dynamodb::Client,
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
        settings: &SdkOptions,
        config_region: Option<&str>,
    ) -> Result<Clients, SdkOptionsError> {
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
            dynamodb: dynamodb::Client::new(&config),
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
    #[diagnostic(
        code(sjob::aws::iam_propagation),
        help("IAM had not yet made the role usable to the service; a re-run finishes once it has")
    )]
    RoleNotReady {
        action: &'static str,
        resource: String,
        seconds: u64,
        message: String,
    },
    #[error("{action} {resource} was denied: {denial}")]
    #[diagnostic(
        code(sjob::aws::denied),
        help("nothing was retried: the credentials sjob runs with lack this permission. \"Deploying to real AWS\" in the README lists every permission sjob needs")
    )]
    Denied {
        action: &'static str,
        resource: String,
        denial: Box<Denial>,
        /// The service's error code (`AccessDenied`, `AccessDeniedException`).
        code: String,
    },
}

/// What a service's denial of the caller says: "User: <principal> is not
/// authorized to perform: <permission> on resource: <resource>", the
/// wording every service uses for its caller's missing permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The caller: a user or an assumed role's session.
    pub principal: String,
    /// The IAM action, such as `iam:PassRole`.
    pub permission: String,
    /// The resource the action was denied on, when the message names one.
    pub resource: Option<String>,
}

impl Denial {
    /// The denial in a service's message, if the message is one.
    pub fn parse(message: &str) -> Option<Denial> {
        let (_, rest) = message.split_once("User: ")?;
        let (principal, rest) = rest.split_once(" is not authorized to perform: ")?;
        let word = |text: &str| {
            text.split(|c: char| c.is_whitespace() || c == ',')
                .next()
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_string()
        };
        let permission = word(rest);
        let resource = rest
            .split_once(" on resource: ")
            .map(|(_, resource)| word(resource));
        (!principal.is_empty() && permission.contains(':')).then(|| Denial {
            principal: principal.to_string(),
            permission,
            resource,
        })
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} may not perform {}", self.principal, self.permission)?;
        if let Some(resource) = &self.resource {
            write!(f, " on {resource}")?;
        }
        Ok(())
    }
}

impl AwsError {
    /// A failed call. A service's answer reads as its code and message; a
    /// failure to get one (connection, timeout) keeps the whole chain.
    pub fn call<E>(action: &'static str, resource: impl Into<String>, err: E) -> AwsError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_string);
        if let (Some(code), Some(denial)) = (&code, err.message().and_then(Denial::parse)) {
            return AwsError::Denied {
                action,
                resource: resource.into(),
                denial: Box::new(denial),
                code: code.clone(),
            };
        }
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
            AwsError::NotManaged { .. } | AwsError::Denied { .. } => false,
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
            AwsError::Denied { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether a create failed because the resource exists: each service's
    /// own code, and for SNS and Batch, which answer with a generic code,
    /// their message.
    pub fn is_already_exists(&self) -> bool {
        const CODES: [&str; 7] = [
            "EntityAlreadyExists",            // IAM
            "ResourceAlreadyExistsException", // CloudWatch Logs
            "StateMachineAlreadyExists",      // Step Functions
            "ConflictException",              // EventBridge Scheduler
            "ResourceConflictException",      // Lambda
            "InvalidGroup.Duplicate",         // EC2
            "ResourceInUseException",         // DynamoDB (CreateTable)
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

/// A service that assumes a role sjob passes it. IAM is eventually
/// consistent: for a few seconds after a role is created, the service may
/// not be able to assume it yet, and says so in words of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assumer {
    Lambda,
    StepFunctions,
    Scheduler,
}

impl Assumer {
    /// The error code and the words of the service's answer while it cannot
    /// assume the role yet (as the services word it; the Terraform AWS
    /// provider retries on the same ones).
    fn not_yet_assumable(self) -> (&'static str, &'static str) {
        match self {
            // "The role defined for the function cannot be assumed by Lambda."
            Assumer::Lambda => (
                "InvalidParameterValueException",
                "cannot be assumed by Lambda",
            ),
            // "Neither the global service principal states.amazonaws.com, nor
            // the regional one is authorized to assume the provided role."
            Assumer::StepFunctions => (
                "AccessDeniedException",
                "is authorized to assume the provided role",
            ),
            // "The execution role you provide must allow AWS EventBridge
            // Scheduler to assume the role."
            Assumer::Scheduler => (
                "ValidationException",
                "must allow AWS EventBridge Scheduler to assume the role",
            ),
        }
    }

    /// Whether `err` is this service saying it cannot assume the role yet.
    fn cannot_assume_yet(self, err: &impl ProvideErrorMetadata) -> bool {
        let (code, words) = self.not_yet_assumable();
        err.code() == Some(code) && err.message().is_some_and(|m| m.contains(words))
    }
}

/// Retries `op` while `assumer` answers that it cannot assume the role yet
/// (a role just created), for up to a minute. Every other error, a denial
/// of the caller's own permissions among them, ends it at once.
pub async fn wait_for_role<T, E, F, Fut>(
    assumer: Assumer,
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
            Err(err) if !assumer.cannot_assume_yet(&err) => {
                return Err(AwsError::call(action, resource, err));
            }
            Err(err) if started.elapsed() >= LIMIT => {
                return Err(AwsError::RoleNotReady {
                    action,
                    resource: resource.to_string(),
                    seconds: LIMIT.as_secs(),
                    message: err.message().unwrap_or_default().to_string(),
                });
            }
            Err(_) => {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn answer(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    /// Step Functions' answer when the caller may not pass the role.
    const PASS_ROLE_DENIED: &str = "User: arn:aws:sts::123456789012:assumed-role/deployer/ci is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/myapp-dev-crawler-StatesRole because no identity-based policy allows the iam:PassRole action";

    #[test]
    fn a_denial_names_the_caller_the_permission_and_the_resource() {
        assert_eq!(
            Denial::parse(PASS_ROLE_DENIED),
            Some(Denial {
                principal: "arn:aws:sts::123456789012:assumed-role/deployer/ci".into(),
                permission: "iam:PassRole".into(),
                resource: Some(
                    "arn:aws:iam::123456789012:role/myapp-dev-crawler-StatesRole".into()
                ),
            })
        );
        let without_resource = Denial::parse(
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: tag:GetResources",
        )
        .unwrap();
        assert_eq!(without_resource.permission, "tag:GetResources");
        assert_eq!(without_resource.resource, None);
        assert_eq!(
            without_resource.to_string(),
            "arn:aws:iam::123456789012:user/ci may not perform tag:GetResources"
        );
    }

    #[test]
    fn a_service_that_cannot_assume_a_role_is_no_denial_of_the_caller() {
        for message in [
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
            "The role defined for the function cannot be assumed by Lambda.",
            "Rate exceeded",
        ] {
            assert_eq!(Denial::parse(message), None, "{message}");
        }
    }

    #[test]
    fn a_denied_call_is_a_typed_error_naming_action_permission_and_resource() {
        let err = AwsError::call(
            "CreateStateMachine",
            "myapp-dev-crawler",
            answer("AccessDeniedException", PASS_ROLE_DENIED),
        );
        assert!(
            matches!(&err, AwsError::Denied { denial, .. } if denial.permission == "iam:PassRole")
        );
        assert_eq!(err.service_code(), Some("AccessDeniedException"));
        let text = err.to_string();
        assert!(
            text.starts_with("CreateStateMachine myapp-dev-crawler was denied"),
            "{text}"
        );
        assert!(
            text.contains(
                "iam:PassRole on arn:aws:iam::123456789012:role/myapp-dev-crawler-StatesRole"
            ),
            "{text}"
        );
    }

    #[test]
    fn each_service_is_waited_for_only_on_its_own_words() {
        let lambda = answer(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        );
        let states = answer(
            "AccessDeniedException",
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
        );
        let scheduler = answer(
            "ValidationException",
            "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.",
        );
        let denied = answer("AccessDeniedException", PASS_ROLE_DENIED);
        for (assumer, waits_on) in [
            (Assumer::Lambda, &lambda),
            (Assumer::StepFunctions, &states),
            (Assumer::Scheduler, &scheduler),
        ] {
            for err in [&lambda, &states, &scheduler, &denied] {
                assert_eq!(
                    assumer.cannot_assume_yet(err),
                    std::ptr::eq(err, waits_on),
                    "{assumer:?} on {err}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_denial_ends_the_wait_at_once_and_propagation_is_waited_out() {
        let calls = AtomicUsize::new(0);
        let denied = wait_for_role(Assumer::StepFunctions, "CreateStateMachine", "m", || {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(answer("AccessDeniedException", PASS_ROLE_DENIED)) }
        })
        .await;
        assert!(matches!(denied, Err(AwsError::Denied { .. })), "{denied:?}");
        assert_eq!(calls.load(Ordering::Relaxed), 1);

        let calls = AtomicUsize::new(0);
        let assumed = wait_for_role(Assumer::Lambda, "CreateFunction", "f", || {
            let first = calls.fetch_add(1, Ordering::Relaxed) == 0;
            async move {
                if first {
                    Err(answer(
                        "InvalidParameterValueException",
                        "The role defined for the function cannot be assumed by Lambda.",
                    ))
                } else {
                    Ok("created")
                }
            }
        })
        .await;
        assert_eq!(assumed.unwrap(), "created");
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }
}
