//! The `sjob` CLI as a user runs it: the built binary, pointed at an
//! emulator (or a fault proxy in front of one, or nothing), reading a config
//! file from a scratch directory of its own.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{sjob_binary, Emulator};

/// Longer than any command takes against the emulator (`run --wait`
/// included); a hung `sjob` fails its test instead of stalling the run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Runs `sjob --config <scratch>/sjob.toml ...` with an environment of its
/// own. The scratch directory is removed on drop unless the test is panicking.
pub struct Sjob {
    binary: PathBuf,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

/// How one `sjob` command ended.
#[derive(Debug, Clone)]
pub struct SjobRun {
    pub args: Vec<String>,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Sjob {
    /// Builds `sjob` (once per test process) and makes a scratch directory;
    /// commands talk to `emulator`.
    pub fn new(emulator: &Emulator) -> Sjob {
        Sjob::at(&emulator.endpoint())
    }

    /// Commands talk to `endpoint` (an emulator, or a proxy in front of one)
    /// with the emulator's test credentials.
    pub fn at(endpoint: &str) -> Sjob {
        Sjob::with_settings(Emulator::client_env_for(endpoint))
    }

    /// Commands get no AWS settings at all: no endpoint, no credentials.
    pub fn offline() -> Sjob {
        Sjob::with_settings(Vec::new())
    }

    fn with_settings(settings: Vec<(&'static str, String)>) -> Sjob {
        let mut env: Vec<(String, String)> = settings
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sjob-e2e-cli-{}-{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        // Empty shared config files, no instance metadata: no profile of the
        // machine's user, nothing but the emulator.
        for (variable, file) in [
            ("AWS_CONFIG_FILE", "aws-config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "aws-credentials"),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, "")
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            env.push((variable.to_string(), path.display().to_string()));
        }
        env.extend([
            ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
            ("NO_COLOR".to_string(), "1".to_string()),
        ]);
        Sjob {
            binary: sjob_binary(),
            dir,
            env,
        }
    }

    /// Adds (or overrides) an environment variable of every command.
    pub fn with_env(mut self, name: &str, value: &str) -> Sjob {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Removes an environment variable from every command.
    pub fn without_env(mut self, name: &str) -> Sjob {
        self.env.retain(|(n, _)| n != name);
        self
    }

    /// The scratch directory: the config's directory, and the commands'.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config file every command reads.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("sjob.toml")
    }

    /// (Over)writes the config file.
    pub fn write_config(&self, text: &str) {
        let path = self.config_path();
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// `sjob <args>` as given, ready to run. The AWS and sjob settings of
    /// the test process's environment are not passed on.
    pub fn raw_command(&self, args: &[&str]) -> Command {
        let mut command = self.isolate(Command::new(&self.binary));
        command.args(args);
        command
    }

    /// `bash <script> <args>`, in the scratch directory with the
    /// environment `sjob` commands get, and this `sjob` as `$SJOB`: a
    /// script of the repository that drives `sjob`.
    pub fn script(&self, script: &Path, args: &[&str]) -> Command {
        let mut command = self.isolate(Command::new("bash"));
        command.arg(script).args(args).env("SJOB", &self.binary);
        command
    }

    /// `command` in the scratch directory, with this runner's environment
    /// in place of the test process's AWS and sjob settings.
    fn isolate(&self, mut command: Command) -> Command {
        command
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            if inherited_setting(&name) {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        command
    }

    /// `sjob --config <scratch>/sjob.toml <args>`, ready to run.
    pub fn command(&self, args: &[&str]) -> Command {
        let config = self.config_path().display().to_string();
        let mut full = vec!["--config", config.as_str()];
        full.extend_from_slice(args);
        self.raw_command(&full)
    }

    /// Starts `sjob <args>` in the background, its stderr piped (for
    /// long-running commands such as `local schedule`).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()))
    }

    /// Runs `sjob --config ... <args>` to its end.
    pub async fn run(&self, args: &[&str]) -> SjobRun {
        self.finish(args, self.command(args), COMMAND_TIMEOUT).await
    }

    /// Runs `sjob <args>` (no `--config` added) to its end.
    pub async fn run_raw(&self, args: &[&str]) -> SjobRun {
        self.finish(args, self.raw_command(args), COMMAND_TIMEOUT)
            .await
    }

    /// Runs a command that compiles (`sjob package`), which on a fresh
    /// clone builds the handlers' dependencies for their target while other
    /// tests run, and checks it exited with `code`.
    pub async fn run_build_expecting(&self, code: i32, args: &[&str]) -> SjobRun {
        let run = self.finish(args, self.command(args), BUILD_TIMEOUT).await;
        run.assert_code(code);
        run
    }

    async fn finish(&self, args: &[&str], mut command: Command, limit: Duration) -> SjobRun {
        let output = tokio::time::timeout(limit, command.output())
            .await
            .unwrap_or_else(|_| panic!("sjob {args:?} did not finish within {limit:?}"))
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()));
        SjobRun {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `sjob <args>` and checks it exited with `code`.
    pub async fn run_expecting(&self, code: i32, args: &[&str]) -> SjobRun {
        let run = self.run(args).await;
        run.assert_code(code);
        run
    }
}

/// Variables of the test process that would steer `sjob` away from the
/// emulator or its config (profiles, per-service endpoints, `SJOB_CONFIG`).
fn inherited_setting(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    name.starts_with("AWS_") || name.starts_with("SJOB_")
}

impl Drop for Sjob {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("sjob config directory: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl SjobRun {
    /// Panics, showing the whole run, unless the exit code is `code`.
    pub fn assert_code(&self, code: i32) {
        assert_eq!(self.code, Some(code), "unexpected exit code of {self}");
    }

    /// Stdout as JSON (for `--output json`).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}) in {self}"))
    }

    /// Whether stderr says `text`, however the diagnostics wrapped it: they
    /// break lines at 80 columns when stderr is not a terminal, after spaces,
    /// `-` or `/`, and continue them after a `│` gutter.
    pub fn stderr_says(&self, text: &str) -> bool {
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| !c.is_whitespace() && *c != '│')
                .collect()
        };
        squash(&self.stderr).contains(&squash(text))
    }
}

impl fmt::Display for SjobRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "`sjob {}`: exit code {:?}",
            self.args.join(" "),
            self.code
        )?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}
