//! Which stack a command is about: one app and stage in one account and
//! region. Built once when a session opens, it is the one place a job's
//! names, identity and ARNs come from.

use crate::model::Identity;
use crate::names::JobNames;
use crate::target::Target;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRef {
    pub app_name: String,
    pub stage: String,
    pub target: Target,
}

impl StackRef {
    /// Every resource name of the job `batch_name`.
    pub fn job_names(&self, batch_name: &str) -> JobNames {
        JobNames::new(&self.app_name, &self.stage, batch_name)
    }

    /// The identity tags the job `batch_name`'s resources carry.
    pub fn job_identity(&self, batch_name: &str) -> Identity {
        Identity::job(&self.app_name, &self.stage, &self.target.region, batch_name)
    }

    /// The prefix of every job's resource names.
    pub fn job_prefix(&self) -> String {
        JobNames::job_prefix(&self.app_name, &self.stage)
    }

    /// The prefixes of the jobs' log groups, as [`JobNames::log_group_prefixes`].
    pub fn log_group_prefixes(&self) -> [String; 3] {
        JobNames::log_group_prefixes(&self.app_name, &self.stage)
    }

    /// The batch name back from a state machine or role name, if it is one
    /// of this stack's.
    pub fn batch_name_of(&self, resource_name: &str) -> Option<String> {
        JobNames::batch_name_of(&self.app_name, &self.stage, resource_name)
    }
}
