//! The agent end to end: `perfan record` and `perfan watch` run as processes,
//! against files, signals and an in-test HTTP receiver that can be down, fail,
//! be slow and recover.
//!
//! Run: `cargo test -p perfan --test agent`

// Test helpers outside `#[test]` functions panic on purpose when the world is not as expected.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn perfan() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_perfan"));
    // Settings must come only from what each test gives.
    for (k, _) in std::env::vars() {
        if k.starts_with("PERFAN_") || k.starts_with("PCC_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(c: &mut Command) -> Output {
    c.stdin(Stdio::null()).output().expect("perfan runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Waits (polling) until `f` holds; the deadline only guards against a hang.
fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{sig}");
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        assert!(t0.elapsed() < limit, "perfan did not exit");
        thread::sleep(Duration::from_millis(20));
    }
}

fn capture_samples(path: &Path) -> Vec<perfcore::RawSample> {
    let bytes = std::fs::read(path).unwrap_or_default();
    perfcore::capture::read_all(bytes.as_slice()).expect("capture reads strictly")
}

#[test]
fn record_pcc_for_a_duration_is_a_readable_capture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cap.json");
    let o = run(perfan()
        .args(["record", "--interval", "1s", "--duration", "2s", "-q", "-o"])
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let samples = capture_samples(&out);
    // A sample at start, then one per second up to the duration.
    assert_eq!(samples.len(), 3);
    let ts: Vec<i64> = samples.iter().map(|s| s.timestamp_s()).collect();
    assert!(ts.windows(2).all(|w| w[1] - w[0] == 1), "{ts:?}");
    for s in &samples {
        assert!(s.has(perfcore::Source::Stat) && s.has(perfcore::Source::Meminfo));
    }
    // cpuinfo only with the first sample (then hourly).
    assert!(samples[0].has(perfcore::Source::Cpuinfo));
    assert!(!samples[1].has(perfcore::Source::Cpuinfo));
    // The older tools' processing reads it.
    let csv_dir = dir.path().join("out");
    let o = run(perfan()
        .args(["process", "--input"])
        .arg(&out)
        .arg("--output")
        .arg(&csv_dir));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("3 samples, 2 intervals"),
        "{}",
        stderr(&o)
    );
    let stat = std::fs::read_to_string(csv_dir.join("proc/stat")).unwrap();
    let totals = stat
        .lines()
        .filter(|l| l.split(',').nth(1) == Some("-1"))
        .count();
    assert_eq!(totals, 2, "{stat}");
    // cpuinfo in the first sample gives the older processor its system_info.json.
    assert!(csv_dir.join("system_info.json").exists());
}

#[test]
fn record_csv_at_100ms_writes_one_row_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.csv");
    let o = run(perfan()
        .args([
            "record",
            "--interval",
            "100ms",
            "--duration",
            "1s",
            "--machine",
            "m-100",
            "-o",
        ])
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = perfcore::csv::ours::read_wide(std::fs::File::open(&out).unwrap()).unwrap();
    // Ten intervals of 100 ms. Each is measured on the monotonic clock, so one read
    // a little late makes its interval a little longer and the next one shorter; a
    // tick late by more than an interval is skipped. Together they cover the run.
    assert!((5..=10).contains(&rows.len()), "{}", rows.len());
    let total: f64 = rows.iter().map(|r| r.row.elapsed_s).sum();
    assert!((0.99..1.3).contains(&total), "{total}");
    for r in &rows {
        assert_eq!(r.machine_id, "m-100");
        assert!(
            r.row.elapsed_s > 0.0 && r.row.elapsed_s < 0.35,
            "{}",
            r.row.elapsed_s
        );
        let busy = 100.0 - r.row.get(perfcore::metrics::Metric::CpuIdlePct).unwrap();
        assert!((0.0..=100.0).contains(&busy));
        assert!(r.row.get(perfcore::metrics::Metric::MemTotalBytes).unwrap() > 0.0);
    }
    let ts: Vec<i64> = rows.iter().map(|r| r.row.timestamp_ms).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]));
    let devices = std::fs::read_to_string(dir.path().join("run.devices.csv")).unwrap();
    assert!(devices.starts_with("timestamp,machine_id,kind,device,metric,value\n"));
    assert!(devices.contains(",m-100,cpu,0,user_pct,"));
}

#[test]
fn sigterm_finishes_flushes_and_exits_0_and_sighup_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cap.json");
    let mut child = perfan()
        .args(["record", "--interval", "1s", "-q", "-o"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("two samples", Duration::from_secs(20), || {
        capture_samples(&out).len() >= 2
    });
    // Log rotation: move the file away, SIGHUP, and a new file starts.
    let rotated = dir.path().join("cap.json.1");
    std::fs::rename(&out, &rotated).unwrap();
    signal(&child, "HUP");
    wait_for("the reopened file", Duration::from_secs(20), || {
        !capture_samples(&out).is_empty()
    });
    signal(&child, "TERM");
    // SIGTERM ends the sleep at once: no waiting for the next tick.
    let st = wait_exit(&mut child, Duration::from_secs(5));
    assert_eq!(st.code(), Some(0));
    let old = capture_samples(&rotated);
    let new = capture_samples(&out);
    assert!(old.len() >= 2);
    assert!(new[0].timestamp_s() > old.last().unwrap().timestamp_s());
}

/// Ctrl-C on the default (store) sink: the rows held for the next commit (every
/// 10 s by default) are written before the exit, which is 0.
#[test]
fn sigint_flushes_the_store_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("perf.db");
    let mut child = perfan()
        .args(["record", "-i", "200ms", "-q", "-m", "int", "--db"])
        .arg(&db)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    // The store is created (and the machine registered) when the agent starts.
    wait_for("the store", Duration::from_secs(20), || db.exists());
    thread::sleep(Duration::from_millis(1500));
    // Nothing is committed yet: the first commit is due after 10 s.
    assert!(exported(&db, "int").is_empty());
    signal(&child, "INT");
    let st = wait_exit(&mut child, Duration::from_secs(5));
    let ran = t0.elapsed().as_secs_f64();
    assert_eq!(st.code(), Some(0));
    let rows = exported(&db, "int");
    // About one interval per 200 ms of the run, all of them stored.
    assert!(rows.len() >= 5, "{}", rows.len());
    assert!(
        rows.len() as f64 <= ran / 0.2 + 1.0,
        "{} in {ran} s",
        rows.len()
    );
    let total: f64 = rows.iter().map(|r| r.row.elapsed_s).sum();
    assert!((total - rows.len() as f64 * 0.2).abs() < 0.1, "{total}");
}

#[test]
fn kill_9_leaves_a_readable_file_with_every_sample_written() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("cap.json");
    let csv = dir.path().join("run.csv");
    let mut a = perfan()
        .args(["record", "-i", "1s", "-q", "-o"])
        .arg(&cap)
        .spawn()
        .unwrap();
    let mut b = perfan()
        .args(["record", "-i", "100ms", "-q", "-o"])
        .arg(&csv)
        .spawn()
        .unwrap();
    wait_for("samples", Duration::from_secs(20), || {
        capture_samples(&cap).len() >= 3
            && std::fs::read_to_string(&csv)
                .map(|s| s.lines().count())
                .unwrap_or(0)
                >= 20
    });
    signal(&a, "KILL");
    signal(&b, "KILL");
    a.wait().unwrap();
    b.wait().unwrap();
    // Strict reading: no torn line anywhere.
    let samples = capture_samples(&cap);
    assert!(samples.len() >= 3);
    let ts: Vec<i64> = samples.iter().map(|s| s.timestamp_s()).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "{ts:?}");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.ends_with('\n'));
    let rows = perfcore::csv::ours::read_wide(text.as_bytes()).unwrap();
    assert!(rows.len() >= 19);
}

#[test]
fn an_unwritable_output_is_one_error_line_and_exit_1() {
    // procfs takes no new files, even for root.
    let o = run(perfan().args([
        "record",
        "-i",
        "1s",
        "-d",
        "1s",
        "-o",
        "/proc/perfan-test/cap.json",
    ]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("perfan: error: "), "{e}");
    assert!(e.contains("/proc/perfan-test/cap.json"), "{e}");
    // A read-only directory, for an unprivileged user (root writes anywhere: as root
    // the test runs perfan as nobody).
    let (dir, ro) = read_only_dir();
    let o = run(unprivileged(&["record", "-i", "1s", "-d", "1s", "-o"]).arg(ro.join("c.json")));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("Permission denied"), "{e}");
    assert!(e.contains("c.json"), "{e}");
    // The store in a read-only directory: the same.
    let o = run(unprivileged(&["record", "-i", "1s", "-d", "1s", "--db"]).arg(ro.join("perf.db")));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("perf.db"), "{e}");
    drop(dir);
}

/// A temp directory anyone may enter, holding `ro/`, which nobody but root may
/// write to.
fn read_only_dir() -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    (dir, ro)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// perfan with `args`, as the user nobody when this runs as root.
fn unprivileged(args: &[&str]) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_perfan"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_perfan"))
    };
    for (k, _) in std::env::vars() {
        if k.starts_with("PERFAN_") || k.starts_with("PCC_") {
            c.env_remove(k);
        }
    }
    c.env("HOME", "/nonexistent").args(args);
    c
}

/// Log rotation into a directory that became read-only: the reopen fails with a
/// warning and the agent goes on writing the file it has open; nothing is lost.
#[test]
fn a_failed_reopen_keeps_writing_the_old_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, ro) = read_only_dir();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = ro.join("cap.json");
    let mut child = unprivileged(&["record", "--interval", "1s", "-o"])
        .arg(&out)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("two samples", Duration::from_secs(20), || {
        capture_samples(&out).len() >= 2
    });
    let rotated = ro.join("cap.json.1");
    std::fs::rename(&out, &rotated).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = capture_samples(&rotated).len();
    signal(&child, "HUP");
    wait_for("samples after the reopen", Duration::from_secs(20), || {
        capture_samples(&rotated).len() >= before + 2
    });
    let err = stop(&mut child);
    assert!(
        err.contains("reopening the output failed, still writing the old file"),
        "{err}"
    );
    assert!(!out.exists());
    let all = capture_samples(&rotated);
    let ts: Vec<i64> = all.iter().map(|s| s.timestamp_s()).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "{ts:?}");
    drop(dir);
}

#[test]
fn bad_settings_are_one_line_and_exit_2() {
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["record"],
            vec![("PCC_MODE", "bogus")],
            "PCC_MODE: unknown mode \"bogus\"",
        ),
        (
            vec!["record"],
            vec![("PCC_FREQUENCY", "5")],
            "PCC_FREQUENCY: duration \"5\": missing unit",
        ),
        (
            vec!["record"],
            vec![("PCC_DURATION", "1d")],
            "PCC_DURATION: duration \"1d\": unknown unit \"d\"",
        ),
        (
            vec!["record", "--interval", "50ms"],
            vec![],
            "--interval: interval 50ms is below the shortest, 100ms",
        ),
        (
            vec!["record", "-o", "x.txt", "--format", "xml"],
            vec![],
            "--format: unknown format \"xml\"",
        ),
        (
            vec!["record", "--server", "http://127.0.0.1:9"],
            vec![],
            "needs an API key",
        ),
        (
            vec!["watch", "--interval", "10ms"],
            vec![],
            "--interval: between 100ms and 24h",
        ),
        (
            vec!["record"],
            vec![("PERFAN_CONTAINERS", "maybe")],
            "PERFAN_CONTAINERS: not a boolean: \"maybe\"",
        ),
        (
            vec!["record"],
            vec![("PERFAN_QUIET", "2")],
            "PERFAN_QUIET: not a boolean: \"2\"",
        ),
    ];
    for (args, env, want) in cases {
        let o = run(perfan().args(&args).envs(env.iter().copied()));
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?} {env:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

/// The wide rows a store holds for a machine, read back with `perfan export`.
fn exported(db: &Path, machine: &str) -> Vec<perfcore::csv::ours::WideRecord> {
    let o = run(perfan()
        .args(["export", "--format", "csv", "--machine", machine, "--db"])
        .arg(db));
    assert!(o.status.success(), "{}", stderr(&o));
    perfcore::csv::ours::read_wide(o.stdout.as_slice()).unwrap()
}

#[test]
fn record_goes_to_the_store_by_default() {
    let dir = tempfile::tempdir().unwrap();
    // No --output, no --server, no --db: the default database under XDG_DATA_HOME.
    let o = run(perfan()
        .args([
            "record",
            "-i",
            "200ms",
            "-d",
            "1s",
            "-q",
            "--machine",
            "m-store",
        ])
        .env("XDG_DATA_HOME", dir.path()));
    assert!(o.status.success(), "{}", stderr(&o));
    let db = dir.path().join("perfanalysis/perfanalysis.db");
    assert!(db.exists());
    let rows = exported(&db, "m-store");
    assert!((3..=5).contains(&rows.len()), "{}", rows.len());
    let ts: Vec<i64> = rows.iter().map(|r| r.row.timestamp_ms).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]));
    let total: f64 = rows.iter().map(|r| r.row.elapsed_s).sum();
    assert!((0.99..1.3).contains(&total), "{total}");
    assert!(
        rows[0]
            .row
            .get(perfcore::metrics::Metric::MemTotalBytes)
            .unwrap()
            > 0.0
    );
    // A second run adds to it.
    let o = run(perfan()
        .args([
            "record",
            "-i",
            "200ms",
            "-d",
            "400ms",
            "-q",
            "--machine",
            "m-store",
            "--db",
        ])
        .arg(&db));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(exported(&db, "m-store").len(), rows.len() + 2);
}

/// The wall clock went back while the agent was stopped: the store already holds
/// newer rows than now. A restarted agent stamps its samples after them (ordered,
/// nothing dropped as a duplicate), and says so.
#[test]
fn a_restart_behind_the_stored_rows_records_after_them() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("perf.db");
    let rec = |d: &str| {
        run(perfan()
            .args(["record", "-i", "200ms", "-d", d, "-q", "-m", "m", "--db"])
            .arg(&db))
    };
    let o = rec("600ms");
    assert!(o.status.success(), "{}", stderr(&o));
    let first = exported(&db, "m");
    assert_eq!(first.len(), 3);
    // Move what is stored an hour into the future: as if the clock had been an hour
    // ahead during the first run and was then corrected.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            for q in [
                "UPDATE interval_metrics SET ts_ms = ts_ms + 3600000",
                "UPDATE device_values SET ts_ms = ts_ms + 3600000",
                "UPDATE machines SET last_seen_ms = last_seen_ms + 3600000",
            ] {
                sqlx::query(q).execute(&mut c).await.unwrap();
            }
            c.close().await.unwrap();
        });
    let future = first.last().unwrap().row.timestamp_ms + 3_600_000;
    let o = rec("1s");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wall clock stepped back"),
        "{}",
        stderr(&o)
    );
    let all = exported(&db, "m");
    // Three old rows and the five new intervals: none lost as a duplicate.
    assert_eq!(all.len(), 3 + 5, "{}", all.len());
    let ts: Vec<i64> = all.iter().map(|r| r.row.timestamp_ms).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "{ts:?}");
    assert!(ts[3] > future, "{ts:?}");
    // Rates follow the monotonic clock: each new interval is about 200 ms long.
    for r in &all[3..] {
        assert!(
            (0.15..0.3).contains(&r.row.elapsed_s),
            "{}",
            r.row.elapsed_s
        );
    }
}

#[test]
fn kill_9_leaves_every_committed_row_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("perf.db");
    // Commits every 500 ms (5 intervals).
    let mut child = perfan()
        .args([
            "record",
            "-i",
            "100ms",
            "--commit-every",
            "500ms",
            "-q",
            "-m",
            "k9",
            "--db",
        ])
        .arg(&db)
        .spawn()
        .unwrap();
    wait_for("committed rows", Duration::from_secs(30), || {
        db.exists() && exported(&db, "k9").len() >= 20
    });
    signal(&child, "KILL");
    child.wait().unwrap();
    let rows = exported(&db, "k9");
    // Whole commits only: a multiple of 5 intervals, at least the 20 seen before the kill.
    assert!(rows.len() >= 20);
    assert_eq!(rows.len() % 5, 0, "{}", rows.len());
    let ts: Vec<i64> = rows.iter().map(|r| r.row.timestamp_ms).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]));
}

/// Data rows of a CSV file (0 when it is missing).
fn csv_rows(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count().saturating_sub(1))
}

#[test]
fn kill_9_before_a_commit_loses_nothing_the_next_run_stores_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("perf.db");
    let journal = dir.path().join("perf.db.pending/j9.rows.csv");
    let record = |extra: &[&str]| {
        let mut c = perfan();
        c.args(["record", "-i", "100ms", "-q", "-m", "j9", "--db"])
            .arg(&db)
            .args(extra)
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    // The default commit (60 s on SQLite) does not come before the kill.
    let mut child = record(&[]).spawn().unwrap();
    wait_for("journaled rows", Duration::from_secs(30), || {
        csv_rows(&journal) >= 15
    });
    signal(&child, "KILL");
    child.wait().unwrap();
    assert!(exported(&db, "j9").is_empty(), "nothing was committed");
    let taken = perfcore::csv::ours::read_wide(std::fs::File::open(&journal).unwrap()).unwrap();
    assert!(taken.len() >= 15, "{}", taken.len());
    // The next run stores them first, then its own, and leaves no journal behind.
    let o = record(&["-d", "350ms"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "storing {} intervals an earlier run took",
            taken.len()
        )),
        "{}",
        stderr(&o)
    );
    let stored = exported(&db, "j9");
    let ts: Vec<i64> = stored.iter().map(|r| r.row.timestamp_ms).collect();
    for t in &taken {
        let s = stored
            .iter()
            .find(|r| r.row.timestamp_ms == t.row.timestamp_ms)
            .expect("every journaled interval is stored");
        assert_eq!(s.row, t.row);
    }
    assert!(
        stored.len() >= taken.len() + 2,
        "{} {}",
        stored.len(),
        taken.len()
    );
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "{ts:?}");
    assert!(!journal.exists());
    assert!(!dir.path().join("perf.db.pending").exists());
}

#[test]
fn the_store_keeps_no_series_for_never_used_disks_and_interfaces() {
    let dir = tempfile::tempdir().unwrap();
    let proc = dir.path().join("proc");
    std::fs::create_dir_all(proc.join("net")).unwrap();
    std::fs::write(
        proc.join("stat"),
        "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\nbtime 1700000000\n",
    )
    .unwrap();
    // sda has done I/O since boot, loop0 never has; eth0 has moved packets, dummy0 never.
    std::fs::write(
        proc.join("diskstats"),
        "   8       0 sda 120 0 960 30 40 0 320 20 0 50 50 0 0 0 0 0 0\n\
         \x20  7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
    )
    .unwrap();
    std::fs::write(
        proc.join("net/dev"),
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n\
         \x20 eth0: 5000 40 0 0 0 0 0 0 3000 30 0 0 0 0 0 0\n\
         dummy0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
    )
    .unwrap();
    let db = dir.path().join("perf.db");
    let o = run(perfan()
        .args(["record", "-i", "200ms", "-d", "400ms", "-q", "-m", "idle"])
        .arg("--proc-root")
        .arg(&proc)
        .arg("--rootfs")
        .arg(dir.path())
        .arg("--db")
        .arg(&db));
    assert!(o.status.success(), "{}", stderr(&o));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let devices: BTreeSet<(String, String)> = rt.block_on(async {
        let store = perfstore::Store::open(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let t = store.tenant_by_name("default").await.unwrap().unwrap();
        let m = store.machine(t.id, "idle").await.unwrap().unwrap();
        let v = store.devices(t.id, m.id, 0, i64::MAX).await.unwrap();
        store.close().await;
        v.into_iter()
            .map(|d| (d.kind.as_str().to_owned(), d.device))
            .collect()
    });
    let want: BTreeSet<(String, String)> = [("cpu", "0"), ("disk", "sda"), ("net", "eth0")]
        .into_iter()
        .map(|(k, d)| (k.to_owned(), d.to_owned()))
        .collect();
    assert_eq!(devices, want);
}

#[test]
fn config_file_and_env_layers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("perfan.toml");
    let out = dir.path().join("from-file.csv");
    std::fs::write(
        &cfg,
        format!(
            "interval = \"5s\"\nduration = \"2s\"\noutput = {:?}\nmachine = \"file-id\"\n",
            out
        ),
    )
    .unwrap();
    // The environment's interval beats the file's.
    let o = run(perfan()
        .args(["record", "-q", "--config"])
        .arg(&cfg)
        .env("PERFAN_INTERVAL", "500ms"));
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = perfcore::csv::ours::read_wide(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].machine_id, "file-id");
    // PCC_MODE=local writes PCC_COLLECTION, at PCC_FREQUENCY for PCC_DURATION.
    let cap = dir.path().join("pcc.json");
    let o = run(perfan()
        .args(["record", "-q"])
        .env("PCC_MODE", "local")
        .env("PCC_COLLECTION", &cap)
        .env("PCC_FREQUENCY", "1s")
        .env("PCC_DURATION", "1s"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(capture_samples(&cap).len(), 2);
}

#[test]
fn proc_root_and_rootfs_read_another_tree() {
    let dir = tempfile::tempdir().unwrap();
    let proc = dir.path().join("proc");
    std::fs::create_dir_all(proc.join("sys/kernel")).unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        proc.join("stat"),
        "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\nbtime 1700000000\n",
    )
    .unwrap();
    std::fs::write(
        proc.join("meminfo"),
        "MemTotal: 2048 kB\nMemFree: 1024 kB\nBuffers: 0 kB\nCached: 512 kB\nSlab: 0 kB\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("etc/machine-id"), "0123456789abcdef\n").unwrap();
    let out = dir.path().join("host.csv");
    let o = run(perfan()
        .args(["record", "-i", "1s", "-d", "2s", "-q", "--proc-root"])
        .arg(&proc)
        .arg("--rootfs")
        .arg(dir.path())
        .arg("-o")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = perfcore::csv::ours::read_wide(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].machine_id, "0123456789abcdef");
    assert_eq!(
        rows[0].row.get(perfcore::metrics::Metric::MemTotalBytes),
        Some(2048.0 * 1024.0)
    );
}

#[test]
fn watch_prints_sar_columns_and_json() {
    let o = run(perfan().args(["watch", "-i", "100ms", "-n", "3", "cpu"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Linux "), "{text}");
    assert!(lines[2].ends_with("CPU     %user     %nice   %system   %iowait    %steal     %idle"));
    let data: Vec<&&str> = lines.iter().filter(|l| l.contains("     all ")).collect();
    // Three intervals and the average.
    assert_eq!(data.len(), 4, "{text}");
    assert!(data[3].starts_with("Average:"));
    let o = run(perfan().args(["watch", "-i", "100ms", "-n", "2", "--format", "json", "all"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut sections = BTreeSet::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let s = v["section"].as_str().unwrap().to_owned();
        match s.as_str() {
            "cpu" => {
                let sum: f64 = ["%user", "%nice", "%system", "%iowait", "%steal", "%idle"]
                    .iter()
                    .map(|k| v[*k].as_f64().unwrap())
                    .sum();
                assert!(sum <= 100.05, "{l}");
            }
            "mem" => assert!(v["kbmemfree"].as_u64().unwrap() > 0),
            "net" => assert!(v["IFACE"].is_string() && v["%ifutil"].is_number()),
            "disk" => assert!(v["DEV"].is_string() && v["areq-sz"].is_number()),
            other => panic!("section {other}"),
        }
        sections.insert(s);
    }
    assert!(sections.contains("cpu") && sections.contains("mem") && sections.contains("net"));
}

// ---------------------------------------------------------------------------
// The in-test server.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Fail500,
    Slow,
    Reject400,
}

#[derive(Debug, Default)]
struct Received {
    /// Per upload, the capture timestamps in it.
    uploads: Vec<Vec<i64>>,
    /// Trickle bodies.
    trickles: Vec<serde_json::Value>,
    /// Requests that did not carry the right key or machine id.
    bad: Vec<String>,
    requests: u64,
    /// Uploads answered only after the agent's timeout (slow mode).
    slow_uploads: u64,
}

struct Receiver {
    port: u16,
    mode: Arc<AtomicU32>,
    got: Arc<Mutex<Received>>,
    /// Bound but not listening while the server is "down": connections are
    /// refused, and the port stays ours.
    socket: Mutex<Option<socket2::Socket>>,
}

impl Receiver {
    /// A receiver on a free port, not listening yet ("server down").
    fn new() -> Receiver {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        s.bind(&addr.into()).unwrap();
        let port = s.local_addr().unwrap().as_socket().unwrap().port();
        Receiver {
            port,
            mode: Arc::new(AtomicU32::new(0)),
            got: Arc::default(),
            socket: Mutex::new(Some(s)),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, m: Mode) {
        self.mode.store(m as u32, Ordering::SeqCst);
    }

    /// Starts listening (the server comes up).
    fn up(&self) {
        let s = self.socket.lock().unwrap().take().expect("up once");
        s.listen(128).unwrap();
        let l: TcpListener = s.into();
        let mode = Arc::clone(&self.mode);
        let got = Arc::clone(&self.got);
        thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { break };
                let mode = Arc::clone(&mode);
                let got = Arc::clone(&got);
                thread::spawn(move || handle(conn, &mode, &got));
            }
        });
    }

    fn got(&self) -> std::sync::MutexGuard<'_, Received> {
        self.got.lock().unwrap()
    }
}

fn mode_of(v: u32) -> Mode {
    [Mode::Ok, Mode::Fail500, Mode::Slow, Mode::Reject400][v as usize]
}

fn handle(mut conn: TcpStream, mode: &AtomicU32, got: &Mutex<Received>) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if r.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let (k, v) = h.trim_end().split_once(':').unwrap_or(("", ""));
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let header = |k: &str| headers.iter().find(|h| h.0 == k).map(|h| h.1.clone());
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    got.lock().unwrap().requests += 1;
    let m = mode_of(mode.load(Ordering::SeqCst));
    let reply = |conn: &mut TcpStream, status: &str, body: &str| {
        let _ = write!(
            conn,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    };
    match m {
        Mode::Fail500 => {
            return reply(
                &mut conn,
                "500 Internal Server Error",
                "{\"status\":\"error\"}",
            );
        }
        Mode::Reject400 => {
            // Refuse one batch, then accept again.
            mode.store(Mode::Ok as u32, Ordering::SeqCst);
            return reply(
                &mut conn,
                "400 Bad Request",
                "{\"status\":\"error\",\"error\":\"bad capture\"}",
            );
        }
        Mode::Slow | Mode::Ok => {}
    }
    if request_line.starts_with("POST /v1/trickle ") {
        if header("apikey").as_deref() != Some("secret-key") {
            got.lock()
                .unwrap()
                .bad
                .push(format!("apikey {:?}", header("apikey")));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        got.lock().unwrap().trickles.push(v);
        return reply(&mut conn, "200 OK", "{\"error\":null}");
    }
    assert!(
        request_line.starts_with("POST /api/v1/performance/upload "),
        "{request_line}"
    );
    if header("authorization").as_deref() != Some("Bearer secret-key") {
        got.lock()
            .unwrap()
            .bad
            .push(format!("auth {:?}", header("authorization")));
    }
    let ct = header("content-type").unwrap_or_default();
    let boundary = ct.split("boundary=").nth(1).unwrap().to_owned();
    let (machine, file) = parse_multipart(&body, &boundary);
    if machine != "agent-test" {
        got.lock().unwrap().bad.push(format!("machine {machine}"));
    }
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file.as_slice())
        .read_to_end(&mut text)
        .unwrap();
    let samples = perfcore::capture::read_all(text.as_slice()).unwrap();
    let ts: Vec<i64> = samples.iter().map(|s| s.timestamp_s()).collect();
    let n = ts.len();
    {
        let mut g = got.lock().unwrap();
        g.uploads.push(ts);
        if m == Mode::Slow {
            g.slow_uploads += 1;
        }
    }
    if m == Mode::Slow {
        // Stored, but the answer comes after the agent's timeout: it will send the
        // batch again, and the dedupe by timestamp must make that harmless.
        thread::sleep(Duration::from_millis(2500));
    }
    reply(
        &mut conn,
        "200 OK",
        &format!(
            "{{\"status\":\"success\",\"records_processed\":{n},\"machine_id\":\"agent-test\"}}"
        ),
    );
}

fn parse_multipart(body: &[u8], boundary: &str) -> (String, Vec<u8>) {
    let delim = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(i) = find(rest, delim.as_bytes()) {
        rest = &rest[i + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let end = find(rest, delim.as_bytes()).unwrap();
        parts.push(&rest[..end]);
    }
    let (mut machine, mut file) = (String::new(), Vec::new());
    for p in parts {
        let p = p.strip_prefix(b"\r\n").unwrap();
        let sep = find(p, b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&p[..sep]).into_owned();
        let content = &p[sep + 4..p.len() - 2];
        if head.contains("name=\"machine_id\"") {
            machine = String::from_utf8_lossy(content).into_owned();
        } else if head.contains("name=\"file\"") {
            assert!(head.contains("Content-Type: application/gzip"), "{head}");
            file = content.to_vec();
        }
    }
    (machine, file)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn ship(rx: &Receiver, spool: &Path, cap: &Path, extra: &[&str]) -> Child {
    let batch = if extra.contains(&"--batch") {
        &[][..]
    } else {
        &["--batch", "2s"][..]
    };
    perfan()
        .args([
            "record",
            "-i",
            "1s",
            "--timeout",
            "1s",
            "--retry-max",
            "300ms",
            "-q",
        ])
        .args(batch)
        .args([
            "--machine",
            "agent-test",
            "--api-key",
            "secret-key",
            "--server",
        ])
        .arg(rx.url())
        .arg("--spool-dir")
        .arg(spool)
        .arg("-o")
        .arg(cap)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every sample of the local capture arrived once after dedupe, and in order.
fn assert_all_arrived_in_order(rx: &Receiver, cap: &Path) {
    let local: Vec<i64> = capture_samples(cap)
        .iter()
        .map(|s| s.timestamp_s())
        .collect();
    let got = rx.got();
    assert!(got.bad.is_empty(), "{:?}", got.bad);
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for u in &got.uploads {
        assert!(
            u.windows(2).all(|w| w[1] > w[0]),
            "batch not in order: {u:?}"
        );
        for t in u {
            if seen.insert(*t) {
                order.push(*t);
            }
        }
    }
    assert!(
        order.windows(2).all(|w| w[1] > w[0]),
        "batches out of order: {:?}",
        got.uploads
    );
    assert_eq!(order, local, "uploads: {:?}", got.uploads);
    // Each batch after the first starts with the last sample of the one before
    // (resends of a batch whose answer was lost are left out first).
    let mut distinct: Vec<&Vec<i64>> = Vec::new();
    for u in &got.uploads {
        if !distinct.contains(&u) {
            distinct.push(u);
        }
    }
    for w in distinct.windows(2) {
        assert_eq!(w[0].last(), w[1].first(), "{:?}", got.uploads);
    }
}

fn stop(child: &mut Child) -> String {
    signal(child, "TERM");
    let st = wait_exit(child, Duration::from_secs(20));
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).ok();
    }
    assert_eq!(st.code(), Some(0), "{err}");
    err
}

#[test]
fn shipping_survives_down_500_and_slow_server_and_delivers_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, cap) = (dir.path().join("spool"), dir.path().join("local.json"));
    let rx = Receiver::new();
    // Down at start.
    let mut child = ship(&rx, &spool, &cap, &[]);
    wait_for("spooled batches", Duration::from_secs(30), || {
        std::fs::read_dir(spool.join("batches"))
            .map(|d| d.count())
            .unwrap_or(0)
            >= 2
    });
    // Up, but failing with 500s.
    rx.set(Mode::Fail500);
    rx.up();
    wait_for("500s", Duration::from_secs(30), || rx.got().requests >= 2);
    // Slow: past the agent's 1 s timeout.
    rx.set(Mode::Slow);
    wait_for("slow uploads", Duration::from_secs(30), || {
        rx.got().slow_uploads >= 2
    });
    // Back to normal: everything spooled goes out, in order.
    rx.set(Mode::Ok);
    wait_for("the spool to drain", Duration::from_secs(60), || {
        !rx.got().uploads.is_empty()
            && std::fs::read_dir(spool.join("batches"))
                .map(|d| d.count())
                .unwrap_or(1)
                == 0
            && capture_samples(&cap).len() >= 12
    });
    let err = stop(&mut child);
    assert!(err.contains("server not reachable"), "{err}");
    assert!(err.contains("server reachable again"), "{err}");
    // The agent gave up on the slow answers (its 1 s timeout, not the 2.5 s the
    // server took) and sent those batches again: one batch arrived twice in a row.
    let got = rx.got();
    assert!(
        got.uploads.windows(2).any(|w| w[0] == w[1]),
        "no batch was resent after a timeout: {:?}",
        got.uploads
    );
    drop(got);
    assert_all_arrived_in_order(&rx, &cap);
    assert_eq!(std::fs::read_dir(spool.join("batches")).unwrap().count(), 0);
}

#[test]
fn a_full_spool_drops_the_oldest_with_a_warning_and_the_rest_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, cap) = (dir.path().join("spool"), dir.path().join("local.json"));
    let rx = Receiver::new();
    let mut child = ship(
        &rx,
        &spool,
        &cap,
        &["--spool-max", "64KiB", "--batch", "1s"],
    );
    let spool_bytes = || -> u64 {
        std::fs::read_dir(spool.join("batches"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    };
    // Wait until batches have been dropped: the first sample's batch is gone.
    let first = || capture_samples(&cap).first().map(|s| s.timestamp_s());
    wait_for("the spool to overflow", Duration::from_secs(90), || {
        let f = first();
        let oldest = std::fs::read_dir(spool.join("batches"))
            .ok()
            .and_then(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "batch"))
                    .min()
            })
            .and_then(|p| perfcore::spool::read_batch_file(&p).ok())
            .map(|(m, _)| m.first_ts);
        f.is_some() && oldest.is_some() && oldest > f
    });
    assert!(spool_bytes() <= 64 << 10);
    rx.up();
    wait_for("the spool to drain", Duration::from_secs(60), || {
        spool_bytes() == 0 && !rx.got().uploads.is_empty()
    });
    let err = stop(&mut child);
    assert!(
        err.contains("spool over its bound: dropped the oldest"),
        "{err}"
    );
    let got = rx.got();
    let first_received = got.uploads.iter().filter_map(|u| u.first()).min().copied();
    assert!(first_received > first(), "the oldest were dropped");
    // What was not dropped arrived, and the newest samples are all there.
    let last_local = capture_samples(&cap).last().unwrap().timestamp_s();
    assert!(got.uploads.iter().flatten().any(|t| *t == last_local));
}

#[test]
fn a_refused_batch_is_quarantined_and_later_ones_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, cap) = (dir.path().join("spool"), dir.path().join("local.json"));
    let rx = Receiver::new();
    rx.set(Mode::Reject400);
    rx.up();
    let mut child = ship(&rx, &spool, &cap, &[]);
    wait_for("a delivered batch", Duration::from_secs(30), || {
        !rx.got().uploads.is_empty()
    });
    let err = stop(&mut child);
    assert!(
        err.contains("server refused a batch for good (HTTP 400"),
        "{err}"
    );
    let q: Vec<PathBuf> = std::fs::read_dir(spool.join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        q.iter()
            .any(|p| p.extension().is_some_and(|x| x == "batch"))
    );
    assert!(
        q.iter()
            .any(|p| p.extension().is_some_and(|x| x == "reason"))
    );
}

#[test]
fn spooled_batches_are_sent_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, cap) = (dir.path().join("spool"), dir.path().join("local.json"));
    let rx = Receiver::new();
    // First run: server down the whole time.
    let mut child = ship(&rx, &spool, &cap, &["--duration", "3s"]);
    let st = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(st.code(), Some(0));
    let left = std::fs::read_dir(spool.join("batches")).unwrap().count();
    assert!(left >= 2, "{left}");
    // Second run, server up: the old batches go first.
    rx.up();
    let mut child = ship(&rx, &spool, &cap, &[]);
    wait_for("delivery", Duration::from_secs(30), || {
        rx.got().uploads.len() > left
    });
    stop(&mut child);
    let got = rx.got();
    let firsts: Vec<i64> = got
        .uploads
        .iter()
        .filter_map(|u| u.first().copied())
        .collect();
    assert!(firsts.windows(2).all(|w| w[1] >= w[0]), "{firsts:?}");
    let local: BTreeSet<i64> = capture_samples(&cap)
        .iter()
        .map(|s| s.timestamp_s())
        .collect();
    let sent: BTreeSet<i64> = got.uploads.iter().flatten().copied().collect();
    assert_eq!(sent, local);
}

#[test]
fn pcc_trickle_mode_posts_every_tick() {
    let rx = Receiver::new();
    rx.up();
    let dir = tempfile::tempdir().unwrap();
    let o = run(perfan()
        .args(["record", "-q"])
        .env("PCC_MODE", "trickle")
        .env("PCC_SERVER_URL", rx.url())
        .env("PCC_APIKEY", "secret-key")
        .env("PCC_IDENTIFIER", "old-agent")
        .env("PCC_FREQUENCY", "1s")
        .env("PCC_DURATION", "2s")
        .env("PERFAN_SPOOL_DIR", dir.path()));
    assert!(o.status.success(), "{}", stderr(&o));
    let got = rx.got();
    assert!(got.bad.is_empty(), "{:?}", got.bad);
    assert_eq!(got.trickles.len(), 3);
    for t in &got.trickles {
        assert_eq!(t["identifier"], "old-agent");
        let m = t["measurements"].as_array().unwrap();
        let subsystems: Vec<&str> = m.iter().map(|r| r["subsystem"].as_str().unwrap()).collect();
        assert!(subsystems.contains(&"/proc/stat") && subsystems.contains(&"/proc/meminfo"));
        // All records of one tick share one timestamp.
        assert!(m.iter().all(|r| r["timestamp"] == m[0]["timestamp"]));
    }
}

#[test]
fn watch_stops_when_its_reader_goes_away() {
    // `perfan watch | head -4`: once head is gone, watch ends (exit 0) instead of
    // sampling into a closed pipe forever.
    let mut child = perfan()
        .args(["watch", "-i", "100ms"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("Linux "), "{first}");
    drop(out);
    let st = wait_exit(&mut child, Duration::from_secs(5));
    assert_eq!(st.code(), Some(0));
}

#[test]
fn trickle_ticks_wait_in_the_spool_while_the_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, cap) = (dir.path().join("spool"), dir.path().join("local.json"));
    let rx = Receiver::new();
    let mut child = perfan()
        .args(["record", "-q", "--retry-max", "200ms", "-o"])
        .arg(&cap)
        .env("PCC_MODE", "trickle")
        .env("PCC_SERVER_URL", rx.url())
        .env("PCC_APIKEY", "secret-key")
        .env("PCC_IDENTIFIER", "old-agent")
        .env("PCC_FREQUENCY", "1s")
        .env("PERFAN_SPOOL_DIR", &spool)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Down: the ticks that fail go to disk.
    wait_for("spooled ticks", Duration::from_secs(30), || {
        std::fs::read_dir(spool.join("batches"))
            .map(|d| d.count())
            .unwrap_or(0)
            >= 2
    });
    rx.up();
    wait_for("the spool to drain", Duration::from_secs(30), || {
        rx.got().trickles.len() >= 4
            && std::fs::read_dir(spool.join("batches"))
                .map(|d| d.count())
                .unwrap_or(1)
                == 0
    });
    stop(&mut child);
    let local: Vec<i64> = capture_samples(&cap)
        .iter()
        .map(|s| s.timestamp_s())
        .collect();
    let got = rx.got();
    let sent: Vec<i64> = got
        .trickles
        .iter()
        .map(|t| t["measurements"][0]["timestamp"].as_i64().unwrap())
        .collect();
    // Every tick once, in order.
    assert_eq!(sent, local);
}

#[test]
fn status_line_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // Not a terminal: nothing on stderr.
    let out = dir.path().join("a.csv");
    let o = run(perfan()
        .args(["record", "-i", "200ms", "-d", "600ms", "-o"])
        .arg(&out));
    assert!(o.status.success());
    assert_eq!(stderr(&o), "");
    // On a terminal (script(1) gives it one): the live line, then a summary.
    let out = dir.path().join("b.csv");
    let cmd = format!(
        "{} record -i 1s -d 1s -o {}",
        env!("CARGO_BIN_EXE_perfan"),
        out.display()
    );
    let o = run(Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("\r\x1b[2Kperfan record: 1 sample → "),
        "{text:?}"
    );
    assert!(
        text.contains("\r\x1b[2Kperfan record: 2 samples · CPU "),
        "{text:?}"
    );
    assert!(
        text.contains("perfan: 2 samples, 1 interval → "),
        "{text:?}"
    );
    // --quiet: silent on a terminal too.
    let cmd = format!("{cmd} --quiet");
    let o = run(Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("perfan"));
}

/// A cgroup v2 tree with one docker container (systemd driver), as the kernel
/// lays it out: what `--containers` reads.
fn fake_cgroup_root(dir: &Path) -> PathBuf {
    let root = dir.join("cgroup");
    let c = root.join(
        "system.slice/docker-942b476921d8001bc53b35e48954a3a280e4a4cdceee8f13dc9396caf72de7f7.scope",
    );
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(root.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
    for (f, t) in [
        (
            "cpu.stat",
            "usage_usec 2923730\nuser_usec 2477237\nsystem_usec 446493\nnr_periods 83\nnr_throttled 52\nthrottled_usec 2326325\n",
        ),
        ("cpu.max", "50000 100000\n"),
        ("memory.current", "58802176\n"),
        ("memory.max", "536870912\n"),
        (
            "memory.stat",
            "anon 110592\nfile 57663488\nkernel 1028096\nslab 939776\n",
        ),
        (
            "io.stat",
            "8:0 rbytes=50896896 wbytes=11239424 rios=95 wios=15 dbytes=0 dios=0\n",
        ),
        ("pids.current", "1\n"),
        ("pids.max", "4580\n"),
    ] {
        std::fs::write(c.join(f), t).unwrap();
    }
    root
}

/// `perfan record --containers`: every sample holds the container's record in
/// the older container collector's exact form, the report has a Containers
/// section, and the store gets the container's series.
#[test]
fn record_containers_into_a_capture_and_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = fake_cgroup_root(dir.path());
    let out = dir.path().join("cap.json");
    let o = run(perfan()
        .args([
            "record",
            "--interval",
            "1s",
            "--duration",
            "3s",
            "-q",
            "--containers",
            "--cgroup-root",
        ])
        .arg(&root)
        .args(["--format", "pcc", "-o"])
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let samples = capture_samples(&out);
    assert!(samples.len() >= 3, "{} samples", samples.len());
    let want = r#"{"container_id":"942b476921d8001bc53b35e48954a3a280e4a4cdceee8f13dc9396caf72de7f7","container_name":"","cpu_period":100000,"cpu_periods":83,"cpu_quota":50000,"cpu_system_usec":446493,"cpu_throttled":52,"cpu_throttled_usec":2326325,"cpu_usage_usec":2923730,"cpu_user_usec":2477237,"io_read_bytes":50896896,"io_read_ops":95,"io_write_bytes":11239424,"io_write_ops":15,"memory_anon":110592,"memory_current":58802176,"memory_file":57663488,"memory_kernel":1028096,"memory_max":536870912,"memory_slab":939776,"pids_current":1,"pids_max":4580,"runtime":"docker"}"#;
    for s in &samples {
        let ctr: Vec<_> = s
            .other
            .iter()
            .filter(|o| o.subsystem.starts_with("container/"))
            .collect();
        assert_eq!(ctr.len(), 1);
        assert_eq!(ctr[0].subsystem, "container/docker/942b476921d8");
        assert_eq!(String::from_utf8_lossy(&ctr[0].measurement), want);
        assert!(s.has(perfcore::Source::Stat), "the host is recorded too");
    }
    // The kernel release rides along with the first sample (then hourly).
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let first = &samples[0].other;
    assert!(
        first
            .iter()
            .any(|o| o.subsystem == "/proc/sys/kernel/osrelease"
                && o.measurement == release.as_bytes()),
        "{first:?}"
    );
    assert!(
        !samples[1]
            .other
            .iter()
            .any(|o| o.subsystem == "/proc/sys/kernel/osrelease")
    );
    // The report of that capture: host charts and the container's.
    let html = dir.path().join("r.html");
    let json = dir.path().join("r.json");
    let o = run(perfan()
        .args(["report", "--input"])
        .arg(&out)
        .arg("-o")
        .arg(&html)
        .arg("--json")
        .arg(&json));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let ids: Vec<&str> = v["machines"][0]["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"containers-memory") && ids.contains(&"cpu"),
        "{ids:?}"
    );

    // Into the store: the container's series, by its short id.
    let db = format!("sqlite://{}/s.db", dir.path().display());
    let o = run(perfan()
        .args([
            "record",
            "--interval",
            "1s",
            "--duration",
            "3s",
            "-q",
            "--machine",
            "m1",
            "--db",
            &db,
        ])
        .env("PERFAN_CONTAINERS", "1")
        .env("PERFAN_CGROUP_ROOT", &root));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(perfan()
        .args(["report", "--db", &db, "--machine", "m1", "-o"])
        .arg(&html)
        .arg("--json")
        .arg(&json));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let ctr = v["machines"][0]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "container")
        .expect("a container in the store")
        .clone();
    assert_eq!(ctr["device"], "942b476921d8");
    // The kernel release, read once by the agent, is in the stored facts.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(v["machines"][0]["facts"]["kernel"], release.trim());
    // Nothing moved between the samples: 0% CPU, the memory as written.
    assert_eq!(ctr["last"]["cpu_pct"], 0.0);
    assert_eq!(ctr["last"]["mem_bytes"], 58_802_176.0);
    assert_eq!(ctr["last"]["cpu_limit_cores"], 0.5);

    // A root that is not cgroup v2: one clear line, nothing recorded.
    let o = run(perfan()
        .args([
            "record",
            "--duration",
            "1s",
            "-q",
            "--containers",
            "--cgroup-root",
        ])
        .arg(dir.path())
        .args(["--format", "pcc", "-o"])
        .arg(dir.path().join("no.json")));
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("is not a cgroup v2 root"), "{e}");
}

/// A second SIGTERM while the agent is stopping (here: still trying to deliver
/// to a server that is down) ends it at once, exit code 1; what was spooled
/// stays on disk for the next run.
#[test]
fn a_second_signal_while_stopping_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, cap) = (dir.path().join("spool"), dir.path().join("local.json"));
    let rx = Receiver::new(); // down: connections refused
    let mut child = ship(&rx, &spool, &cap, &["--batch", "1s"]);
    wait_for("a spooled batch", Duration::from_secs(20), || {
        std::fs::read_dir(spool.join("batches")).is_ok_and(|d| d.count() >= 2)
    });
    signal(&child, "TERM");
    // Stopping: the agent gives the sender a few seconds with the server away.
    thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still stopping after one signal"
    );
    let t0 = Instant::now();
    signal(&child, "TERM");
    let st = wait_exit(&mut child, Duration::from_secs(5));
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(st.code(), Some(1));
    let left = std::fs::read_dir(spool.join("batches")).unwrap().count();
    assert!(left >= 2, "{left} batches kept");
}

/// `record --format portal`: the portal upload CSV as it goes, one row per
/// interval on whole unix seconds, CRLF, memory in KiB of this machine.
#[test]
fn record_portal_writes_the_portal_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("portal.csv");
    let o = run(perfan()
        .args([
            "record",
            "--interval",
            "1s",
            "--duration",
            "3s",
            "-q",
            "--format",
            "portal",
            "-o",
        ])
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with(&format!("{}\r\n", perfcore::csv::portal::HEADER)),
        "{text}"
    );
    assert!(text.lines().all(|l| !l.is_empty()) && text.ends_with("\r\n"));
    let rows = perfcore::csv::portal::read(text.as_bytes()).unwrap();
    assert!((2..=3).contains(&rows.len()), "{} rows", rows.len());
    let ts: Vec<i64> = rows.iter().map(|r| r.timestamp_s).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "{ts:?}");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let col = |name: &str| {
        perfcore::csv::portal::COLUMNS
            .iter()
            .position(|c| *c == name)
            .unwrap()
    };
    for r in &rows {
        assert_eq!(r.values[col("mem_total_kb")], Some(total_kb));
        let cpu: f64 = [
            "cpu_user",
            "cpu_system",
            "cpu_idle",
            "cpu_iowait",
            "cpu_steal",
        ]
        .iter()
        .map(|c| r.values[col(c)].unwrap())
        .sum();
        // The five shown columns leave out nice, irq, softirq and guest.
        assert!((90.0..=100.0 + 1e-9).contains(&cpu), "{cpu}");
        for c in [
            "disk_read_bytes",
            "disk_write_bytes",
            "net_rx_bytes",
            "net_tx_bytes",
        ] {
            assert!(r.values[col(c)].unwrap() >= 0.0);
        }
    }
}

/// `perfan watch containers`: a line per container per interval, like docker
/// stats, from the cgroup v2 tree.
#[test]
fn watch_containers_prints_each_container() {
    let dir = tempfile::tempdir().unwrap();
    let root = fake_cgroup_root(dir.path());
    let o = run(perfan()
        .args([
            "watch",
            "containers",
            "-i",
            "200ms",
            "-n",
            "2",
            "--format",
            "json",
            "--cgroup-root",
        ])
        .arg(&root));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    for r in &rows {
        assert_eq!(r["section"], "containers");
        assert_eq!(r["CONTAINER"], "942b476921d8");
        // Nothing moved: 0% CPU; 58,802,176 B = 57,424 KiB of a 512 MiB limit (10.95%).
        assert_eq!(r["%cpu"], 0.0);
        assert_eq!(r["kbmem"], 57_424);
        assert_eq!(r["kblimit"], 524_288);
        assert_eq!(r["%mem"], 10.95);
        assert_eq!(r["pids"], 1);
    }
    let o = run(perfan()
        .args([
            "watch",
            "containers",
            "-i",
            "200ms",
            "-n",
            "1",
            "--cgroup-root",
        ])
        .arg(&root));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines().any(|l| l.trim_end().ends_with("CONTAINER      %cpu    %thrtl     kbmem   kblimit      %mem     rkB/s     wkB/s      pids")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("942b476921d8") && l.contains("57424")),
        "{out}"
    );
    // Not a cgroup v2 root: one line, exit 1.
    let o = run(perfan()
        .args(["watch", "containers", "-n", "1", "--cgroup-root"])
        .arg(dir.path()));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}
