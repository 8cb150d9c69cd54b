//! Compacted summary blocks: summaries read from them equal summaries of the rows,
//! and ingest and retention drop the blocks whose rows they change.

use perfcore::metrics::{IntervalRow, MachineFacts, Metric};
use perfcore::stats::{Summary, summarize};
use perfstore::{Error, Labels, Store};

use crate::harness::{TEST_BLOCK_ROWS as BLOCK_ROWS, TestDb};
use crate::{T0, both};

async fn machine(store: &Store, tenant: perfstore::TenantId, key: &str) -> perfstore::MachineId {
    store
        .upsert_machine(tenant, key, None, &Labels::new(), &MachineFacts::default())
        .await
        .expect("machine")
        .id
}

/// A row at `T0 + i * 10 s` whose values jump about (so that a block's sorted order
/// differs from its time order), with repeats, negatives, and gaps.
fn row(i: i64) -> IntervalRow {
    let mut r = IntervalRow::new(T0 + i * 10_000, 10.0);
    for (k, v) in r.values.iter_mut().enumerate() {
        let x = ((i * 7_919 + k as i64 * 104_729) % 1_009) as f64;
        *v = match k % 5 {
            _ if k % 7 == 3 && i % 3 == 0 => None,
            0 => Some(x * 0.25 - 100.0),
            1 => Some((x / 100.0).floor()), // few distinct values
            _ => Some(x * 1.5 + k as f64),
        };
    }
    r
}

fn rows(idx: impl IntoIterator<Item = i64>) -> Vec<IntervalRow> {
    idx.into_iter().map(row).collect()
}

/// perfcore's statistics of the rows with `from <= ts < to`, per metric with values.
fn expected(rows: &[IntervalRow], from: i64, to: i64) -> Vec<(Metric, Summary)> {
    let inside: Vec<&IntervalRow> = rows
        .iter()
        .filter(|r| r.timestamp_ms >= from && r.timestamp_ms < to)
        .collect();
    Metric::ALL
        .iter()
        .filter_map(|m| {
            let v: Vec<f64> = inside.iter().filter_map(|r| r.get(*m)).collect();
            summarize(&v).map(|s| (*m, s))
        })
        .collect()
}

/// Equal up to the rounding of the sums: count, min, max and percentiles exactly.
fn assert_same(got: &[(Metric, Summary)], want: &[(Metric, Summary)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: metrics");
    for ((gm, g), (wm, w)) in got.iter().zip(want) {
        assert_eq!(gm, wm, "{what}");
        assert_eq!(g.count, w.count, "{what}: {} count", gm.name());
        for name in [
            "min", "max", "p50", "p75", "p90", "p95", "p97_5", "p99", "p100",
        ] {
            assert_eq!(g.get(name), w.get(name), "{what}: {} {name}", gm.name());
        }
        for name in ["avg", "stddev"] {
            let (a, b) = (g.get(name).unwrap(), w.get(name).unwrap());
            assert!(
                (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs())),
                "{what}: {} {name} {a} vs {b}",
                gm.name()
            );
        }
    }
}

both!(
    compacted_summary_equals_the_rows,
    rows_stored_inside_a_block_drop_it,
    retention_drops_the_blocks_it_cuts,
);

async fn compacted_summary_equals_the_rows(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("a").await.unwrap().id;
    let m = machine(s, t, "m").await;
    let all = rows(0..10_000);
    s.ingest(t, m, &all, &[]).await.unwrap();
    let whole = (i64::MIN, i64::MAX);
    // A range that cuts both compacted blocks and the uncompacted tail.
    let cut = (T0 + 1_234 * 10_000, T0 + 9_000 * 10_000);
    let before = s.summary(t, m, whole.0, whole.1).await.unwrap();
    assert_same(&before, &expected(&all, whole.0, whole.1), "rows only");

    // 10,000 rows: two full blocks and a short one of the last 1,808 rows.
    let r = s.compact(t, m).await.unwrap();
    assert_eq!((r.blocks, r.rows), (3, 10_000));
    assert_eq!(s.compact(t, m).await.unwrap().blocks, 0, "nothing new");
    for (from, to) in [whole, cut, (T0, T0 + 4_096 * 10_000), (T0 + 5, T0 + 15)] {
        let got = s.summary(t, m, from, to).await.unwrap();
        assert_same(&got, &expected(&all, from, to), &format!("{from}..{to}"));
    }
    let f = s.fleet(t, Metric::CpuUserPct, cut.0, cut.1).await.unwrap();
    assert_same(
        &[(Metric::CpuUserPct, f[0].1)],
        &expected(&all, cut.0, cut.1)[..1],
        "fleet",
    );

    // 3,000 more rows, after the short block: it is built again with them, into one
    // full block and a short one (1,808 + 3,000 = 4,096 + 712 rows).
    let more = rows(10_000..13_000);
    s.ingest(t, m, &more, &[]).await.unwrap();
    let r = s.compact(t, m).await.unwrap();
    assert_eq!((r.blocks, r.rows), (2, 4_808));
    let all: Vec<IntervalRow> = all.into_iter().chain(more).collect();
    let got = s.summary(t, m, whole.0, whole.1).await.unwrap();
    assert_same(&got, &expected(&all, whole.0, whole.1), "after more rows");
    // A resend stores nothing and keeps the blocks.
    assert_eq!(s.ingest(t, m, &all[..100], &[]).await.unwrap().stored, 0);
    assert_eq!(s.compact(t, m).await.unwrap().blocks, 0);
}

async fn rows_stored_inside_a_block_drop_it(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("a").await.unwrap().id;
    let m = machine(s, t, "m").await;
    // Even indexes only: two full blocks with a hole at every odd timestamp.
    let even = rows((0..2 * BLOCK_ROWS as i64).map(|i| 2 * i));
    s.ingest(t, m, &even, &[]).await.unwrap();
    assert_eq!(s.compact(t, m).await.unwrap().blocks, 2);
    // One row lands in a hole of the first block.
    let late = rows([101]);
    assert_eq!(s.ingest(t, m, &late, &[]).await.unwrap().stored, 1);
    let all: Vec<IntervalRow> = {
        let mut v = even.clone();
        v.extend(late);
        v.sort_by_key(|r| r.timestamp_ms);
        v
    };
    let got = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_same(
        &got,
        &expected(&all, i64::MIN, i64::MAX),
        "with the late row",
    );
    assert_eq!(got[0].1.count, 2 * BLOCK_ROWS as u64 + 1);
    // The first block is rebuilt: its 4,097 rows lie before the second span, so a
    // short block of one row is allowed after a full one.
    let r = s.compact(t, m).await.unwrap();
    assert_eq!((r.blocks, r.rows), (2, BLOCK_ROWS as u64 + 1));
    let got = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_same(&got, &expected(&all, i64::MIN, i64::MAX), "rebuilt");
}

async fn retention_drops_the_blocks_it_cuts(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("a").await.unwrap().id;
    let other = s.tenant_by_name_or_create("b").await.unwrap().id;
    let m = machine(s, t, "m").await;
    let mo = machine(s, other, "m").await;
    let all = rows(0..3 * BLOCK_ROWS as i64);
    s.ingest(t, m, &all, &[]).await.unwrap();
    s.ingest(other, mo, &all, &[]).await.unwrap();
    assert_eq!(s.compact(t, m).await.unwrap().blocks, 3);
    assert_eq!(s.compact_tenant(other).await.unwrap().blocks, 3);
    // The cutoff falls inside the second block.
    let cutoff = T0 + 5_000 * 10_000;
    let del = s.delete_before(t, cutoff).await.unwrap();
    assert_eq!(del.rows_deleted, 5_000);
    let got = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_same(&got, &expected(&all, cutoff, i64::MAX), "after retention");
    // The third block survived; rows 5,000..8,191 are rows again, and as they lie
    // before a span they compact into one short block.
    let r = s.compact(t, m).await.unwrap();
    assert_eq!((r.blocks, r.rows), (1, 3_192));
    let got = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_same(&got, &expected(&all, cutoff, i64::MAX), "recompacted");
    // The other tenant's blocks are untouched.
    let got = s.summary(other, mo, i64::MIN, i64::MAX).await.unwrap();
    assert_same(&got, &expected(&all, i64::MIN, i64::MAX), "other tenant");
    // An unknown machine is an error, not an empty compaction.
    assert!(matches!(
        s.compact(t, mo).await,
        Err(Error::NotFound { .. })
    ));
}

/// A block whose stored values are damaged gives an error, not a wrong summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_damaged_block_is_an_error() {
    let db = crate::harness::sqlite().await;
    let s = &db.store;
    let t = s.tenant_by_name_or_create("a").await.unwrap().id;
    let m = machine(s, t, "m").await;
    s.ingest(t, m, &rows(0..BLOCK_ROWS as i64), &[])
        .await
        .unwrap();
    assert_eq!(s.compact(t, m).await.unwrap().blocks, 1);
    let path = db.url.trim_start_matches("sqlite://");
    let path = path.split('?').next().unwrap();
    let c = rusqlite::Connection::open(path).unwrap();
    // Swap the first (smallest) and last (largest) values of one block.
    let (bytes,): (Vec<u8>,) = c
        .query_row(
            "SELECT sorted_values FROM metric_blocks WHERE metric = 'load1'",
            [],
            |r| Ok((r.get(0)?,)),
        )
        .unwrap();
    let mut bad = bytes.clone();
    let n = bytes.len();
    bad[..8].copy_from_slice(&bytes[n - 8..]);
    bad[n - 8..].copy_from_slice(&bytes[..8]);
    assert!(bad != bytes, "the smallest and largest values differ");
    c.execute(
        "UPDATE metric_blocks SET sorted_values = ?1 WHERE metric = 'load1'",
        [&bad],
    )
    .unwrap();
    let err = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}

/// In-memory stores compact through sqlx inside the write transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_store_compacts_too() {
    let s = Store::open_with("sqlite::memory:", &crate::harness::options())
        .await
        .unwrap();
    let t = s.tenant_by_name_or_create("a").await.unwrap().id;
    let m = machine(&s, t, "m").await;
    let all = rows(0..5_000);
    s.ingest(t, m, &all, &[]).await.unwrap();
    let r = s.compact(t, m).await.unwrap();
    assert_eq!((r.blocks, r.rows), (2, 5_000));
    let got = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_same(&got, &expected(&all, i64::MIN, i64::MAX), "memory");
}

/// On PostgreSQL a summary reads sketches and slices: a sketch that does not fit
/// its count, and block values that disagree with their sketch where it sampled
/// them, are errors, not wrong summaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_damaged_sketch_or_values_are_errors() {
    use sqlx::Connection;
    let Some(db) = crate::harness::postgres().await else {
        return;
    };
    let s = &db.store;
    let t = s.tenant_by_name_or_create("a").await.unwrap().id;
    let m = machine(s, t, "m").await;
    let all = rows(0..2 * BLOCK_ROWS as i64);
    s.ingest(t, m, &all, &[]).await.unwrap();
    assert_eq!(s.compact(t, m).await.unwrap().blocks, 2);
    let good = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_same(&good, &expected(&all, i64::MIN, i64::MAX), "undamaged");
    // The test database's owner is a superuser: row-level security does not apply.
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let run = |sql: &'static str| {
        let url = db.url.clone();
        async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let n = sqlx::query(sql)
                .execute(&mut c)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(n, 1, "{sql}");
        }
    };
    // A sketch one value short.
    run(
        "UPDATE metric_blocks SET sketch = substring(sketch FROM 9) \
         WHERE metric = 'load1' AND first_ms = (SELECT min(first_ms) FROM metric_blocks)",
    )
    .await;
    let err = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    // Undo it by compacting again from the rows: drop the spans (as retention would).
    sqlx::query("TRUNCATE metric_blocks, block_spans")
        .execute(&mut c)
        .await
        .unwrap();
    assert_eq!(s.compact(t, m).await.unwrap().blocks, 2);
    let again = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_same(&again, &expected(&all, i64::MIN, i64::MAX), "rebuilt");
    // Values overwritten with zeros: sorted, but not what the sketch sampled.
    run("UPDATE metric_blocks SET sorted_values = decode(repeat('00', length(sorted_values)), 'hex') \
         WHERE metric = 'load1' AND first_ms = (SELECT min(first_ms) FROM metric_blocks)")
        .await;
    let err = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    c.close().await.ok();
}
