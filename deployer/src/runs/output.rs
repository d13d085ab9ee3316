//! A run's container output: the log streams of its Batch job's attempts
//! (of every child, for an array job), read in order, and read again for
//! what is new while the run goes on (`sjob logs`, `sjob run --wait
//! --logs`).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use handlers::event::DEFAULT_BATCH_LOG_GROUP;

use crate::aws::batch::BatchJob;
use crate::aws::{self, AwsError};
use crate::session::Session;

/// One line a container wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub timestamp: DateTime<Utc>,
    pub batch_job_id: String,
    /// The child's index, for an array job.
    pub index: Option<u32>,
    /// From 1.
    pub attempt: usize,
    pub message: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true);
        match self.index {
            Some(index) => write!(f, "{at} [{index}, attempt {}] ", self.attempt)?,
            None => write!(f, "{at} [attempt {}] ", self.attempt)?,
        }
        f.write_str(self.message.trim_end_matches(['\r', '\n']))
    }
}

/// Where read lines go: stdout for `sjob logs`, stderr for `sjob run`.
pub type Sink<'a> = &'a mut dyn FnMut(&LogLine);

/// Which lines to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection {
    /// Only this attempt's (from 1).
    pub attempt: Option<usize>,
    /// Only lines written from then on.
    pub since: Option<DateTime<Utc>>,
}

/// One attempt's stream, and how far it has been read.
#[derive(Debug)]
struct Source {
    /// The place of its job among those the execution submitted.
    order: usize,
    batch_job_id: String,
    index: Option<u32>,
    attempt: usize,
    group: String,
    stream: String,
    token: Option<String>,
    /// The attempt has ended: one more read takes what it wrote.
    ended: bool,
    /// Read after it ended: nothing more will come.
    drained: bool,
}

/// The streams of a run's Batch jobs, each read from where the last read
/// stopped.
#[derive(Debug)]
pub struct Reader {
    selection: Selection,
    sources: Vec<Source>,
}

impl Reader {
    pub fn new(selection: Selection) -> Reader {
        Reader {
            selection,
            sources: Vec::new(),
        }
    }

    /// Takes in the streams `jobs` (as DescribeJobs gave them) show that
    /// are not yet read: finished attempts and the running one. An array
    /// job's parent runs nothing: its children are read instead.
    pub async fn track(&mut self, session: &Session, jobs: &[BatchJob]) -> Result<(), AwsError> {
        let mut details = Vec::new();
        for (order, job) in jobs.iter().enumerate() {
            match job.array_size.filter(|_| job.array_index.is_none()) {
                Some(size) => {
                    let children: Vec<String> =
                        (0..size).map(|i| format!("{}:{i}", job.id)).collect();
                    let described =
                        aws::batch::describe_jobs(&session.clients.batch, &children).await?;
                    details.extend(described.into_iter().map(|child| (order, child)));
                }
                None => details.push((order, job.clone())),
            }
        }
        for (order, job) in &details {
            let id = job.id.as_str();
            for (attempt, stream) in streams(job) {
                let ended = job.attempts.get(attempt - 1).is_some_and(|a| a.ended);
                if let Some(known) = self
                    .sources
                    .iter_mut()
                    .find(|s| s.batch_job_id == id && s.attempt == attempt)
                {
                    known.ended = ended;
                    continue;
                }
                if self.selection.attempt.is_some_and(|a| a != attempt) {
                    continue;
                }
                self.sources.push(Source {
                    order: *order,
                    batch_job_id: id.to_string(),
                    index: job.array_index.and_then(|i| u32::try_from(i).ok()),
                    attempt,
                    group: log_group(job),
                    stream,
                    token: None,
                    ended,
                    drained: false,
                });
            }
        }
        self.sources.sort_by_key(|s| (s.order, s.index, s.attempt));
        Ok(())
    }

    /// Hands `sink` every line written since the last read, stream by
    /// stream in order of child and attempt.
    pub async fn read(&mut self, session: &Session, sink: Sink<'_>) -> Result<(), AwsError> {
        let since = self.selection.since.map(|t| t.timestamp_millis());
        for source in self.sources.iter_mut().filter(|s| !s.drained) {
            source.drained = source.ended;
            let (events, token) = aws::logs::events(
                &session.clients.logs,
                &source.group,
                &source.stream,
                since,
                source.token.take(),
            )
            .await?;
            source.token = token;
            for event in events {
                sink(&LogLine {
                    timestamp: DateTime::from_timestamp_millis(event.timestamp).unwrap_or_default(),
                    batch_job_id: source.batch_job_id.clone(),
                    index: source.index,
                    attempt: source.attempt,
                    message: event.message,
                });
            }
        }
        Ok(())
    }
}

/// The job's streams by attempt number: each ended attempt's, then the
/// running attempt's (not yet among `attempts`).
fn streams(job: &BatchJob) -> Vec<(usize, String)> {
    let mut streams: Vec<(usize, String)> = job
        .attempts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| Some((i + 1, a.stream.clone()?)))
        .collect();
    let current = job.stream.clone();
    if let Some(stream) =
        current.filter(|s| job.is_running() && !streams.iter().any(|(_, o)| o == s))
    {
        streams.push((job.attempts.len() + 1, stream));
    }
    streams
}

/// The job's `awslogs-group`, or Batch's default group.
fn log_group(job: &BatchJob) -> String {
    job.log_group
        .clone()
        .unwrap_or_else(|| DEFAULT_BATCH_LOG_GROUP.to_string())
}

#[cfg(test)]
mod tests {
    use crate::aws::batch::Attempt;

    use super::*;

    fn attempt(stream: &str) -> Attempt {
        Attempt {
            stream: Some(stream.to_string()),
            ended: true,
        }
    }

    #[test]
    fn a_running_attempt_follows_the_ended_ones() {
        let job = BatchJob {
            id: "j".to_string(),
            status: Some("RUNNING".to_string()),
            attempts: vec![attempt("p/default/a")],
            stream: Some("p/default/b".to_string()),
            ..BatchJob::default()
        };
        assert_eq!(
            streams(&job),
            [
                (1, "p/default/a".to_string()),
                (2, "p/default/b".to_string())
            ]
        );
        // Once it ends, the job's own stream is its last attempt's.
        let ended = BatchJob {
            status: Some("FAILED".to_string()),
            attempts: vec![attempt("p/default/a"), attempt("p/default/b")],
            ..job
        };
        assert_eq!(streams(&ended).len(), 2);
    }

    #[test]
    fn the_group_is_the_definitions_or_batchs_default() {
        let configured = BatchJob {
            log_group: Some("a/dev/batch/x".to_string()),
            ..BatchJob::default()
        };
        assert_eq!(log_group(&configured), "a/dev/batch/x");
        assert_eq!(log_group(&BatchJob::default()), DEFAULT_BATCH_LOG_GROUP);
    }

    #[test]
    fn a_line_names_its_child_and_attempt() {
        let line = LogLine {
            timestamp: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            batch_job_id: "j:2".to_string(),
            index: Some(2),
            attempt: 1,
            message: "done\n".to_string(),
        };
        assert_eq!(
            line.to_string(),
            "2023-11-14T22:13:20.123Z [2, attempt 1] done"
        );
    }
}
