//! A deployed job's runs: its executions, started and followed (`sjob
//! run`), summarised with their outcomes (`sjob status`), and their
//! containers' output (`sjob logs`).

pub mod execution;
pub mod output;
