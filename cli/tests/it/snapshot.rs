//! `perfan snapshot --proc-root <fixture tree>`: the JSON holds the fixture files' values.

use super::{fixtures, perfan, text};

pub(super) fn sample0() -> std::path::PathBuf {
    fixtures().join("live/debian12-kernel6.18-2cpu/sample0/proc")
}

/// The numbers of the first line of `file` that starts with `prefix`.
fn numbers(file: &str, prefix: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(sample0().join(file)).unwrap();
    let line = text.lines().find(|l| l.starts_with(prefix)).unwrap();
    line[prefix.len()..]
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn snapshot_of_a_fixture_tree_has_the_files_values() {
    let rootfs = tempfile::tempdir().unwrap();
    let out = perfan(
        &[
            "snapshot",
            "--proc-root",
            sample0().to_str().unwrap(),
            "--rootfs",
            rootfs.path().to_str().unwrap(),
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();

    // cpu  148834 0 30682 82516 1732 0 694 3858 0 0
    let cpu = numbers("stat", "cpu ");
    assert_eq!(cpu[0], 148834);
    let names = [
        "user",
        "nice",
        "system",
        "idle",
        "iowait",
        "irq",
        "softirq",
        "steal",
        "guest",
        "guest_nice",
    ];
    for (name, v) in names.iter().zip(&cpu) {
        assert_eq!(j["stat"]["cpu_total"][name], *v, "cpu {name}");
    }
    let cpu1 = numbers("stat", "cpu1 ");
    for (name, v) in names.iter().zip(&cpu1) {
        assert_eq!(j["stat"]["cpu"]["1"][name], *v, "cpu1 {name}");
    }
    assert_eq!(j["stat"]["ctxt"], numbers("stat", "ctxt ")[0]);
    assert_eq!(j["stat"]["btime"], numbers("stat", "btime ")[0]);

    for key in ["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached"] {
        let v = numbers("meminfo", &format!("{key}:"))[0];
        assert_eq!(j["meminfo"][key], v, "{key}");
    }
    assert_eq!(j["meminfo"]["MemTotal"], 24684092);

    // 254 0 vda 261036 20937 11883506 ...
    let vda = numbers("diskstats", " 254       0 vda ");
    assert_eq!(j["diskstats"]["vda"]["reads_completed"], vda[0]);
    assert_eq!(j["diskstats"]["vda"]["sectors_read"], vda[2]);
    assert_eq!(j["diskstats"]["vda"]["sectors_written"], vda[6]);

    // eth0: 401005423 16848 0 0 0 0 0 0 1431664 11466 ...
    let eth0 = numbers("net/dev", "  eth0:");
    assert_eq!(j["net_dev"]["eth0"]["rx_bytes"], eth0[0]);
    assert_eq!(j["net_dev"]["eth0"]["tx_bytes"], eth0[8]);
    assert_eq!(j["net_dev"]["eth0"]["rx_bytes"], 401005423u64);

    // 1.28 1.61 1.50 2/98 31086
    assert_eq!(j["loadavg"]["load1"], 1.28);
    assert_eq!(j["loadavg"]["load15"], 1.5);
    assert_eq!(j["loadavg"]["last_pid"], 31086);
}

#[test]
fn snapshot_of_a_missing_tree_fails_with_one_line() {
    let out = perfan(&["snapshot", "--proc-root", "/nonexistent/proc"], None);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("perfan: error:"), "{stderr}");
}
