//! Desired versus actual: read what exists for each job, compare it with the
//! rendered stack, and list the changes. Pure after the reads; `plan` never
//! writes, `deploy` hands the plan to `apply`.

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
