//! sjob's end-to-end tests, one module per area, in one test binary: the
//! AWS SDK is linked once, and the areas' tests share its threads instead of
//! running binary after binary. Each module's doc says what it covers.
//!
//! `cargo test -p sjob-e2e --test e2e <area>::` runs one area.

mod acceptance;
mod adopt;
mod bad_input;
mod base;
mod cargo_lambda;
mod conformance;
mod conventions;
mod deployer;
mod faults;
mod handlers;
mod least_privilege;
mod local;
mod references;
mod terraform;
