//! Whose a resource is: the identity tags sjob puts on everything it
//! creates, and what a resource's tags say about its owner.

use std::collections::BTreeMap;
use std::fmt;

pub type Tags = BTreeMap<String, String>;

/// The tags that say whose a resource is. sjob changes or deletes a
/// resource only when every one of them matches the stack's own: the same
/// names can belong to two stacks (`a`/`b-c` and `a-b`/`c` both name their
/// job `x` `a-b-c-x-ScheduledJob`), and IAM roles are global, so one app and
/// stage deployed in two regions share role names.
pub const MANAGED_BY_TAG: &str = "sjob:managed-by";
pub const MANAGED_BY_VALUE: &str = "sjob";
pub const APP_TAG: &str = "sjob:app";
pub const STAGE_TAG: &str = "sjob:stage";
pub const REGION_TAG: &str = "sjob:region";
pub const JOB_TAG: &str = "sjob:job";
/// Marks base resources (jobs' resources carry `sjob:job` instead).
pub const PART_TAG: &str = "sjob:part";
pub const PART_VALUE: &str = "base";

/// How many identity tags each resource carries: the four of every stack
/// and the job's or the base's scope.
pub const STACK_TAGS: usize = 5;

const IDENTITY_TAGS: [&str; 6] = [
    MANAGED_BY_TAG,
    APP_TAG,
    STAGE_TAG,
    REGION_TAG,
    JOB_TAG,
    PART_TAG,
];

/// A resource's owner as its identity tags name it: the stack's own when
/// built by [`Identity::job`] or [`Identity::base`], the found one when read
/// off a resource by [`Identity::of`].
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identity(BTreeMap<String, String>);

impl Identity {
    /// One job's resources.
    pub fn job(app: &str, stage: &str, region: &str, job: &str) -> Identity {
        Identity::stack(app, stage, region, (JOB_TAG, job))
    }

    /// The shared base's resources.
    pub fn base(app: &str, stage: &str, region: &str) -> Identity {
        Identity::stack(app, stage, region, (PART_TAG, PART_VALUE))
    }

    fn stack(app: &str, stage: &str, region: &str, scope: (&str, &str)) -> Identity {
        Identity(
            [
                (MANAGED_BY_TAG, MANAGED_BY_VALUE),
                (APP_TAG, app),
                (STAGE_TAG, stage),
                (REGION_TAG, region),
                scope,
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
    }

    /// The identity tags among `tags`.
    pub fn of(tags: &Tags) -> Identity {
        Identity(
            tags.iter()
                .filter(|(k, _)| IDENTITY_TAGS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// The tags that carry it.
    pub fn tags(&self) -> &Tags {
        &self.0
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Whether sjob made the resource at all.
    pub fn is_sjob(&self) -> bool {
        self.get(MANAGED_BY_TAG) == Some(MANAGED_BY_VALUE)
    }

    /// Whether a resource of this identity may become `ours` by tagging it
    /// (`sjob adopt`): it names no other owner, only fewer keys (a
    /// Terraform-built resource has none, an older sjob's lacks the region).
    pub fn adoptable_by(&self, ours: &Identity) -> bool {
        self.0.iter().all(|(k, v)| ours.0.get(k) == Some(v))
    }
}

/// How a conflict names the owner it found.
impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_sjob() {
            return f.write_str("not sjob's (no sjob:managed-by tag)");
        }
        let field = |key: &str| self.get(key).unwrap_or("(none)");
        write!(
            f,
            "app `{}`, stage `{}`, region `{}`",
            field(APP_TAG),
            field(STAGE_TAG),
            field(REGION_TAG)
        )?;
        match (self.get(JOB_TAG), self.get(PART_TAG)) {
            (Some(job), _) => write!(f, ", job `{job}`"),
            (None, Some(part)) => write!(f, ", part `{part}`"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_carries_stack_tags_identity_tags() {
        assert_eq!(Identity::job("a", "s", "r", "j").tags().len(), STACK_TAGS);
        assert_eq!(Identity::base("a", "s", "r").tags().len(), STACK_TAGS);
    }
}
