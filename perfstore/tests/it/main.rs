//! Integration tests of perfstore: every store test runs on SQLite and on PostgreSQL.
//!
//! `cargo test -p perfstore` with `DATABASE_URL` pointing at a PostgreSQL server
//! (trust or password auth, a role that may create databases and roles).
#![allow(clippy::unwrap_used, missing_docs)]

mod blocks;
mod harness;
mod isolation;
mod store;

use perfcore::metrics::{DeviceKind, DeviceRow, IntervalRow, METRIC_COUNT, Metric};

/// Base timestamp: 2026-01-07T19:10:20Z.
pub const T0: i64 = 1_767_813_020_000;

/// A row at `T0 + i * 10 s` with every metric set from `i` (a few left empty).
pub fn row(i: i64) -> IntervalRow {
    let mut r = IntervalRow::new(T0 + i * 10_000, 10.0);
    for (k, v) in r.values.iter_mut().enumerate() {
        // Every 7th metric of every 3rd row is empty, like a source missing for a tick.
        *v = if k % 7 == 3 && i % 3 == 0 {
            None
        } else {
            Some((i as f64) * 1.25 + k as f64 * 0.5 + 0.125)
        };
    }
    assert_eq!(r.values.len(), METRIC_COUNT);
    r
}

/// `n` consecutive rows starting at index `start`.
pub fn rows(start: i64, n: i64) -> Vec<IntervalRow> {
    (start..start + n).map(row).collect()
}

/// Per-device values of the row at index `i`: two disks and a CPU.
pub fn devices(i: i64) -> Vec<DeviceRow> {
    let ts = T0 + i * 10_000;
    vec![
        DeviceRow {
            timestamp_ms: ts,
            kind: DeviceKind::Disk,
            device: "sda".into(),
            metric: "util_pct",
            value: i as f64,
        },
        DeviceRow {
            timestamp_ms: ts,
            kind: DeviceKind::Disk,
            device: "nvme0n1".into(),
            metric: "read_bytes_per_s",
            value: 1e6 + i as f64,
        },
        DeviceRow {
            timestamp_ms: ts,
            kind: DeviceKind::Cpu,
            device: "0".into(),
            metric: "user_pct",
            value: 0.5 * i as f64,
        },
    ]
}

/// A quick look at one metric's column of a batch.
pub fn metric_values(rows: &[IntervalRow], m: Metric) -> Vec<f64> {
    rows.iter().filter_map(|r| r.get(m)).collect()
}
