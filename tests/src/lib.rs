//! Shared pieces of sjob's end-to-end tests.
//!
//! Every test starts its own [`Emulator`] (moto plus the harness in
//! `tests/harness/emulator.py`), so tests run in parallel without sharing
//! state, and talks to it through [`Aws`] clients made from
//! [`Emulator::sdk_config`]. Nothing here reaches real AWS.

mod alarms;
mod aws;
mod batch;
mod binaries;
mod dynamodb;
mod emulator;
mod fixture;
mod http;
pub mod myapp;
mod proxy;
mod raw;
mod secrets;
mod seed;
mod sjob;
mod terraform;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub use alarms::Alarm;
pub use aws::{policy_document, snapshot_differences, trust_policy, Aws, Delivery, Invocation};
pub use batch::DefaultNetwork;
pub use binaries::{handler_binary, sjob_binary, write_handler_packages, zip_bootstrap};
pub use emulator::{Emulator, JobOutcome, IAM_PROPAGATION_SECONDS, REGION};
pub use fixture::{Fixture, Handlers, HandlersBuilder};
pub use http::HttpSink;
pub use proxy::{Fault, FaultPlan, FaultProxy, Gate, ProxiedCall, DENIED_CALLER};
pub use raw::RawAnswer;
pub use seed::{SeedJob, SEED_POLICIES};
pub use sjob::{Sjob, SjobRun};
pub use terraform::{files_under, Terraform, PROVIDER_MIRROR, TERRAFORM};

/// The Cargo workspace this package belongs to.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
}

/// `cargo`: the one running the tests (`$CARGO`), else the one on `PATH`.
pub fn cargo_command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// A loopback port that nothing listened on a moment ago.
pub fn unused_loopback_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A committed example event of the handlers (`handlers/tests/fixtures`).
pub fn fixture_path(name: &str) -> PathBuf {
    workspace_root()
        .join("handlers/tests/fixtures")
        .join(format!("{name}.json"))
}

pub fn fixture(name: &str) -> Value {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}
