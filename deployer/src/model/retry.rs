//! Batch's `evaluateOnExit` rules (`retry_on`), and how Batch applies them
//! to a failed attempt, so `sjob local run` retries exactly when Batch would.

/// What a matching rule does with the failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    Retry,
    Exit,
}

impl RetryAction {
    /// Batch's name for it (the API takes either case).
    pub fn batch_name(self) -> &'static str {
        match self {
            RetryAction::Retry => "RETRY",
            RetryAction::Exit => "EXIT",
        }
    }

    pub fn from_batch_name(name: &str) -> Option<RetryAction> {
        match name.to_ascii_uppercase().as_str() {
            "RETRY" => Some(RetryAction::Retry),
            "EXIT" => Some(RetryAction::Exit),
            _ => None,
        }
    }
}

/// One rule: every condition it has must match. Each condition is a Batch
/// glob: the exact text, or a prefix when it ends in `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryRule {
    /// Against the attempt's exit code in decimal.
    pub on_exit_code: Option<String>,
    /// Against the container's `reason` (`CannotPullContainerError: ...`).
    pub on_reason: Option<String>,
    /// Against the attempt's `statusReason`.
    pub on_status_reason: Option<String>,
    pub action: RetryAction,
}

/// What Batch knows of a failed attempt when it applies the rules.
#[derive(Debug, Clone, Copy)]
pub struct FailedAttempt<'a> {
    pub exit_code: Option<i32>,
    pub reason: Option<&'a str>,
    pub status_reason: &'a str,
}

impl RetryRule {
    fn matches(&self, attempt: &FailedAttempt) -> bool {
        let exit_code = attempt.exit_code.map(|c| c.to_string());
        let condition = |pattern: &Option<String>, value: Option<&str>| match pattern {
            None => true,
            Some(pattern) => value.is_some_and(|value| glob_matches(pattern, value)),
        };
        condition(&self.on_exit_code, exit_code.as_deref())
            && condition(&self.on_reason, attempt.reason)
            && condition(&self.on_status_reason, Some(attempt.status_reason))
    }
}

/// Batch's decision for a failed attempt: the action of the first rule that
/// matches; a retry when none does (and when there are no rules).
pub fn decide(rules: &[RetryRule], attempt: &FailedAttempt) -> RetryAction {
    rules
        .iter()
        .find(|rule| rule.matches(attempt))
        .map_or(RetryAction::Retry, |rule| rule.action)
}

fn glob_matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => value == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        exit_code: Option<&str>,
        status_reason: Option<&str>,
        action: RetryAction,
    ) -> RetryRule {
        RetryRule {
            on_exit_code: exit_code.map(str::to_string),
            on_reason: None,
            on_status_reason: status_reason.map(str::to_string),
            action,
        }
    }

    fn exited(code: i32) -> FailedAttempt<'static> {
        FailedAttempt {
            exit_code: Some(code),
            reason: None,
            status_reason: "Essential container in task exited",
        }
    }

    #[test]
    fn the_first_matching_rule_decides_and_no_match_retries() {
        let rules = [
            rule(Some("3"), None, RetryAction::Exit),
            rule(Some("1*"), None, RetryAction::Retry),
            rule(Some("*"), None, RetryAction::Exit),
        ];
        assert_eq!(decide(&rules, &exited(3)), RetryAction::Exit);
        assert_eq!(decide(&rules, &exited(137)), RetryAction::Retry);
        assert_eq!(decide(&rules, &exited(2)), RetryAction::Exit);
        assert_eq!(decide(&rules[..1], &exited(2)), RetryAction::Retry);
        assert_eq!(decide(&[], &exited(2)), RetryAction::Retry);
    }

    #[test]
    fn every_condition_of_a_rule_must_match() {
        let rules = [rule(Some("137"), Some("Job attempt*"), RetryAction::Exit)];
        assert_eq!(decide(&rules, &exited(137)), RetryAction::Retry);
        let timed_out = FailedAttempt {
            status_reason: "Job attempt duration exceeded timeout",
            ..exited(137)
        };
        assert_eq!(decide(&rules, &timed_out), RetryAction::Exit);
        // No exit code (the container never started): an exit-code rule
        // cannot match.
        let unstarted = FailedAttempt {
            exit_code: None,
            reason: Some("CannotPullContainerError: not found"),
            status_reason: "Task failed to start",
        };
        assert_eq!(decide(&rules, &unstarted), RetryAction::Retry);
        let pull = RetryRule {
            on_exit_code: None,
            on_reason: Some("CannotPullContainerError*".to_string()),
            on_status_reason: None,
            action: RetryAction::Exit,
        };
        assert_eq!(decide(&[pull], &unstarted), RetryAction::Exit);
    }
}
