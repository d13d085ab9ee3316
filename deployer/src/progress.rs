//! Progress on stderr while `run --wait`, `deploy` and `destroy` work: a
//! spinner or a bar when stderr is a terminal, plain log lines otherwise, so
//! CI logs stay line by line. Stdout carries results only, either way.
//! Colour follows the CLI's choice for stderr (`NO_COLOR`, `CLICOLOR_FORCE`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a spinner turns.
const TICK: Duration = Duration::from_millis(120);

/// A spinner (one thing through its states) or a bar (jobs done of all);
/// without a terminal, each step is a log line instead.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A spinner for one thing that moves through states; `color` as the
    /// CLI decides for stderr.
    pub fn spinner(what: &str, color: bool) -> Progress {
        Progress(interactive().then(|| {
            let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            spinner.set_style(style(SPINNER, color));
            spinner.set_prefix(what.to_string());
            spinner.enable_steady_tick(TICK);
            spinner
        }))
    }

    /// A bar over `total` jobs.
    pub fn jobs(what: &str, total: usize, color: bool) -> Progress {
        Progress((interactive() && total > 0).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(style(BAR, color));
            bar.set_prefix(what.to_string());
            bar
        }))
    }

    /// A new state: the spinner's message, or a log line.
    pub fn state(&self, message: &str) {
        match &self.0 {
            Some(bar) => bar.set_message(message.to_string()),
            None => tracing::info!("{message}"),
        }
    }

    /// A line on stderr, above the spinner or bar.
    pub fn println(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// One more job done (its own log line says so without a terminal).
    pub fn job_done(&self, job: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(job.to_string());
            bar.inc(1);
        }
    }

    /// Clears the spinner or bar; what it showed is in the result.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Whether stderr is a terminal that can redraw a line.
fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

const SPINNER: (&str, &str) = (
    "{spinner} {prefix} {wide_msg}",
    "{spinner:.cyan} {prefix:.bold} {wide_msg}",
);
const BAR: (&str, &str) = (
    "{prefix} [{bar:30}] {pos}/{len} jobs {wide_msg}",
    "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} jobs {wide_msg}",
);

/// The coloured template or the plain one.
fn style((plain, coloured): (&str, &str), color: bool) -> ProgressStyle {
    let template = if color { coloured } else { plain };
    ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_valid() {
        for template in [SPINNER.0, SPINNER.1, BAR.0, BAR.1] {
            ProgressStyle::with_template(template).unwrap();
        }
    }
}
