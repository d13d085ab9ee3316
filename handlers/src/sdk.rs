//! The AWS SDK's retry settings, shared by the handlers and the `sjob` CLI:
//! the user's when they set any, the caller's own defaults otherwise.

use std::borrow::Cow;

use aws_config::profile::ProfileSet;
use aws_config::retry::RetryConfig;
use aws_config::ConfigLoader;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

/// The settings that configure the SDK's retries, in the environment and in
/// the profile.
const RETRY_VARIABLES: [&str; 2] = ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"];
const RETRY_PROFILE_KEYS: [&str; 2] = ["max_attempts", "retry_mode"];

/// Whether the user configured retries: `AWS_MAX_ATTEMPTS` or
/// `AWS_RETRY_MODE`, or `max_attempts` or `retry_mode` in the selected
/// profile of `profiles` (see [`profiles`]).
pub fn retries_configured(profiles: Option<&ProfileSet>) -> bool {
    RETRY_VARIABLES
        .iter()
        .any(|name| std::env::var_os(name).is_some())
        || profiles.is_some_and(|profiles| {
            RETRY_PROFILE_KEYS
                .iter()
                .any(|key| profiles.get(key).is_some())
        })
}

/// The profiles of the config and credentials files (`AWS_CONFIG_FILE`,
/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/...`), with `profile` (else
/// `AWS_PROFILE`, else `default`) selected; `None` when they cannot be read,
/// which the SDK reports itself.
pub async fn profiles(profile: Option<&str>) -> Option<ProfileSet> {
    let selected = profile.map(|p| Cow::Owned(p.to_string()));
    aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &EnvConfigFiles::default(),
        selected,
    )
    .await
    .ok()
}

/// `loader` with `defaults` as its retry settings, unless the user set
/// theirs (which the loader then reads itself).
pub fn with_default_retries(
    loader: ConfigLoader,
    profiles: Option<&ProfileSet>,
    defaults: RetryConfig,
) -> ConfigLoader {
    if retries_configured(profiles) {
        loader
    } else {
        loader.retry_config(defaults)
    }
}
