//! Reading `sjob.toml`: parse with spans, validate everything at once, and
//! hand back either a [`Config`] or every problem with its place.
//!
//! The validated input is [`Config`]: its jobs ([`job`]) and its shared base
//! ([`base`]), built only by [`load`], so nothing downstream re-checks it.

mod base;
mod diagnostic;
mod file;
mod job;
pub mod keys;
mod tree;
mod validate;

pub use base::*;
pub use diagnostic::{ConfigError, Problem, ProblemRecord};
pub use file::{Config, UnknownJob, TOP_KEYS};
pub use job::*;

use std::path::Path;

use serde_json::Value;

/// The JSON Schema of `sjob.toml`.
pub fn json_schema() -> Value {
    keys::json_schema(TOP_KEYS)
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        reason: source.to_string(),
    })?;
    parse(path, &text)
}

/// Validates config text; `path` names it in diagnostics.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let problems = match tree::parse(text) {
        Err(syntax) => vec![Problem {
            span: syntax.span,
            key: String::new(),
            message: format!("invalid TOML: {}", syntax.message.trim()),
            help: None,
        }],
        Ok(root) => match validate::validate(path, &root) {
            Ok((mut config, warnings)) => {
                config.warnings = diagnostic::records(path, text, &warnings);
                return Ok(config);
            }
            Err(problems) => problems,
        },
    };
    Err(ConfigError::invalid(path, text, problems))
}
