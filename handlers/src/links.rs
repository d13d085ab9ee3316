//! AWS console deep links. The fragment formats are undocumented but stable
//! and widely used; see the README's notification reference.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::partition::Partition;

/// `encodeURIComponent`'s unreserved set.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The region of an ARN (`arn:partition:service:region:...`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

pub fn execution_url(execution_arn: &str) -> Option<String> {
    let region = arn_region(execution_arn)?;
    Some(execution_url_in(region, execution_arn))
}

/// The console page of an execution in `region`.
pub fn execution_url_in(region: &str, execution_arn: &str) -> String {
    format!(
        "{}/states/home?region={region}#/v2/executions/details/{execution_arn}",
        console(region)
    )
}

/// `https://{region}.{console host of the region's partition}`.
fn console(region: &str) -> String {
    format!(
        "https://{region}.{}",
        Partition::of_region(region).console_host()
    )
}

/// CloudWatch's logsV2 fragment double-encodes: `encodeURIComponent`, then
/// every `%` becomes `$25`.
pub fn log_stream_url(region: &str, group: &str, stream: &str) -> String {
    let encode = |s: &str| {
        utf8_percent_encode(s, URI_COMPONENT)
            .to_string()
            .replace('%', "$25")
    };
    format!(
        "{}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        console(region),
        encode(group),
        encode(stream)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_url_double_encodes_slashes() {
        assert_eq!(
            log_stream_url("ap-northeast-1", "/aws/batch/job", "a/default/b"),
            "https://ap-northeast-1.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-1#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Fjob/log-events/a$252Fdefault$252Fb"
        );
    }

    #[test]
    fn execution_url_needs_a_region() {
        assert_eq!(execution_url("not-an-arn"), None);
        assert!(execution_url("arn:aws:states:eu-west-1:1:execution:m:e")
            .unwrap()
            .starts_with("https://eu-west-1.console"));
    }

    #[test]
    fn links_follow_the_partition() {
        assert_eq!(
            execution_url("arn:aws-cn:states:cn-north-1:1:execution:m:e").unwrap(),
            "https://cn-north-1.console.amazonaws.cn/states/home?region=cn-north-1#/v2/executions/details/arn:aws-cn:states:cn-north-1:1:execution:m:e"
        );
        assert!(log_stream_url("us-gov-west-1", "g", "s")
            .starts_with("https://us-gov-west-1.console.amazonaws-us-gov.com/cloudwatch/"));
    }
}
