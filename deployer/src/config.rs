//! Reading `sjob.toml`: parse with spans, validate everything at once, and
//! hand back either a [`Config`] or every problem with its place.

mod diagnostic;
pub mod keys;
mod model;
mod tree;
mod validate;

pub use diagnostic::{ConfigError, Problem, ProblemRecord};
pub use model::*;

use std::path::Path;

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
