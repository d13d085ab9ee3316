//! The single source of what gets deployed: the state machine definition
//! and the IAM policy documents (the names are in [`crate::names`]).
//! `render`, `plan`, `deploy` and the Terraform modules (through
//! `sjob render`) all read them from here.

pub mod base;
pub mod definition;
pub mod iam;
pub mod job;
