//! Integration tests of the `perfan` binary (one test binary): it is run as a user
//! would run it, against the shared fixtures.
#![allow(clippy::unwrap_used, missing_docs)]

mod portal_upstream;
mod process;
mod snapshot;
mod snapshot_more;
mod usage;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The shared fixtures directory (`../shared/fixtures` beside the checkout).
pub fn fixtures() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// Runs `perfan` with `args`, feeding `stdin` when given.
pub fn perfan(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_perfan"));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("PERFAN_PROC_ROOT")
        .env_remove("PERFAN_ROOTFS");
    let mut child = cmd.spawn().unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
