//! The rules themselves, as pure predicates over values: names, regions,
//! ARNs, Fargate sizes, and which unknown key was probably meant.

use handlers::partition::Partition;

use crate::config::job::Vcpus;

pub(super) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(super) fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// Batch's `onExitCode`: digits, optionally ending in `*`, up to 512
/// characters.
pub(super) fn is_exit_code_pattern(s: &str) -> bool {
    let body = s.strip_suffix('*').unwrap_or(s);
    !s.is_empty() && s.len() <= 512 && body.chars().all(|c| c.is_ascii_digit())
}

/// Batch's `onReason` and `onStatusReason`: letters, digits, `.`, `:` and
/// white space, optionally ending in `*`, up to 512 characters.
pub(super) fn is_reason_pattern(s: &str) -> bool {
    let body = s.strip_suffix('*').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 512
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | ' ' | '\t'))
}

/// The characters IAM, Batch, Step Functions, Scheduler, CloudWatch, SNS,
/// Lambda and Logs accept in tag keys and values:
/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]*` (their API models' tag patterns).
pub(super) fn is_tag_text(s: &str) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    s.chars().all(|c| {
        matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter
                | GeneralCategoryGroup::Separator
                | GeneralCategoryGroup::Number
        ) || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    })
}

/// Scheduler's `DeadLetterConfig.Arn` pattern,
/// `^arn:aws(-[a-z]+)?:sqs:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9\-_]+$`, which no
/// FIFO queue (`name.fifo`) matches. The partition is any of the three sjob
/// deploys to (the global model's `-[a-z]+` would not take `aws-us-gov`).
pub(super) fn is_scheduler_dead_letter_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, _, service, region, account, queue] = parts[..] else {
        return false;
    };
    Partition::of_arn(arn).is_some()
        && service == "sqs"
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && is_account_id(account)
        && !queue.is_empty()
        && queue
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(super) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// `arn:<partition>:<service>:<region>:<account>:<prefix><name>`.
pub(super) fn is_arn(arn: &str, service: &str, resource_prefix: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_literal, partition, svc, region, account, resource] = parts[..] else {
        return false;
    };
    arn_literal == "arn"
        && partition.starts_with("aws")
        && svc == service
        && is_region(region)
        && is_account_id(account)
        && resource
            .strip_prefix(resource_prefix)
            .is_some_and(|name| !name.is_empty() && !name.contains(char::is_whitespace))
}

/// Whether an unknown key `a` was probably meant as `b`.
pub(super) fn similar(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a.contains(&b) || b.contains(&a) || strsim::levenshtein(&a, &b) <= 2
}

/// A Fargate size from the config's texts, or what is wrong with it.
pub(super) fn fargate_size(vcpus: &str, memory: &str) -> Result<(Vcpus, u32), String> {
    let Some(size) = Vcpus::parse(vcpus) else {
        return Err(format!(
            "Fargate does not offer {vcpus} vCPU; it offers 0.25, 0.5, 1, 2, 4, 8 and 16"
        ));
    };
    match memory.parse::<u32>() {
        Ok(m) if size.memory_options().contains(&m) => Ok((size, m)),
        Ok(m) => Err(format!("Fargate does not offer {m} MiB with {vcpus} vCPU")),
        Err(_) => Err(format!("memory `{memory}` is not a whole number of MiB")),
    }
}

pub(super) fn fargate_sizes_help(vcpus: &str) -> String {
    match Vcpus::parse(vcpus).map(Vcpus::memory_options) {
        Some(options) => format!(
            "with {vcpus} vCPU: {} to {} MiB in steps of {}",
            options[0],
            options[options.len() - 1],
            options.get(1).map_or(0, |s| s - options[0])
        ),
        None => "vcpus: 0.25, 0.5, 1, 2, 4, 8 or 16".to_string(),
    }
}
