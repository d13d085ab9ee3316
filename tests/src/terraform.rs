//! Terraform as a user runs it on `infra/terraform`: a scratch copy of that
//! tree, the AWS provider from the local filesystem mirror only, and
//! optionally the AWS settings of one emulator.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{workspace_root, Emulator, SjobRun};

/// Where CI (and this repository's machines) have Terraform 1.11.
pub const TERRAFORM: &str = "/usr/local/bin/terraform";
/// The filesystem mirror holding hashicorp/aws 5.100.0.
pub const PROVIDER_MIRROR: &str = "/opt/tf-plugins";

/// A scratch copy of `infra/terraform`, removed on drop unless the test is
/// panicking.
pub struct Terraform {
    root: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Terraform {
    /// Terraform that reaches no AWS (fmt, validate).
    pub fn offline() -> Terraform {
        Terraform::with_env(Vec::new())
    }

    /// Terraform whose AWS provider talks to `emulator` (`AWS_ENDPOINT_URL`).
    pub fn for_emulator(emulator: &Emulator) -> Terraform {
        Terraform::with_env(emulator.client_env())
    }

    fn with_env(mut env: Vec<(&'static str, String)>) -> Terraform {
        assert!(
            Path::new(TERRAFORM).is_file(),
            "Terraform is not installed at {TERRAFORM}; these tests need Terraform 1.11 there \
             and the hashicorp/aws provider in the filesystem mirror {PROVIDER_MIRROR} (CI has both)"
        );
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "sjob-e2e-terraform-{}-{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        ));
        copy_tree(
            &workspace_root().join("infra/terraform"),
            &root.join("terraform"),
        );
        let cli_config = root.join("terraform.rc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = \"{PROVIDER_MIRROR}\"\n  }}\n}}\n"
            ),
        )
        .expect("write the Terraform CLI config");
        for (variable, file) in [
            ("AWS_CONFIG_FILE", "aws-config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "aws-credentials"),
        ] {
            let path = root.join(file);
            std::fs::write(&path, "").expect("write an empty AWS config");
            env.push((variable, path.display().to_string()));
        }
        env.extend([
            ("TF_CLI_CONFIG_FILE", cli_config.display().to_string()),
            ("TF_IN_AUTOMATION", "1".to_string()),
            ("TF_INPUT", "0".to_string()),
            ("CHECKPOINT_DISABLE", "1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]);
        Terraform { root, env }
    }

    /// A directory of the copy, e.g. `examples` or `modules/job_base`.
    pub fn dir(&self, module: &str) -> PathBuf {
        self.root.join("terraform").join(module)
    }

    /// Runs `terraform <args>` in `module` (no colour, no prompts).
    pub fn run(&self, module: &str, args: &[&str]) -> SjobRun {
        let mut command = Command::new(TERRAFORM);
        command.args(args).current_dir(self.dir(module));
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("AWS_") || name.starts_with("TF_") {
                command.env_remove(name.as_ref());
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {TERRAFORM}: {e}"));
        SjobRun {
            args: std::iter::once(format!("(terraform in {module})"))
                .chain(args.iter().map(|a| a.to_string()))
                .collect(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `terraform <args>` and checks it exited with `code`.
    pub fn run_expecting(&self, code: i32, module: &str, args: &[&str]) -> SjobRun {
        let run = self.run(module, args);
        run.assert_code(code);
        run
    }

    /// Writes an empty zip archive to stand in for a handler's
    /// `bootstrap.zip` (the emulator runs no Lambda code from zips).
    pub fn dummy_zip(&self, name: &str) -> PathBuf {
        const EMPTY_ZIP: [u8; 22] = [
            0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let path = self.root.join(name);
        std::fs::write(&path, EMPTY_ZIP).expect("write a dummy zip");
        path
    }
}

impl Drop for Terraform {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("terraform scratch directory: {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Copies the sources, leaving out Terraform's working files.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()))
    {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if name_text == ".terraform"
            || name_text.starts_with("terraform.tfstate")
            || name_text == ".terraform.lock.hcl"
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// Every file under `dir`, by path relative to it (for comparing generated
/// trees with committed ones).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    files.sort();
    files
}
