//! `sjob package`: builds the handler zips `[base.handlers]` deploys, with
//! cargo-lambda, where the config expects them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::keys::entry;
use crate::config::{Architecture, Config, HANDLERS_KEYS};

/// The handler binaries, by package file they end up in.
const BINARIES: [&str; 2] = ["success-handler", "error-handler"];
/// The cargo package that builds them.
const HANDLERS_PACKAGE: &str = "handlers";
/// The workspace's profile for Lambda packages: small and fast to start
/// (fat LTO, one codegen unit), which the CLI's release build does not pay.
const LAMBDA_PROFILE: &str = "lambda-release";
/// The file cargo-lambda writes per binary with `--output-format zip`.
const ZIP_NAME: &str = "bootstrap.zip";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PackageError {
    #[error("`sjob package` writes <dir>/<binary>/{ZIP_NAME}, but [base.handlers] expects {path}")]
    #[diagnostic(
        code(sjob::package::layout),
        help("use `success_package = \"<dir>/success-handler/{ZIP_NAME}\"` and `error_package = \"<dir>/error-handler/{ZIP_NAME}\"`, or build the zips yourself")
    )]
    Layout { path: String },
    #[error("cannot run `cargo lambda`: {0}")]
    #[diagnostic(
        code(sjob::package::cargo_lambda),
        help("install it with `pip install cargo-lambda ziglang` (or see https://www.cargo-lambda.info)")
    )]
    Spawn(String),
    #[error("`cargo lambda build` failed ({status}); its output is above")]
    #[diagnostic(
        code(sjob::package::build),
        help("run it in a checkout of sjob, or point --manifest-path at sjob's Cargo.toml")
    )]
    Build { status: String },
    #[error("`cargo lambda build` succeeded but {path} is missing")]
    #[diagnostic(code(sjob::package::missing))]
    Missing { path: String },
}

/// How to build.
#[derive(Debug, Clone)]
pub struct Build {
    /// The workspace's `Cargo.toml`; the config's directory's by default.
    pub manifest_path: Option<PathBuf>,
    /// A debug build: faster, for trying things out.
    pub debug: bool,
    /// Further `cargo lambda build` arguments (`--compiler cargo`, ...).
    pub extra: Vec<String>,
}

/// A built package.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    pub binary: &'static str,
    pub path: PathBuf,
    pub bytes: u64,
    pub architecture: &'static str,
}

/// The directory the zips go in, and the architecture, from the config.
fn layout(config: &Config) -> Result<(PathBuf, Architecture), PackageError> {
    let dir = config.path.parent().unwrap_or(Path::new(""));
    let (success, error, architecture) =
        match config.base.as_ref().and_then(|b| b.handlers.as_ref()) {
            Some(h) => (
                h.success_package.clone(),
                h.error_package.clone(),
                h.architecture,
            ),
            None => {
                let default = |key: &str| entry(HANDLERS_KEYS, key).default_text();
                let architecture = Architecture::ALL
                    .into_iter()
                    .find(|a| a.as_str() == default("architecture"))
                    .expect("the default architecture is one");
                (
                    dir.join(default("success_package")),
                    dir.join(default("error_package")),
                    architecture,
                )
            }
        };
    let lambda_dir = |path: &Path, binary: &str| {
        let bin_dir = path
            .parent()
            .filter(|_| path.file_name() == Some(ZIP_NAME.as_ref()))?;
        (bin_dir.file_name() == Some(binary.as_ref()))
            .then(|| bin_dir.parent().map(Path::to_path_buf))?
    };
    let success_dir = lambda_dir(&success, BINARIES[0]).ok_or_else(|| PackageError::Layout {
        path: success.display().to_string(),
    })?;
    match lambda_dir(&error, BINARIES[1]) {
        Some(error_dir) if error_dir == success_dir => Ok((success_dir, architecture)),
        _ => Err(PackageError::Layout {
            path: error.display().to_string(),
        }),
    }
}

/// The `cargo lambda build` invocation writing both zips into `lambda_dir`,
/// and the zips' paths.
fn command(
    config: &Config,
    build: &Build,
    lambda_dir: PathBuf,
    architecture: Architecture,
) -> (std::process::Command, Vec<PathBuf>) {
    // cargo-lambda resolves it against its own working directory.
    let lambda_dir = std::path::absolute(&lambda_dir).unwrap_or(lambda_dir);
    let mut cargo = std::process::Command::new("cargo");
    cargo.args([
        "lambda",
        "build",
        "--output-format",
        "zip",
        "--package",
        HANDLERS_PACKAGE,
    ]);
    cargo.arg("--lambda-dir").arg(&lambda_dir);
    cargo.arg(match architecture {
        Architecture::Arm64 => "--arm64",
        Architecture::X86_64 => "--x86-64",
    });
    if !build.debug {
        cargo.args(["--profile", LAMBDA_PROFILE]);
    }
    match &build.manifest_path {
        Some(manifest) => {
            cargo.arg("--manifest-path").arg(manifest);
        }
        None => {
            if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                cargo.current_dir(dir);
            }
        }
    }
    cargo.args(&build.extra);
    let zips = BINARIES
        .iter()
        .map(|binary| lambda_dir.join(binary).join(ZIP_NAME))
        .collect();
    (cargo, zips)
}

/// Builds both zips; cargo-lambda's output goes to stderr.
pub fn package(config: &Config, build: &Build) -> Result<Vec<Package>, PackageError> {
    let (lambda_dir, architecture) = layout(config)?;
    let (mut cargo, zips) = command(config, build, lambda_dir, architecture);
    let architecture = architecture.as_str();
    tracing::info!(command = ?cargo, "building the handler packages");
    let status = cargo
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| PackageError::Spawn(e.to_string()))?;
    if !status.success() {
        return Err(PackageError::Build {
            status: status.to_string(),
        });
    }
    BINARIES
        .iter()
        .zip(zips)
        .map(|(binary, path)| {
            let bytes = std::fs::metadata(&path)
                .map_err(|_| PackageError::Missing {
                    path: path.display().to_string(),
                })?
                .len();
            Ok(Package {
                binary,
                path,
                bytes,
                architecture,
            })
        })
        .collect()
}
