//! Desired versus actual: read what exists for each job and the base, and
//! decide a typed [`Step`] for each resource (desired spec, observed
//! resource, action). Pure after the reads; `plan` never writes, `deploy`
//! hands the plan to `apply`, which carries the steps out. [`Change`]s are
//! only the report's view of the steps.

pub mod base;
pub mod build;
pub mod inventory;
pub mod jobs;
mod stack_plan;
mod step;

pub use build::PlanError;
pub use inventory::{ActualJob, Inventory};
pub use jobs::{JobPlan, JobSteps};
pub use stack_plan::Plan;
pub use step::{
    Action, Change, Context, Converge, Reading, Removals, Resource, ResourceKind, Step,
    EXTRA_REVISIONS, JOB_CONCURRENCY,
};
