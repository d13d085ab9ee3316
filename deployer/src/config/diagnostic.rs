//! Config problems as miette diagnostics (a snippet with a label per
//! problem) and as plain data for `--output json`.

use std::path::Path;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use super::tree::Span;

/// One thing wrong in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub span: Span,
    /// Dotted key path, e.g. `jobs.crawler.memory`.
    pub key: String,
    pub message: String,
    /// What is allowed instead.
    pub help: Option<String>,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ConfigError {
    #[error("cannot read config {path}: {reason}")]
    #[diagnostic(code(sjob::config::read))]
    Read { path: String, reason: String },
    #[error("{path}: {count} problem(s) in the config")]
    #[diagnostic(code(sjob::config::invalid))]
    Invalid {
        path: String,
        count: usize,
        #[related]
        problems: Vec<ProblemReport>,
        listed: Vec<ProblemRecord>,
    },
}

/// One problem rendered against the file's text.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProblemReport {
    message: String,
    help: Option<String>,
    text: NamedSource<String>,
    span: SourceSpan,
    label: String,
}

impl Diagnostic for ProblemReport {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.text)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            self.span,
        ))))
    }
}

/// A problem as `sjob validate --output json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemRecord {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
    pub help: Option<String>,
}

impl ConfigError {
    pub(super) fn invalid(path: &Path, text: &str, mut problems: Vec<Problem>) -> ConfigError {
        // A `[defaults]` value is checked for each job inheriting it: report it once.
        let mut seen = std::collections::HashSet::new();
        problems.retain(|p| seen.insert((p.span.clone(), p.key.clone(), p.message.clone())));
        problems.sort_by_key(|p| p.span.start);
        let name = path.display().to_string();
        let source = NamedSource::new(&name, text.to_string());
        let listed = records(path, text, &problems);
        ConfigError::Invalid {
            count: problems.len(),
            problems: problems
                .into_iter()
                .map(|p| ProblemReport {
                    label: if p.key.is_empty() {
                        "here".to_string()
                    } else {
                        p.key.clone()
                    },
                    message: if p.key.is_empty() {
                        p.message
                    } else {
                        format!("{}: {}", p.key, p.message)
                    },
                    help: p.help,
                    text: source.clone(),
                    span: SourceSpan::from(p.span.start..p.span.end.max(p.span.start)),
                })
                .collect(),
            listed,
            path: name,
        }
    }

    /// Every problem with file, line and column (1-based).
    pub fn records(&self) -> Vec<ProblemRecord> {
        match self {
            ConfigError::Read { path, reason } => vec![ProblemRecord {
                file: path.clone(),
                line: 0,
                column: 0,
                key: String::new(),
                message: reason.clone(),
                help: None,
            }],
            ConfigError::Invalid { listed, .. } => listed.clone(),
        }
    }
}

/// Each problem with file, line and column, in the order given.
pub(super) fn records(path: &Path, text: &str, problems: &[Problem]) -> Vec<ProblemRecord> {
    let name = path.display().to_string();
    problems
        .iter()
        .map(|p| {
            let (line, column) = line_column(text, p.span.start);
            ProblemRecord {
                file: name.clone(),
                line,
                column,
                key: p.key.clone(),
                message: p.message.clone(),
                help: p.help.clone(),
            }
        })
        .collect()
}

impl std::fmt::Display for ProblemRecord {
    /// `file:line:column: key: message (help)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        match &self.help {
            Some(help) => write!(f, " ({help})"),
            None => Ok(()),
        }
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
