//! The local loop: `cargo lambda watch` serves the handlers (compiling them
//! itself) and `cargo lambda invoke` sends one an event; the handler
//! publishes to the emulator's SNS like the deployed Lambda would.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sjob_e2e::{
    cargo_command, fixture_path, unused_loopback_port, workspace_root, Aws, Delivery, Emulator,
    Sjob,
};

/// `cargo lambda watch` answers at once but builds the function on the
/// first invocation: a cold build of the handlers takes minutes on 2 cores.
const FIRST_INVOKE_TIMEOUT: Duration = Duration::from_secs(600);
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `cargo lambda watch`; on drop its whole process group (cargo
/// lambda, the `cargo run` it starts, the function) is killed.
struct Watch {
    process: Child,
    port: u16,
    log: PathBuf,
}

impl Watch {
    /// Serves the workspace's functions on 127.0.0.1:`port`, each with `env`.
    fn start(port: u16, env: &[(&str, String)]) -> Watch {
        let log = std::env::temp_dir().join(format!(
            "sjob-e2e-cargo-lambda-watch-{}.log",
            std::process::id()
        ));
        let output = std::fs::File::create(&log).expect("create the watch log");
        let mut command = cargo_command();
        command
            .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()])
            // Files edited while the test runs must not restart the function.
            .arg("--ignore-changes");
        for (key, value) in env {
            command.args(["--env-var", &format!("{key}={value}")]);
        }
        let process = command
            .process_group(0)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("share the watch log"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run cargo lambda watch: {e}"));
        Watch { process, port, log }
    }

    /// Waits until the invoke endpoint accepts connections.
    async fn wait_until_listening(&mut self) {
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!("cargo lambda watch exited ({status}):\n{}", self.output());
            }
            assert!(
                started.elapsed() < LISTEN_TIMEOUT,
                "cargo lambda watch did not listen on port {} within {LISTEN_TIMEOUT:?}:\n{}",
                self.port,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `cargo lambda invoke <function> --data-file <event>` against it.
    async fn invoke(&self, function: &str, event: PathBuf) -> Output {
        let mut command = tokio::process::Command::from(cargo_command());
        command
            .args(["lambda", "invoke", function])
            // Long options: in cargo-lambda 1.9.2 `invoke -A` is both
            // --invoke-address and --data-ascii.
            .args(["--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.port.to_string()])
            .arg("--data-file")
            .arg(event)
            .current_dir(workspace_root())
            .kill_on_drop(true);
        tokio::time::timeout(FIRST_INVOKE_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "cargo lambda invoke gave no answer within {FIRST_INVOKE_TIMEOUT:?}; watch said:\n{}",
                    self.output()
                )
            })
            .expect("run cargo lambda invoke")
    }

    /// What `cargo lambda watch` (and cargo, and the function) printed.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this test created
        // (process_group(0) made the child its leader).
        unsafe { libc::kill(-(self.process.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.process.wait();
        if std::thread::panicking() {
            eprintln!("cargo lambda watch output:\n{}", self.output());
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn require_cargo_lambda() {
    let installed = cargo_command()
        .args(["lambda", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        installed,
        "`cargo lambda` is not installed: pip install -r tests/requirements.txt"
    );
}

#[tokio::test]
async fn cargo_lambda_watch_runs_the_success_handler_against_the_emulator() {
    require_cargo_lambda();
    let emulator = Emulator::start().await;
    let aws = Aws::new(&emulator.sdk_config());
    let topic_arn = aws.create_topic("job-notifications").await;
    let queue = aws
        .subscribe_queue(&topic_arn, "raw-subscriber", Delivery::Raw)
        .await;
    let mut env = emulator.client_env();
    env.push(("SNS_TOPIC_ARN", topic_arn));
    let mut watch = Watch::start(unused_loopback_port(), &env);
    watch.wait_until_listening().await;

    let output = watch
        .invoke("success-handler", fixture_path("success"))
        .await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo lambda invoke failed:\n{stdout}\n{}\nwatch said:\n{}",
        String::from_utf8_lossy(&output.stderr),
        watch.output()
    );
    let response: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the response is not JSON ({e}): {stdout}"));
    assert_eq!(response["status"], "SUCCEEDED");
    assert!(
        response["message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{response}"
    );
    let messages = aws.take_messages(&queue, Duration::from_secs(2)).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let document: Value = serde_json::from_str(messages[0].body().unwrap_or_default()).unwrap();
    assert_eq!(document["notification_id"], response["notification_id"]);
    assert_eq!(document["status"], "SUCCEEDED");

    // `sjob local run --lambda-endpoint`: a real local run whose event goes
    // to the handlers `cargo lambda watch` serves, success and failure.
    let endpoint = format!("http://127.0.0.1:{}", watch.port);
    let project = Sjob::offline();
    project.write_config(LOCAL_PROJECT);
    for (job, code, handler, status) in [
        ("fine", 0, "success-handler", "SUCCEEDED"),
        ("broken", 4, "error-handler", "FAILED"),
    ] {
        let run = project
            .run_expecting(
                code,
                &[
                    "--output",
                    "json",
                    "local",
                    "run",
                    job,
                    "--lambda-endpoint",
                    &endpoint,
                ],
            )
            .await;
        let report = run.json();
        assert_eq!(report["handler"], handler, "{run}");
        assert_eq!(report["handler_response"]["status"], status, "{run}");
        let messages = aws.take_messages(&queue, Duration::from_secs(2)).await;
        assert_eq!(messages.len(), 1, "{messages:#?}");
        let document: Value = serde_json::from_str(messages[0].body().unwrap_or_default()).unwrap();
        assert_eq!(document["batch_name"], job);
        assert_eq!(
            document["notification_id"],
            report["handler_response"]["notification_id"]
        );
        assert_eq!(document["execution"]["arn"], report["execution_arn"]);
    }
}

const LOCAL_PROJECT: &str = r#"
app_name = "demo"
stage = "local"
[defaults]
batch_job_queue_arn = "arn:aws:batch:eu-west-1:123456789012:job-queue/demo-local-Batch"
success_handler_arn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-local-BatchSuccessHandler"
error_handler_arn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-local-BatchErrorHandler"
image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo"
schedule_expression = "rate(1 hour)"
[jobs.fine]
command = ["true"]
[jobs.broken]
command = ["sh", "-c", "exit 4"]
"#;
