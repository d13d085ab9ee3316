//! AWS access, the only door to it: one module per service, each reading a
//! resource into its `model` spec (absent is `None`, not an error), and
//! creating, updating, tagging or deleting it. The SDK configuration and
//! the clients live here, once; `error` maps every failed call.

pub(crate) mod batch;
pub(crate) mod cloudwatch;
pub(crate) mod compute;
mod converge;
pub(crate) mod dynamodb;
pub(crate) mod ec2;
mod error;
pub(crate) mod iam;
pub(crate) mod kms;
pub(crate) mod lambda;
pub(crate) mod logs;
pub(crate) mod pace;
pub(crate) mod scheduler;
pub(crate) mod secrets;
pub(crate) mod sfn;
mod signed;
pub(crate) mod sns;
pub(crate) mod sqs;
pub(crate) mod tagging;
pub(crate) mod wait;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig;
use handlers::http::TlsOnFirstUse;

pub use error::AwsError;
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

    /// The clients `references` reads with, in `region`.
    pub fn readers(&self, region: &str) -> Readers {
        let config = if self.region().as_deref() == Some(region) {
            self.config.clone()
        } else {
            self.config
                .to_builder()
                .region(Region::new(region.to_string()))
                .build()
        };
        Readers {
            batch: aws_sdk_batch::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            kms: kms::Client::new(&config),
            sqs: sqs::Client::new(&config),
            secrets: secrets::Client::new(&config),
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

/// The clients of one region that `references` reads what a config names
/// with (a reference's ARN may name another region than the stack's).
pub struct Readers {
    pub batch: aws_sdk_batch::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sns: aws_sdk_sns::Client,
    pub kms: kms::Client,
    pub sqs: sqs::Client,
    pub secrets: secrets::Client,
}
