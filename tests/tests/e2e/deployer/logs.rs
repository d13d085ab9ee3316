//! A run's container output: `sjob logs` after a run, `--follow` while one
//! runs, and `run --wait --logs`. The harness writes each container's lines
//! to the stream Batch's awslogs driver would (`{batch}/default/{task}` in
//! the job's own group).

use std::time::Duration;

use aws_sdk_batch::types::JobStatus;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde_json::Value;
use sjob_e2e::JobOutcome;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::Live;

/// How long a followed line may take to show.
const FOLLOW_WAIT: Duration = Duration::from_secs(30);

/// The lines of stdout that end with a container's message, in order.
fn messages(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once("] ").map(|(_, m)| m.to_string()))
        .collect()
}

#[tokio::test]
async fn logs_prints_the_runs_container_output_by_attempt() {
    let live = Live::deployed().await;
    let (emulator, sjob) = (&live.fixture.emulator, &live.fixture.sjob);
    emulator
        .set_container_output(JobOutcome::Succeeded, &["crawl started", "3 pages"])
        .await;

    // `run --wait --logs` streams the output on stderr; stdout keeps the
    // result.
    let (first, run) = live.run_crawler(0, &["--logs"]).await;
    assert!(run.stderr.contains("[attempt 1] crawl started"), "{run}");
    assert!(!run.stdout.contains("crawl started"), "{run}");
    let notification = live.notification().await;
    let log_url = notification["batch_job"]["log_url"]
        .as_str()
        .unwrap_or_default();
    assert!(
        log_url.contains(
            "log-group/myapp$252Fdev$252Fbatch$252Fcrawler/log-events/crawler$252Fdefault$252F"
        ),
        "the notification links the job's own log group: {notification:#}"
    );

    let logs = sjob.run_expecting(0, &["logs", "crawler"]).await;
    assert_eq!(
        messages(&logs.stdout),
        ["crawl started", "3 pages"],
        "{logs}"
    );
    assert!(
        logs.stdout.lines().all(|l| l.contains("Z [attempt 1] ")),
        "each line has its time and attempt: {logs}"
    );

    let json = sjob
        .run_expecting(0, &["--output", "json", "logs", "crawler"])
        .await;
    let lines: Vec<Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert_eq!(lines[0]["message"], "crawl started");
    assert_eq!(lines[0]["attempt"], 1);
    assert_eq!(lines[0]["index"], Value::Null);
    assert_eq!(lines[1]["batch_job_id"], lines[0]["batch_job_id"]);
    assert!(lines[0]["timestamp"].as_str().is_some(), "{json}");

    // A failed run: the latest is now its output; `--follow` on an ended
    // run prints it and exits as `run --wait` would.
    emulator
        .set_container_output(JobOutcome::Failed, &["cannot reach the site"])
        .await;
    live.run_crawler(3, &[]).await;
    let latest = sjob.run_expecting(0, &["logs", "crawler"]).await;
    assert_eq!(
        messages(&latest.stdout),
        ["cannot reach the site"],
        "{latest}"
    );
    let followed = sjob
        .run_expecting(3, &["logs", "crawler", "--follow"])
        .await;
    assert_eq!(messages(&followed.stdout), ["cannot reach the site"]);

    // An earlier run by name or ARN; filters that leave nothing.
    let name = first.rsplit(':').next().unwrap();
    for given in [name, first.as_str()] {
        let earlier = sjob
            .run_expecting(0, &["logs", "crawler", "--execution", given])
            .await;
        assert_eq!(messages(&earlier.stdout), ["crawl started", "3 pages"]);
    }
    let second_attempt = sjob
        .run_expecting(0, &["logs", "crawler", "--attempt", "2"])
        .await;
    assert_eq!(second_attempt.stdout, "", "{second_attempt}");
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let since = sjob
        .run_expecting(0, &["logs", "crawler", "--since", &future])
        .await;
    assert_eq!(since.stdout, "", "{since}");
    let recent = sjob
        .run_expecting(0, &["logs", "crawler", "--since", "1h"])
        .await;
    assert_eq!(messages(&recent.stdout), ["cannot reach the site"]);

    // Bad input names the problem.
    let bad = sjob
        .run_expecting(1, &["logs", "crawler", "--since", "yesterday"])
        .await;
    assert!(bad.stderr.contains("RFC 3339"), "{bad}");
    let other = first.replace("crawler", "report");
    let refused = sjob
        .run_expecting(1, &["logs", "crawler", "--execution", &other])
        .await;
    assert!(
        refused.stderr_says("is not an execution of job `crawler`"),
        "{refused}"
    );
}

#[tokio::test]
async fn logs_follow_streams_lines_while_the_job_runs() {
    let live = Live::deployed().await;
    let (emulator, sjob, aws) = (
        &live.fixture.emulator,
        &live.fixture.sjob,
        &live.fixture.aws,
    );
    let empty = sjob.run_expecting(1, &["logs", "crawler"]).await;
    assert!(
        empty.stderr_says("job `crawler` has no executions"),
        "{empty}"
    );
    emulator
        .set_container_output(JobOutcome::Running, &["first"])
        .await;
    sjob.run_expecting(0, &["run", "crawler"]).await;

    let mut follow = sjob.spawn(&["logs", "crawler", "--follow"]);
    let mut stdout = BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(FOLLOW_WAIT, stdout.read_line(&mut line))
        .await
        .expect("the running job's first line shows while it runs")
        .unwrap();
    assert!(line.ends_with("[attempt 1] first\n"), "{line:?}");

    // The container writes more, then the job is stopped: the follow shows
    // the line and ends with the run's failure.
    let running = aws.jobs(&live.queue, JobStatus::Running).await;
    let job_id = running[0].job_id().unwrap().to_string();
    let described = aws
        .batch
        .describe_jobs()
        .jobs(&job_id)
        .send()
        .await
        .unwrap();
    let stream = described.jobs()[0]
        .container()
        .and_then(|c| c.log_stream_name())
        .expect("a running job has its stream")
        .to_string();
    aws.logs
        .put_log_events()
        .log_group_name("myapp/dev/batch/crawler")
        .log_stream_name(&stream)
        .log_events(
            InputLogEvent::builder()
                .timestamp(chrono::Utc::now().timestamp_millis())
                .message("second")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    aws.batch
        .terminate_job()
        .job_id(&job_id)
        .reason("stopped by the test")
        .send()
        .await
        .unwrap();

    let status = tokio::time::timeout(FOLLOW_WAIT, follow.wait())
        .await
        .expect("the follow ends with the run")
        .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(messages(&rest), ["second"], "{rest}");
    assert_eq!(status.code(), Some(3), "the run failed");
}
