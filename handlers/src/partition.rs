//! AWS partitions: the first field of every ARN, the host of the console and
//! the DNS suffix of service endpoints. Every ARN, principal and console link
//! sjob writes (the deployer's stacks, the handlers' links) takes them from
//! here, so a stack in `cn-north-1` or `us-gov-west-1` names nothing of the
//! `aws` partition.

use std::fmt;

/// One AWS partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Aws,
    China,
    GovCloud,
}

impl Partition {
    pub const ALL: [Partition; 3] = [Partition::Aws, Partition::China, Partition::GovCloud];

    /// The partition a region belongs to.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::China
        } else if region.starts_with("us-gov-") {
            Partition::GovCloud
        } else {
            Partition::Aws
        }
    }

    /// The partition an ARN names, if it is an ARN of a known partition.
    pub fn of_arn(arn: &str) -> Option<Partition> {
        let id = arn.strip_prefix("arn:")?.split(':').next()?;
        Partition::ALL.into_iter().find(|p| p.id() == id)
    }

    /// `aws`, `aws-cn` or `aws-us-gov`: the ARN field.
    pub fn id(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::China => "aws-cn",
            Partition::GovCloud => "aws-us-gov",
        }
    }

    /// The console's host; a region's console is `{region}.{host}`.
    pub fn console_host(self) -> &'static str {
        match self {
            Partition::Aws => "console.aws.amazon.com",
            Partition::China => "console.amazonaws.cn",
            Partition::GovCloud => "console.amazonaws-us-gov.com",
        }
    }

    /// The DNS suffix of regional service endpoints, which `kms:ViaService`
    /// values end in (`secretsmanager.cn-north-1.amazonaws.com.cn`).
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::China => "amazonaws.com.cn",
            Partition::Aws | Partition::GovCloud => "amazonaws.com",
        }
    }

    /// A service's principal in trust and resource policies. AWS documents
    /// the global form `{service}.amazonaws.com` for every service sjob
    /// trusts, in all three partitions (the China regions' old
    /// `.amazonaws.com.cn` principals are aliases of it); the partition is a
    /// parameter so that no caller spells a principal itself.
    pub fn service_principal(self, service: &str) -> String {
        format!("{service}.amazonaws.com")
    }

    /// `arn:{partition}:states:::{resource}`: a Step Functions service
    /// integration (`lambda:invoke`, `batch:submitJob.sync`, ...).
    pub fn integration(self, resource: &str) -> String {
        format!("arn:{}:states:::{resource}", self.id())
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_arns_name_their_partition() {
        assert_eq!(Partition::of_region("cn-northwest-1"), Partition::China);
        assert_eq!(Partition::of_region("us-gov-east-1"), Partition::GovCloud);
        assert_eq!(Partition::of_region("us-east-1"), Partition::Aws);
        assert_eq!(
            Partition::of_arn("arn:aws-us-gov:states:us-gov-west-1:1:execution:m:e"),
            Some(Partition::GovCloud)
        );
        assert_eq!(Partition::of_arn("arn:aws-iso:s3:::b"), None);
        assert_eq!(Partition::of_arn("not-an-arn"), None);
        assert_eq!(
            Partition::China.integration("lambda:invoke"),
            "arn:aws-cn:states:::lambda:invoke"
        );
    }
}
