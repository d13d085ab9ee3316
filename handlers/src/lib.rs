//! sjob's notification handlers.
//!
//! Step Functions invokes the success and error handler Lambdas with
//! `{"state": ..., "context": ...}`. This library turns that payload into one
//! notification document ([`notification`]), renders it for SNS ([`message`])
//! and publishes it ([`publish`]). Everything except the publisher and the
//! optional Batch enrichment is pure, so the local runner (`sjob local`) and
//! the tests call [`handler::handle`] directly, without the Lambda runtime.

pub mod alarm;
pub mod enrich;
pub mod event;
pub mod handler;
pub mod http;
mod json_prefix;
pub mod links;
pub mod logging;
pub mod message;
pub mod notification;
pub mod outcome;
pub mod partition;
pub mod publish;
pub mod redact;
pub mod runtime;
pub mod sdk;
pub mod settings;

pub use handler::{handle, HandlerError, HandlerKind, HandlerResponse};
