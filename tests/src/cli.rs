//! `sjob` pointed at any endpoint (a [`crate::FaultProxy`], an emulator, or
//! nothing), with extra environment such as `SJOB_LOG`, and startable in the
//! background so a test can kill it mid-way. [`crate::Sjob`] covers the
//! common case of one emulator.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{sjob_binary, SjobRun, REGION};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `sjob --config <scratch>/sjob.toml ...` with its own environment.
/// The scratch directory is removed on drop unless the test is panicking.
pub struct SjobCli {
    binary: PathBuf,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl SjobCli {
    /// `sjob` talking to `endpoint` with the emulator's test credentials.
    pub fn at(endpoint: &str) -> SjobCli {
        let mut cli = SjobCli::offline();
        cli.env.extend(
            [
                ("AWS_ENDPOINT_URL", endpoint),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_REGION", REGION),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        cli
    }

    /// `sjob` with no AWS settings at all: no endpoint, no credentials.
    pub fn offline() -> SjobCli {
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sjob-e2e-cli2-{}-{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let mut env = Vec::new();
        for (variable, file) in [
            ("AWS_CONFIG_FILE", "aws-config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "aws-credentials"),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, "")
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            env.push((variable.to_string(), path.display().to_string()));
        }
        env.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
        env.push(("NO_COLOR".into(), "1".into()));
        SjobCli {
            binary: sjob_binary(),
            dir,
            env,
        }
    }

    /// Adds (or overrides) an environment variable of every command.
    pub fn with_env(mut self, name: &str, value: &str) -> SjobCli {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("sjob.toml")
    }

    pub fn write_config(&self, text: &str) {
        let path = self.config_path();
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// `sjob <args>` (no `--config` added: `args` are passed as they are).
    pub fn raw_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("AWS_") || name.starts_with("SJOB_") {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// `sjob --config <scratch>/sjob.toml <args>`.
    pub fn command(&self, args: &[&str]) -> Command {
        let config = self.config_path().display().to_string();
        let mut full = vec!["--config", config.as_str()];
        full.extend_from_slice(args);
        self.raw_command(&full)
    }

    /// Starts `sjob --config ... <args>` in the background, output piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()))
    }

    /// Runs `sjob --config ... <args>` to its end.
    pub async fn run(&self, args: &[&str]) -> SjobRun {
        self.finish(args, self.command(args)).await
    }

    /// Runs `sjob <args>` (no `--config` added) to its end.
    pub async fn run_raw(&self, args: &[&str]) -> SjobRun {
        self.finish(args, self.raw_command(args)).await
    }

    pub async fn run_expecting(&self, code: i32, args: &[&str]) -> SjobRun {
        let run = self.run(args).await;
        run.assert_code(code);
        run
    }

    async fn finish(&self, args: &[&str], mut command: Command) -> SjobRun {
        let output = tokio::time::timeout(COMMAND_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("sjob {args:?} did not finish within {COMMAND_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()));
        SjobRun {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Drop for SjobCli {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("sjob config directory: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
