//! Exit codes and help: 0 success, 1 failure, 2 usage error.

use super::{perfan, text};

#[test]
fn no_arguments_prints_help() {
    let out = perfan(&[], None);
    let (stdout, stderr) = text(&out);
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("Usage: perfan"), "{all}");
    assert!(all.contains("snapshot") && all.contains("process"), "{all}");
    // clap's help-for-missing-subcommand is a usage error: exit code 2.
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_flag_prints_help_on_stdout_and_succeeds() {
    let out = perfan(&["--help"], None);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("Usage: perfan"), "{stdout}");
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &["frobnicate"][..],
        &["process", "--input", "x.json"][..],
        &[
            "process", "--input", "x.json", "--output", "o", "--format", "xml",
        ][..],
        &[
            "process", "--input", "x.json", "--output", "o", "--site", "s",
        ][..],
        &["snapshot", "--format", "yaml"][..],
    ] {
        let out = perfan(args, None);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains("try '--help'"), "{args:?}: {stderr}");
    }
}

#[test]
fn missing_input_file_is_a_failure_not_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = perfan(
        &[
            "process",
            "--input",
            "/nonexistent/capture.json",
            "--output",
            out_dir.to_str().unwrap(),
        ],
        None,
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("perfan: error: opening /nonexistent/capture.json"),
        "{stderr}"
    );
}
