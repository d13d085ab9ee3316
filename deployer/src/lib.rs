//! The sjob engine: config, rendering, planning and applying a scheduled-job
//! stack, and running its executions. `main.rs` is a thin CLI over it.

pub mod apply;
pub mod aws;
pub mod config;
pub mod duration;
pub mod input;
pub mod kms;
pub mod local;
pub mod model;
pub mod names;
pub mod package;
pub mod plan;
pub mod progress;
pub(crate) mod references;
pub mod render;
pub mod runs;
pub mod schedule;
pub(crate) mod secret;
pub mod session;
pub mod stack;
pub mod target;
pub mod terraform;
