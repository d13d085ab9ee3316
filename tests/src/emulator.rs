//! One running `tests/harness/emulator.py`: moto on a free loopback port,
//! plus the harness endpoints (`/_harness/*`, see tests/harness/README.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::{Credentials, SharedCredentialsProvider};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::http;

/// The region every client and function of the tests uses.
pub const REGION: &str = "eu-west-1";
const ACCESS_KEY_ID: &str = "testing";
const SECRET_ACCESS_KEY: &str = "testing";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const INSTALL_HINT: &str = "pip install -r tests/requirements.txt";

/// Seconds, as IAM can take on AWS to propagate a new role, and longer
/// than `sjob` takes from creating a role to passing it to a service (a
/// handler's zip upload included) on a loaded machine, well within the
/// minute sjob waits: for [`Emulator::set_iam_propagation`].
pub const IAM_PROPAGATION_SECONDS: f64 = 15.0;

/// How Batch jobs submitted to the emulator end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Exit code 0, status SUCCEEDED.
    Succeeded,
    /// Exit code 1, status FAILED.
    Failed,
    /// RUNNING until TerminateJob.
    Running,
    /// As the job's own container command ends, run on this machine (the
    /// image aside): its exit code and its output lines are the job's.
    RunsCommand,
}

/// A running emulator, stopped on drop.
///
/// Its stderr and the output of every Lambda binary it runs are kept in a
/// scratch directory, removed on drop unless the test is panicking (the
/// path is then printed).
pub struct Emulator {
    port: u16,
    /// The emulator runs while this connection to the fork server that
    /// started it is open, so it cannot outlive a test process that dies
    /// without dropping it.
    _connection: UnixStream,
    scratch: PathBuf,
}

/// `tests/harness/emulator.py --fork-server`, one per test process: it
/// loads moto once and forks a fresh emulator per connection, for a few
/// milliseconds of CPU instead of the 2.5 s a new Python process takes
/// (the suite starts over a hundred). It exits when the test process does,
/// as its stdin, held here, closes.
struct ForkServer {
    socket: PathBuf,
    _process: std::process::Child,
}

impl ForkServer {
    /// The process's fork server, started on first use.
    fn get() -> &'static Path {
        static SERVER: OnceLock<Result<ForkServer, String>> = OnceLock::new();
        match SERVER.get_or_init(ForkServer::start) {
            Ok(server) => &server.socket,
            Err(message) => panic!("{message}"),
        }
    }

    fn start() -> Result<ForkServer, String> {
        let socket = std::env::temp_dir().join(format!("sjob-e2e-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let python = std::env::var("SJOB_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let script = crate::workspace_root().join("tests/harness/emulator.py");
        let mut process = std::process::Command::new(&python)
            .arg(&script)
            .arg("--fork-server")
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Read only when it fails to start: once READY it writes
            // nothing more, each emulator writing to its own log.
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {python} (set SJOB_PYTHON to a Python 3 with moto: {INSTALL_HINT}): {e}"))?;
        let stdout = process.stdout.take().expect("stdout is piped");
        let (line, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut ready);
            let _ = line.send(ready);
        });
        let Ok(ready) = ready.recv_timeout(READY_TIMEOUT) else {
            let _ = process.kill();
            return Err(format!(
                "the emulator's fork server printed no READY line within {READY_TIMEOUT:?}"
            ));
        };
        if ready.trim() == "READY fork-server" {
            return Ok(ForkServer {
                socket,
                _process: process,
            });
        }
        let mut log = String::new();
        if let Some(mut stderr) = process.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
        }
        Err(if log.contains("ModuleNotFoundError") {
            format!("moto (or a module the emulator needs) is not installed for {python}: {INSTALL_HINT}\n{log}")
        } else {
            format!("the emulator's fork server exited before it was READY:\n{log}")
        })
    }
}

impl Emulator {
    /// Starts an emulator and waits until it answers. The Python is
    /// `$SJOB_PYTHON`, else `python3`.
    pub async fn start() -> Emulator {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let scratch = std::env::temp_dir().join(format!(
            "sjob-e2e-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&scratch)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", scratch.display()));
        let socket = ForkServer::get();
        let mut connection = UnixStream::connect(socket).await.unwrap_or_else(|e| {
            abandon(
                &scratch,
                format!(
                    "cannot reach the emulator's fork server at {}: {e}",
                    socket.display()
                ),
            )
        });
        let request = json!({
            "log": scratch.join("emulator.log"),
            "lambda_log": scratch.join("lambda.log"),
        });
        connection
            .write_all(format!("{request}\n").as_bytes())
            .await
            .expect("ask the fork server for an emulator");
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            let mut line = String::new();
            BufReader::new(&mut connection)
                .read_line(&mut line)
                .await
                .ok()?;
            line.trim().strip_prefix("READY ")?.parse::<u16>().ok()
        })
        .await;
        let port = match ready {
            Ok(Some(port)) => port,
            not_ready => {
                let log = read_or_empty(&scratch.join("emulator.log"));
                abandon(
                    &scratch,
                    if not_ready.is_err() {
                        format!(
                            "the emulator printed no READY line within {READY_TIMEOUT:?}:\n{log}"
                        )
                    } else {
                        format!("the emulator exited before it was READY:\n{log}")
                    },
                )
            }
        };
        Emulator {
            port,
            _connection: connection,
            scratch,
        }
    }

    /// The loopback port moto and the harness endpoints answer on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for SDK clients and `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration for this emulator, built without reading the
    /// process environment (tests share it across threads).
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                None,
                None,
                "sjob-e2e",
            )))
            .build()
    }

    /// Environment variables that point an AWS SDK in another process (a
    /// Lambda binary, `cargo lambda watch`) at this emulator.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        Emulator::client_env_for(&self.endpoint())
    }

    /// [`Emulator::client_env`] for another endpoint in front of an
    /// emulator (a fault proxy), with the same test credentials.
    pub fn client_env_for(endpoint: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", endpoint.to_string()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
        ]
    }

    /// Makes Lambda Invoke of `function_name` run `binary` under the Lambda
    /// Runtime API, with the function's configured environment.
    pub async fn register_lambda(&self, function_name: &str, binary: &Path) {
        self.harness(
            "POST",
            "/_harness/lambda",
            Some(json!({"function_name": function_name, "command": [binary]})),
        )
        .await;
    }

    /// How Batch jobs submitted from now on end.
    pub async fn set_job_outcome(&self, outcome: JobOutcome) {
        self.set_array_outcome(outcome, &[]).await;
    }

    /// How Batch jobs submitted from now on end, but the children of array
    /// jobs at `failed_indexes`, which fail (and their parent with them).
    pub async fn set_array_outcome(&self, outcome: JobOutcome, failed_indexes: &[u32]) {
        self.set_batch(outcome, failed_indexes, &[]).await;
    }

    /// How Batch jobs submitted from now on end, and the lines each one's
    /// container writes to its log stream when its attempt starts.
    pub async fn set_container_output(&self, outcome: JobOutcome, lines: &[&str]) {
        self.set_batch(outcome, &[], lines).await;
    }

    async fn set_batch(&self, outcome: JobOutcome, failed_indexes: &[u32], lines: &[&str]) {
        let outcome = match outcome {
            JobOutcome::Succeeded => "succeeded",
            JobOutcome::Failed => "failed",
            JobOutcome::Running => "running",
            JobOutcome::RunsCommand => "command",
        };
        self.harness(
            "POST",
            "/_harness/batch",
            Some(json!({
                "outcome": outcome,
                "failed_array_indexes": failed_indexes,
                "container_output": lines,
            })),
        )
        .await;
    }

    /// The next `errors.len()` invocations of `function_name` fail with these
    /// function-error payloads instead of running the binary (one without
    /// `errorType` is a crash: `Lambda.Unknown` to Step Functions).
    pub async fn fail_next_invocations(&self, function_name: &str, errors: Vec<Value>) {
        self.harness(
            "POST",
            "/_harness/lambda/failures",
            Some(json!({ "function_name": function_name, "errors": errors })),
        )
        .await;
    }

    /// Shortens every Step Functions Retry wait to `scale` of AWS's.
    pub async fn scale_retry_waits(&self, scale: f64) {
        self.harness(
            "POST",
            "/_harness/sfn",
            Some(json!({ "retry_wait_scale": scale })),
        )
        .await;
    }

    /// Makes a role younger than `seconds` not yet assumable by Lambda,
    /// Step Functions and Scheduler, as while IAM propagates a new role.
    pub async fn set_iam_propagation(&self, seconds: f64) {
        self.harness(
            "POST",
            "/_harness/iam",
            Some(json!({ "propagation_seconds": seconds })),
        )
        .await;
    }

    /// How many calls of each operation (`CreateStateMachine`) were refused
    /// for a role not yet propagated since [`Emulator::set_iam_propagation`].
    pub async fn iam_refusals(&self) -> BTreeMap<String, u64> {
        let setting = self.harness("GET", "/_harness/iam", None).await;
        serde_json::from_value(setting["refused"].clone())
            .unwrap_or_else(|e| panic!("refused is not a map of counts ({e}): {setting}"))
    }

    /// Every invocation forwarded to a registered binary, oldest first:
    /// `{function_name, request_id, event, response | error}`.
    pub async fn lambda_invocations(&self) -> Vec<Value> {
        match self
            .harness("GET", "/_harness/lambda/invocations", None)
            .await
        {
            Value::Array(invocations) => invocations,
            other => panic!("the invocation log is not a list: {other}"),
        }
    }

    /// What the Lambda binaries wrote (stdout and stderr), each invocation
    /// after a `=== <time> <function> request <id> (<secs>s) ===` line.
    pub fn lambda_log(&self) -> String {
        read_or_empty(&self.scratch.join("lambda.log"))
    }

    async fn harness(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let response = http::send(self.port, method, path, body.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let text = String::from_utf8_lossy(&response.body);
        assert!(
            (200..300).contains(&response.status),
            "{method} {path}: HTTP {}: {text}",
            response.status
        );
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "emulator logs (its stderr, the Lambda binaries' output): {}",
                self.scratch.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

/// Fails a start: the message already holds what the scratch directory had.
fn abandon(scratch: &Path, message: String) -> ! {
    let _ = std::fs::remove_dir_all(scratch);
    panic!("{message}");
}

fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
