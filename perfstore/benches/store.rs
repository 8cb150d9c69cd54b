//! Store benchmarks, each beside its bare baseline in the same run:
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench -p perfstore --bench store            # 1,000,000 rows
//! BENCH_ROWS=200000 BENCH_ONLY=sqlite cargo bench -p perfstore --bench store   # smaller, one backend
//! ```
//!
//! - ingest of N interval rows with 30 metrics set (the other columns NULL):
//!   `Store::ingest` against a bare rusqlite prepared INSERT in one transaction
//!   (SQLite) and a bare binary COPY into the same table (PostgreSQL), each into a
//!   fresh database with the store's schema; on PostgreSQL also the two sqlx
//!   approaches the issue names as peers, a multi-row INSERT and INSERT ... UNNEST
//!   (`BENCH_PEERS=0` skips them);
//! - summary statistics (11 statistics x 30 metrics) over the N rows: end to end
//!   (`Store::summary`) and the computation alone; on PostgreSQL also
//!   `percentile_cont` in SQL for comparison (`BENCH_SQL_PERCENTILES=0` skips it);
//! - export of 7 days at 10 s (60,480 rows) to our CSV;
//! - bytes per row on disk.
//!
//! On PostgreSQL the store connects as a plain role (row-level security applies, as
//! in production, with the ingest grant of perfstore/README.md); the bare COPY runs as
//! the owner into the partition that holds the rows, `perfan_ingest.interval_metrics`
//! (COPY FROM is refused into the table under RLS).
//! Without `DATABASE_URL` the PostgreSQL part is skipped (and says so).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use perfcore::csv::ours::WideWriter;
use perfcore::metrics::{IntervalRow, MachineFacts, Metric};
use perfstore::{Labels, Store};
use sqlx::Connection;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
/// Metrics set per row: 30 (the issue's figure), or all with `BENCH_FULL=1`.
fn set_metrics() -> usize {
    if std::env::var("BENCH_FULL").as_deref() == Ok("1") {
        Metric::ALL.len()
    } else {
        30
    }
}

fn make_rows(n: usize) -> Vec<IntervalRow> {
    let set = set_metrics();
    (0..n)
        .map(|i| {
            let mut r = IntervalRow::new(T0 + i as i64 * 10_000, 10.0);
            for (k, v) in r.values.iter_mut().enumerate().take(set) {
                // Varied, non-repeating values (as real gauges and rates are).
                let x = ((i as u64)
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(k as u64 * 97)
                    % 1_000_003) as f64;
                *v = Some(x / 1000.0 + k as f64);
            }
            r
        })
        .collect()
}

fn rate(n: usize, d: Duration) -> String {
    format!(
        "{:>9.0} rows/s ({:.3} s)",
        n as f64 / d.as_secs_f64(),
        d.as_secs_f64()
    )
}

async fn fresh_store(url: &str) -> (Store, perfstore::TenantId, perfstore::MachineId) {
    let store = Store::open(url).await.expect("open");
    let t = store.tenant_by_name_or_create("bench").await.unwrap();
    let m = store
        .upsert_machine(
            t.id,
            "bench-1",
            None,
            &Labels::new(),
            &MachineFacts::default(),
        )
        .await
        .unwrap();
    (store, t.id, m.id)
}

fn rusqlite_baseline(
    path: &std::path::Path,
    rows: &[IntervalRow],
    machine: i64,
    tenant: i64,
) -> Duration {
    let mut c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA temp_store=memory;",
    )
    .unwrap();
    let cols = std::iter::once("tenant_id, machine_id, ts_ms, interval_s".to_owned())
        .chain(Metric::ALL.iter().map(|m| m.name().to_owned()))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = vec!["?"; 4 + Metric::ALL.len()].join(",");
    let sql = format!("INSERT INTO interval_metrics ({cols}) VALUES ({marks})");
    let start = Instant::now();
    let tx = c.transaction().unwrap();
    {
        let mut st = tx.prepare(&sql).unwrap();
        for r in rows {
            st.raw_bind_parameter(1, tenant).unwrap();
            st.raw_bind_parameter(2, machine).unwrap();
            st.raw_bind_parameter(3, r.timestamp_ms).unwrap();
            st.raw_bind_parameter(4, r.elapsed_s).unwrap();
            for (i, v) in r.values.iter().enumerate() {
                st.raw_bind_parameter(5 + i, *v).unwrap();
            }
            st.raw_execute().unwrap();
        }
    }
    tx.commit().unwrap();
    start.elapsed()
}

/// Bare binary COPY of the rows straight into the table that holds them (no check for
/// stored rows, no staging: what the server can do), encoded and sent in 1 MiB messages so
/// that the server parses while the client encodes.
async fn copy_baseline(url: &str, rows: &[IntervalRow], tenant: i64, machine: i64) -> Duration {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let cols = std::iter::once("tenant_id, machine_id, ts_ms, interval_s".to_owned())
        .chain(Metric::ALL.iter().map(|m| m.name().to_owned()))
        .collect::<Vec<_>>()
        .join(", ");
    let start = Instant::now();
    let mut tx = begin_as(&mut c, tenant).await;
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY perfan_ingest.interval_metrics ({cols}) FROM STDIN (FORMAT binary)"
        ))
        .await
        .unwrap();
    let mut buf = Vec::with_capacity(2 << 20);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
    for r in rows {
        buf.extend_from_slice(&((4 + r.values.len()) as i16).to_be_bytes());
        for v in [tenant, machine, r.timestamp_ms] {
            buf.extend_from_slice(&8i32.to_be_bytes());
            buf.extend_from_slice(&v.to_be_bytes());
        }
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&r.elapsed_s.to_bits().to_be_bytes());
        for v in &r.values {
            match v {
                Some(v) => {
                    buf.extend_from_slice(&8i32.to_be_bytes());
                    buf.extend_from_slice(&v.to_bits().to_be_bytes());
                }
                None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        if buf.len() >= 1 << 20 {
            copy.send(std::mem::take(&mut buf)).await.unwrap();
            buf.reserve(2 << 20);
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await.unwrap();
    copy.finish().await.unwrap();
    tx.commit().await.unwrap();
    start.elapsed()
}

/// A transaction with the tenant set: the CHECK on the rows' partition (migration 3)
/// wants it even from a superuser.
async fn begin_as(
    c: &mut sqlx::PgConnection,
    tenant: i64,
) -> sqlx::Transaction<'_, sqlx::Postgres> {
    let mut tx = c.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

/// The columns a baseline writes: the keys and the metrics the rows have.
fn baseline_columns(rows: &[IntervalRow]) -> (Vec<usize>, String) {
    let used: Vec<usize> = (0..Metric::ALL.len())
        .filter(|&k| rows.iter().take(1000).any(|r| r.values[k].is_some()))
        .collect();
    let cols = std::iter::once("tenant_id, machine_id, ts_ms, interval_s".to_owned())
        .chain(used.iter().map(|&k| Metric::ALL[k].name().to_owned()))
        .collect::<Vec<_>>()
        .join(", ");
    (used, cols)
}

/// The peer approach the issue names: sqlx multi-row `INSERT ... VALUES (...), ...`
/// in one transaction, as many rows per statement as PostgreSQL's 65,535 bound
/// parameters allow, columns the rows leave empty left out.
async fn multirow_insert_baseline(
    url: &str,
    rows: &[IntervalRow],
    tenant: i64,
    machine: i64,
) -> Duration {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let (used, cols) = baseline_columns(rows);
    let per_row = 4 + used.len();
    let per_stmt = 65_535 / per_row;
    let start = Instant::now();
    let mut tx = begin_as(&mut c, tenant).await;
    for chunk in rows.chunks(per_stmt) {
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
            "INSERT INTO interval_metrics ({cols}) "
        ));
        q.push_values(chunk, |mut b, r| {
            b.push_bind(tenant)
                .push_bind(machine)
                .push_bind(r.timestamp_ms)
                .push_bind(r.elapsed_s);
            for &k in &used {
                b.push_bind(r.values[k]);
            }
        });
        q.build().execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    start.elapsed()
}

/// The other peer approach: `INSERT ... SELECT * FROM UNNEST($1, $2, ...)`, one
/// array parameter per column, 10,000 rows per statement, in one transaction.
async fn unnest_baseline(url: &str, rows: &[IntervalRow], tenant: i64, machine: i64) -> Duration {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let (used, cols) = baseline_columns(rows);
    let casts = ["bigint[]", "bigint[]", "bigint[]", "float8[]"]
        .into_iter()
        .chain(used.iter().map(|_| "float8[]"))
        .enumerate()
        .map(|(i, t)| format!("${}::{t}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!("INSERT INTO interval_metrics ({cols}) SELECT * FROM UNNEST({casts})");
    let start = Instant::now();
    let mut tx = begin_as(&mut c, tenant).await;
    for chunk in rows.chunks(10_000) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(text.clone()))
            .bind(vec![tenant; chunk.len()])
            .bind(vec![machine; chunk.len()])
            .bind(chunk.iter().map(|r| r.timestamp_ms).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.elapsed_s).collect::<Vec<_>>());
        for &k in &used {
            q = q.bind(
                chunk
                    .iter()
                    .map(|r| r.values[k])
                    .collect::<Vec<Option<f64>>>(),
            );
        }
        q.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    start.elapsed()
}

/// Per-device values: 10,000 intervals of a machine with 4 CPUs, 4 disks, 3
/// interfaces and 3 filesystems (127 values per interval, as `device_rows` makes them).
async fn devices_part(label: &str, store: &Store, t: perfstore::TenantId) {
    use perfcore::metrics::{DeviceKind, DeviceRow};
    let m = store
        .upsert_machine(
            t,
            "devices-1",
            None,
            &Labels::new(),
            &MachineFacts::default(),
        )
        .await
        .unwrap()
        .id;
    let mut layout: Vec<(DeviceKind, String, &'static str)> = Vec::new();
    for c in 0..4 {
        for k in [
            "user_pct",
            "nice_pct",
            "system_pct",
            "iowait_pct",
            "irq_pct",
            "softirq_pct",
            "steal_pct",
            "guest_pct",
            "idle_pct",
        ] {
            layout.push((DeviceKind::Cpu, c.to_string(), k));
        }
    }
    for d in ["sda", "sdb", "nvme0n1", "nvme1n1"] {
        for k in [
            "reads_per_s",
            "writes_per_s",
            "discards_per_s",
            "flushes_per_s",
            "read_bytes_per_s",
            "write_bytes_per_s",
            "discard_bytes_per_s",
            "r_await_ms",
            "w_await_ms",
            "d_await_ms",
            "f_await_ms",
            "aqu_sz",
            "util_pct",
        ] {
            layout.push((DeviceKind::Disk, d.to_owned(), k));
        }
    }
    for n in ["eth0", "eth1", "lo"] {
        for k in [
            "rx_bytes_per_s",
            "tx_bytes_per_s",
            "rx_packets_per_s",
            "tx_packets_per_s",
            "rx_errs_per_s",
            "tx_errs_per_s",
            "rx_drop_per_s",
            "tx_drop_per_s",
        ] {
            layout.push((DeviceKind::Net, n.to_owned(), k));
        }
    }
    for f in ["/", "/var", "/home"] {
        for k in [
            "size_bytes",
            "used_bytes",
            "available_bytes",
            "used_pct",
            "inodes_used_pct",
        ] {
            layout.push((DeviceKind::Fs, f.to_owned(), k));
        }
    }
    let intervals = 10_000usize;
    let before = store.size_bytes().await.unwrap();
    let start = Instant::now();
    let mut batch = Vec::with_capacity(100 * layout.len());
    for i in 0..intervals {
        for (j, (kind, device, metric)) in layout.iter().enumerate() {
            batch.push(DeviceRow {
                timestamp_ms: T0 + i as i64 * 10_000,
                kind: *kind,
                device: device.clone(),
                metric,
                value: ((i * 31 + j * 7) % 1000) as f64 / 10.0,
            });
        }
        if batch.len() >= 100 * layout.len() {
            store.ingest(t, m, &[], &batch).await.unwrap();
            batch.clear();
        }
    }
    store.ingest(t, m, &[], &batch).await.unwrap();
    let took = start.elapsed();
    let values = intervals * layout.len();
    let after = store.size_bytes().await.unwrap();
    println!(
        "{label:<10} device values: {} per interval, {values} stored at {} ({} bytes/value on disk)",
        layout.len(),
        rate(values, took).replace("rows/s", "values/s"),
        (after - before) / values as u64
    );
}

/// Where the bare read of the summary's columns (the floor under its end to end)
/// comes from: the store file, or the database as the owner.
enum Floor<'a> {
    Sqlite(&'a std::path::Path),
    Postgres(&'a str),
}

/// One bare read, on one connection, of the machine's compacted block values (every
/// byte of them): the floor under a summary from blocks.
async fn blocks_floor(floor: &Floor<'_>, t: i64, m: i64) -> (Duration, usize) {
    let select = format!(
        "SELECT sorted_values FROM metric_blocks WHERE tenant_id = {t} AND machine_id = {m}"
    );
    let start = Instant::now();
    let mut bytes = 0usize;
    match floor {
        Floor::Sqlite(path) => {
            let c = rusqlite::Connection::open(path).unwrap();
            c.pragma_update(None, "mmap_size", 1i64 << 31).unwrap();
            let mut stmt = c.prepare(&select).unwrap();
            let mut q = stmt.query([]).unwrap();
            let mut x = 0u8;
            while let Some(r) = q.next().unwrap() {
                let b = r.get_ref(0).unwrap().as_blob().unwrap();
                bytes += b.len();
                x ^= b.iter().fold(0u8, |a, v| a ^ v);
            }
            std::hint::black_box(x);
        }
        Floor::Postgres(url) => {
            use futures_util::TryStreamExt;
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let mut s = c
                .copy_out_raw(&format!("COPY ({select}) TO STDOUT (FORMAT binary)"))
                .await
                .unwrap();
            while let Some(b) = s.try_next().await.unwrap() {
                bytes += b.len();
            }
        }
    }
    assert!(bytes > 0);
    (start.elapsed(), bytes)
}

/// One bare read, on one connection, of the metric columns of the machine's rows:
/// rusqlite's step loop touching every value, or the bytes of a binary COPY TO.
async fn read_floor(floor: &Floor<'_>, t: i64, m: i64) -> Duration {
    let cols = Metric::ALL[..set_metrics()]
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ");
    let select =
        format!("SELECT {cols} FROM interval_metrics WHERE tenant_id = {t} AND machine_id = {m}");
    let start = Instant::now();
    match floor {
        Floor::Sqlite(path) => {
            let c = rusqlite::Connection::open(path).unwrap();
            let mut stmt = c.prepare(&select).unwrap();
            let mut q = stmt.query([]).unwrap();
            let mut sum = 0.0;
            while let Some(r) = q.next().unwrap() {
                for i in 0..set_metrics() {
                    if let rusqlite::types::ValueRef::Real(v) = r.get_ref(i).unwrap() {
                        sum += v;
                    }
                }
            }
            assert!(sum > 0.0);
        }
        Floor::Postgres(url) => {
            use futures_util::TryStreamExt;
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let mut s = c
                .copy_out_raw(&format!("COPY ({select}) TO STDOUT (FORMAT binary)"))
                .await
                .unwrap();
            let mut bytes = 0usize;
            while let Some(b) = s.try_next().await.unwrap() {
                bytes += b.len();
            }
            assert!(bytes > 0);
        }
    }
    start.elapsed()
}

async fn summary_and_export(
    label: &str,
    store: &Store,
    t: perfstore::TenantId,
    m: perfstore::MachineId,
    n: usize,
    floor: Floor<'_>,
) {
    let start = Instant::now();
    let s = store.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    let total = start.elapsed();
    let bare = read_floor(&floor, t.0, m.0).await;
    assert_eq!(s.len(), set_metrics());
    assert_eq!(s[0].1.count as usize, n);
    let cols = {
        let c = store
            .columns(t, m, &Metric::ALL[..set_metrics()], i64::MIN, i64::MAX)
            .await
            .unwrap();
        Metric::ALL[..set_metrics()]
            .iter()
            .zip(c.values)
            .map(|(m, v)| (*m, v.into_iter().flatten().collect::<Vec<f64>>()))
            .collect::<Vec<_>>()
    };
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let out = perfstore::summarize_parallel(&cols);
        best = best.min(start.elapsed());
        assert_eq!(out.len(), set_metrics());
    }
    println!(
        "{label:<10} summary 11 stats x {} metrics over {n} rows: end to end {:.3} s, computation alone {:.3} s, a bare read of the columns on 1 connection {:.3} s",
        set_metrics(),
        total.as_secs_f64(),
        best.as_secs_f64(),
        bare.as_secs_f64()
    );

    // The same summary once the rows are compacted into sorted blocks.
    let size_before = store.size_bytes().await.unwrap();
    let start = Instant::now();
    let c = store.compact(t, m).await.unwrap();
    let compact = start.elapsed();
    assert_eq!(c.rows as usize, n, "every row, the last block short");
    let size_after = store.size_bytes().await.unwrap();
    let mut best_blocks = Duration::MAX;
    let mut each = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let b = store.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
        best_blocks = best_blocks.min(start.elapsed());
        each.push(format!("{:.3}", start.elapsed().as_secs_f64()));
        assert_eq!(b.len(), s.len());
        for ((mb, sb), (ms, ss)) in b.iter().zip(&s) {
            assert_eq!(
                (mb, sb.count, sb.p50, sb.p99, sb.min),
                (ms, ss.count, ss.p50, ss.p99, ss.min)
            );
        }
    }
    // A range that cuts two blocks: their rows come from the table. Timed before
    // the bare read below, which pushes the blocks out of PostgreSQL's buffers.
    let (from, to) = (T0 + 1_000 * 10_000, T0 + (n as i64 - 1_000) * 10_000);
    let mut cut = Duration::MAX;
    let mut cuts = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let part = store.summary(t, m, from, to).await.unwrap();
        cut = cut.min(start.elapsed());
        cuts.push(format!("{:.3}", start.elapsed().as_secs_f64()));
        assert_eq!(part[0].1.count as usize, n - 2_000);
    }
    let (bare_blocks, block_bytes) = blocks_floor(&floor, t.0, m.0).await;
    // Once more after the bare read: blocks partly out of the database's cache.
    let start = Instant::now();
    store.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    let after_bare = start.elapsed();
    println!(
        "{label:<10} summary from compacted blocks: {:.3} s end to end (best of 5: {}; {:.3} s right after the bare read; {:.3} s over a range cutting two blocks (best of 3: {}); a bare read of the {:.0} MB of blocks on 1 connection {:.3} s); compaction of {} rows into {} blocks {:.3} s; store {:.0} -> {:.0} MB",
        best_blocks.as_secs_f64(),
        each.join(", "),
        after_bare.as_secs_f64(),
        cut.as_secs_f64(),
        cuts.join(", "),
        block_bytes as f64 / 1e6,
        bare_blocks.as_secs_f64(),
        c.rows,
        c.blocks,
        compact.as_secs_f64(),
        size_before as f64 / 1e6,
        size_after as f64 / 1e6
    );

    // Export: the last 7 days at 10 s = 60,480 rows, to our wide CSV in memory.
    let week = 7 * 86_400_000;
    let to = T0 + n as i64 * 10_000;
    let from = to - week;
    let (mut best, mut best_read, mut best_csv) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut bytes = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let rows = store.rows(t, m, from, to).await.unwrap();
        let read = start.elapsed();
        let mut w = WideWriter::new(Vec::with_capacity(40 << 20)).unwrap();
        for r in &rows {
            w.write("bench-1", r).unwrap();
        }
        let out = w.finish().unwrap();
        let total = start.elapsed();
        best = best.min(total);
        best_read = best_read.min(read);
        best_csv = best_csv.min(total - read);
        bytes = out.len();
        assert_eq!(rows.len(), 60_480.min(n));
    }
    println!(
        "{label:<10} export 7 days (60,480 rows) to CSV: {:.3} s (reading {:.3} s, writing CSV {:.3} s; {} MB)",
        best.as_secs_f64(),
        best_read.as_secs_f64(),
        best_csv.as_secs_f64(),
        bytes >> 20
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rows = make_rows(n);
    println!(
        "{n} interval rows, {} of {} metric columns set",
        set_metrics(),
        Metric::ALL.len()
    );

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only != "postgres" {
        sqlite_part(&rows, n).await;
    }
    if only != "sqlite" {
        postgres_part(&rows, n).await;
    }
}

fn reps() -> usize {
    std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn report(label: &str, what: &str, n: usize, best: Duration, base: Duration) {
    println!(
        "{label:<10} {what:<38} {}  = {:.2}x of bare",
        rate(n, best),
        base.as_secs_f64() / best.as_secs_f64()
    );
}

async fn sqlite_part(rows: &[IntervalRow], n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (mut base, mut ours, mut batched) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut kept = None;
    // Interleaved repetitions, best of each: other load on the machine hits both sides.
    for rep in 0..reps() {
        let base_path = dir.path().join(format!("baseline-{rep}.db"));
        let (bs, bt, bm) = fresh_store(&format!("sqlite://{}", base_path.display())).await;
        bs.close().await;
        base = base.min(rusqlite_baseline(&base_path, rows, bm.0, bt.0));
        let _ = std::fs::remove_file(&base_path);

        let path = dir.path().join(format!("store-{rep}.db"));
        let (store, t, m) = fresh_store(&format!("sqlite://{}", path.display())).await;
        let start = Instant::now();
        let r = store.ingest(t, m, rows, &[]).await.unwrap();
        ours = ours.min(start.elapsed());
        assert_eq!(r.stored as usize, n);

        let path2 = dir.path().join(format!("batched-{rep}.db"));
        let (store2, t2, m2) = fresh_store(&format!("sqlite://{}", path2.display())).await;
        let start = Instant::now();
        for chunk in rows.chunks(10_000) {
            store2.ingest(t2, m2, chunk, &[]).await.unwrap();
        }
        batched = batched.min(start.elapsed());
        store2.close().await;
        let _ = std::fs::remove_file(&path2);
        if let Some((old, _, _, p)) = kept.replace((store, t, m, path)) {
            let old: Store = old;
            old.close().await;
            let _ = std::fs::remove_file(p);
        }
    }
    let (store, t, m, path) = kept.unwrap();
    println!(
        "sqlite     bare rusqlite prepared insert, 1 tx:       {}",
        rate(n, base)
    );
    report("sqlite", "Store::ingest, 1 batch:", n, ours, base);
    report(
        "sqlite",
        "Store::ingest, batches of 10,000:",
        n,
        batched,
        base,
    );
    let size = store.size_bytes().await.unwrap();
    println!(
        "sqlite     on disk: {} bytes/row ({} MB for {n} rows)",
        size / n as u64,
        size >> 20
    );
    let start = Instant::now();
    let again = store
        .ingest(t, m, &rows[..n.min(100_000)], &[])
        .await
        .unwrap();
    println!(
        "sqlite     resend of {} rows (all present):  {}",
        again.already_present,
        rate(again.already_present as usize, start.elapsed())
    );
    summary_and_export("sqlite", &store, t, m, n, Floor::Sqlite(&path)).await;
    devices_part("sqlite", &store, t).await;
    store.close().await;
}

async fn postgres_part(rows: &[IntervalRow], n: usize) {
    let Ok(admin) = std::env::var("DATABASE_URL") else {
        println!("postgres   skipped: DATABASE_URL not set");
        return;
    };
    let mut a = sqlx::PgConnection::connect(&admin).await.unwrap();
    let db_url = |name: &str| {
        let (base, q) = admin
            .split_once('?')
            .map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
        let cut = base
            .rfind('/')
            .filter(|&i| i > base.find("://").unwrap() + 2)
            .unwrap_or(base.len());
        format!(
            "{}/{name}{}",
            &base[..cut],
            q.map(|q| format!("?{q}")).unwrap_or_default()
        )
    };
    let names = [
        format!("perfan_bench_base_{}", std::process::id()),
        format!("perfan_bench_store_{}", std::process::id()),
        format!("perfan_bench_batched_{}", std::process::id()),
    ];
    // The store runs as a plain role, as in production, so row-level security applies;
    // the bare COPY runs as the owner into the partition.
    let role = format!("perfan_bench_app_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN")))
        .execute(&mut a)
        .await
        .unwrap();
    let as_role = |name: &str| {
        let u = db_url(name);
        match u
            .split_once("://")
            .and_then(|(s, rest)| rest.split_once('@').map(|(_, h)| (s, h)))
        {
            Some((scheme, host)) => format!("{scheme}://{role}@{host}"),
            None => u.replacen("://", &format!("://{role}@"), 1),
        }
    };
    let mut ids = Vec::new();
    for name in &names {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut a)
            .await
            .unwrap();
        let (s, t, m) = fresh_store(&db_url(name)).await; // migrate as the owner
        s.close().await;
        ids.push((t, m));
        let mut c = sqlx::PgConnection::connect(&db_url(name)).await.unwrap();
        for stmt in [
            format!("GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {role}"),
            format!("GRANT USAGE ON SCHEMA public TO {role}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            ),
            format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
            format!("GRANT USAGE ON SCHEMA perfan_ingest TO {role}"),
            format!("GRANT INSERT ON perfan_ingest.interval_metrics TO {role}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(stmt))
                .execute(&mut c)
                .await
                .unwrap();
        }
        c.close().await.ok();
    }
    let store = Store::open(&as_role(&names[1])).await.unwrap();
    let store2 = Store::open(&as_role(&names[2])).await.unwrap();
    let (t, m) = ids[1];
    let (t2, m2) = ids[2];
    let empty = |name: String| async move {
        let mut c = sqlx::PgConnection::connect(&name).await.unwrap();
        sqlx::query("TRUNCATE interval_metrics")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("CHECKPOINT").execute(&mut c).await.unwrap();
        c.close().await.ok();
    };
    let (mut base, mut ours, mut batched) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut multirow, mut unnest) = (Duration::MAX, Duration::MAX);
    for _ in 0..reps() {
        empty(db_url(&names[0])).await;
        base = base.min(copy_baseline(&db_url(&names[0]), rows, ids[0].0.0, ids[0].1.0).await);
        if std::env::var("BENCH_PEERS").as_deref() != Ok("0") {
            empty(db_url(&names[0])).await;
            multirow = multirow.min(
                multirow_insert_baseline(&db_url(&names[0]), rows, ids[0].0.0, ids[0].1.0).await,
            );
            empty(db_url(&names[0])).await;
            unnest =
                unnest.min(unnest_baseline(&db_url(&names[0]), rows, ids[0].0.0, ids[0].1.0).await);
        }
        empty(db_url(&names[1])).await;
        let start = Instant::now();
        let r = store.ingest(t, m, rows, &[]).await.unwrap();
        ours = ours.min(start.elapsed());
        assert_eq!(r.stored as usize, n);
        empty(db_url(&names[2])).await;
        let start = Instant::now();
        for chunk in rows.chunks(10_000) {
            store2.ingest(t2, m2, chunk, &[]).await.unwrap();
        }
        batched = batched.min(start.elapsed());
    }
    store2.close().await;
    println!(
        "postgres   bare binary COPY into the table, 1 tx:   {}",
        rate(n, base)
    );
    if multirow < Duration::MAX {
        report(
            "postgres",
            "sqlx multi-row INSERT, 1 tx:",
            n,
            multirow,
            base,
        );
        report("postgres", "sqlx INSERT ... UNNEST, 1 tx:", n, unnest, base);
    }
    report("postgres", "Store::ingest, 1 batch:", n, ours, base);
    if multirow < Duration::MAX {
        println!(
            "postgres   Store::ingest vs the peers: {:.2}x multi-row INSERT, {:.2}x UNNEST",
            multirow.as_secs_f64() / ours.as_secs_f64(),
            unnest.as_secs_f64() / ours.as_secs_f64()
        );
    }
    report(
        "postgres",
        "Store::ingest, batches of 10,000:",
        n,
        batched,
        base,
    );
    let start = Instant::now();
    let again = store
        .ingest(t, m, &rows[..n.min(100_000)], &[])
        .await
        .unwrap();
    println!(
        "postgres   resend of {} rows (all present):  {}",
        again.already_present,
        rate(again.already_present as usize, start.elapsed())
    );
    let mut c = sqlx::PgConnection::connect(&db_url(&names[1]))
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE interval_metrics")
        .execute(&mut c)
        .await
        .unwrap();
    let size: i64 =
        sqlx::query_scalar("SELECT pg_total_relation_size('perfan_ingest.interval_metrics')")
            .fetch_one(&mut c)
            .await
            .unwrap();
    let heap: i64 = sqlx::query_scalar("SELECT pg_relation_size('perfan_ingest.interval_metrics')")
        .fetch_one(&mut c)
        .await
        .unwrap();
    println!(
        "postgres   on disk: {} bytes/row with the primary key ({} heap), {} MB for {n} rows",
        size / n as i64,
        heap / n as i64,
        size >> 20
    );
    summary_and_export(
        "postgres",
        &store,
        t,
        m,
        n,
        Floor::Postgres(&db_url(&names[1])),
    )
    .await;
    devices_part("postgres", &store, t).await;
    if std::env::var("BENCH_SQL_PERCENTILES").as_deref() != Ok("0") {
        let exprs: Vec<String> = Metric::ALL[..set_metrics()]
            .iter()
            .map(|m| {
                let c = m.name();
                format!(
                    "min({c}), max({c}), avg({c}), stddev_samp({c}), \
                     percentile_cont(ARRAY[0.5,0.75,0.9,0.95,0.975,0.99,1.0]) WITHIN GROUP (ORDER BY {c})"
                )
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM interval_metrics WHERE tenant_id = {} AND machine_id = {}",
            exprs.join(", "),
            t.0,
            m.0
        );
        let start = Instant::now();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut c)
            .await
            .unwrap();
        println!(
            "postgres   same statistics in SQL (percentile_cont): {:.3} s",
            start.elapsed().as_secs_f64()
        );
    }
    c.close().await.ok();
    store.close().await;
    if std::env::var("BENCH_KEEP").as_deref() == Ok("1") {
        println!("postgres   BENCH_KEEP=1: kept databases {names:?} and role {role}");
        return;
    }
    for name in &names {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .execute(&mut a)
        .await
        .unwrap();
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
        .execute(&mut a)
        .await
        .unwrap();
}
