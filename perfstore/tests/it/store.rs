//! The store's API, the same test on both backends.

use perfcore::metrics::{DeviceKind, DeviceRow, IntervalRow, MachineFacts, Metric};
use perfcore::stats::summarize;
use perfstore::{Error, Labels, NewUpload, Role, Store};

use crate::harness::TestDb;
use crate::{T0, both, devices, metric_values, row, rows};

async fn machine(store: &Store, tenant: perfstore::TenantId, key: &str) -> perfstore::Machine {
    store
        .upsert_machine(tenant, key, None, &Labels::new(), &MachineFacts::default())
        .await
        .expect("machine")
}

both!(
    reopen_applies_no_migration_twice,
    default_tenant_is_created_once,
    rows_round_trip_every_column,
    resend_stores_nothing_twice,
    bad_row_rejects_the_whole_batch,
    large_batch_spans_statement_and_staging_chunks,
    devices_round_trip_and_resend,
    series_of_two_machines_stay_apart_across_batches,
    time_range_is_half_open,
    downsample_gives_min_avg_max_per_bucket,
    summary_matches_perfcore_stats,
    fleet_compares_machines,
    retention_deletes_old_data_of_one_tenant_only,
    keys_are_shown_once_hashed_scoped_and_revocable,
    users_have_argon2id_passwords_and_roles,
    uploads_and_audit_are_recorded,
    machines_keep_facts_labels_and_last_seen,
    tenants_cannot_reach_each_other_through_the_api,
    schema_has_a_column_per_metric,
);

async fn reopen_applies_no_migration_twice(db: TestDb) {
    let t = db.store.tenant_by_name_or_create("a").await.unwrap();
    let again = Store::open(&db.url).await.expect("reopen");
    let t2 = again
        .tenant_by_name("a")
        .await
        .unwrap()
        .expect("tenant kept");
    assert_eq!(t.id, t2.id);
    again.close().await;
}

async fn default_tenant_is_created_once(db: TestDb) {
    let s = &db.store;
    assert!(s.list_tenants().await.unwrap().is_empty());
    let a = s
        .tenant_by_name_or_create(perfstore::DEFAULT_TENANT)
        .await
        .unwrap();
    let b = s
        .tenant_by_name_or_create(perfstore::DEFAULT_TENANT)
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.name, "default");
    assert!(matches!(
        s.create_tenant("default").await,
        Err(Error::AlreadyExists { what: "tenant", .. })
    ));
    s.create_tenant("acme").await.unwrap();
    let names: Vec<String> = s
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["default", "acme"]);
    assert!(matches!(
        s.create_tenant("  ").await,
        Err(Error::Invalid(_))
    ));
}

async fn rows_round_trip_every_column(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "web-1").await;
    let batch = rows(0, 30);
    let rep = s.ingest(t.id, m.id, &batch, &[]).await.unwrap();
    assert_eq!((rep.stored, rep.already_present), (30, 0));
    let back = s.rows(t.id, m.id, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(
        back, batch,
        "every column, NULLs included, comes back as stored"
    );
    // Out of order input comes back in time order.
    let m2 = machine(s, t.id, "web-2").await;
    let mut shuffled = rows(0, 10);
    shuffled.reverse();
    s.ingest(t.id, m2.id, &shuffled, &[]).await.unwrap();
    let back2 = s.rows(t.id, m2.id, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(back2, rows(0, 10));
    // Columns view agrees.
    let cols = s
        .columns(
            t.id,
            m.id,
            &[Metric::Load1, Metric::CpuUserPct],
            T0,
            T0 + 30_000,
        )
        .await
        .unwrap();
    assert_eq!(cols.timestamps_ms, vec![T0, T0 + 10_000, T0 + 20_000]);
    assert_eq!(
        cols.values[0],
        vec![
            row(0).get(Metric::Load1),
            row(1).get(Metric::Load1),
            row(2).get(Metric::Load1)
        ]
    );
    assert_eq!(cols.values[1][1], Some(1.25 + 0.125));
    // Chunks with different sets of columns (sparse rows, then full ones).
    let m3 = machine(s, t.id, "web-3").await;
    let mut mixed = rows(1000, 600);
    for r in &mut mixed[..300] {
        let keep = r.get(Metric::CpuUserPct);
        r.values = [None; perfcore::metrics::METRIC_COUNT];
        r.set(Metric::CpuUserPct, keep);
    }
    mixed[450].values = [None; perfcore::metrics::METRIC_COUNT];
    s.ingest(t.id, m3.id, &mixed, &[]).await.unwrap();
    assert_eq!(
        s.rows(t.id, m3.id, i64::MIN, i64::MAX).await.unwrap(),
        mixed
    );
}

async fn resend_stores_nothing_twice(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "db-1").await;
    let first = s.ingest(t.id, m.id, &rows(0, 100), &[]).await.unwrap();
    assert_eq!((first.stored, first.already_present), (100, 0));
    let again = s.ingest(t.id, m.id, &rows(0, 100), &[]).await.unwrap();
    assert_eq!((again.stored, again.already_present), (0, 100));
    // Half overlapping: 50 old, 50 new.
    let half = s.ingest(t.id, m.id, &rows(50, 100), &[]).await.unwrap();
    assert_eq!((half.stored, half.already_present), (50, 50));
    // The same timestamp twice in one batch stores it once.
    let mut dup = rows(200, 3);
    dup.push(row(201));
    let d = s.ingest(t.id, m.id, &dup, &[]).await.unwrap();
    assert_eq!((d.stored, d.already_present), (3, 1));
    // A resend with different values keeps the first values (first write wins).
    let mut changed = row(10);
    changed.set(Metric::Load1, Some(999.0));
    let c = s.ingest(t.id, m.id, &[changed], &[]).await.unwrap();
    assert_eq!((c.stored, c.already_present), (0, 1));
    let back = s
        .rows(t.id, m.id, T0 + 100_000, T0 + 100_001)
        .await
        .unwrap();
    assert_eq!(back, vec![row(10)]);
    assert_eq!(
        s.rows(t.id, m.id, i64::MIN, i64::MAX).await.unwrap().len(),
        153
    );
}

async fn bad_row_rejects_the_whole_batch(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "m").await;
    let mut batch = rows(0, 10);
    batch[3].set(Metric::CpuIdlePct, Some(f64::INFINITY));
    let e = s.ingest(t.id, m.id, &batch, &[]).await.unwrap_err();
    match &e {
        Error::BadRow {
            what,
            index,
            timestamp_ms,
            message,
        } => {
            assert_eq!((*what, *index, *timestamp_ms), ("row", 3, T0 + 30_000));
            assert!(message.contains("cpu_idle_pct"), "{message}");
        }
        other => panic!("expected BadRow, got {other:?}"),
    }
    assert!(e.to_string().contains("row 3"), "{e}");
    assert!(
        s.rows(t.id, m.id, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );

    // A bad device value rejects the interval rows with it.
    let mut devs = devices(0);
    devs[1].value = f64::NAN;
    let e = s.ingest(t.id, m.id, &rows(0, 1), &devs).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::BadRow {
                what: "device row",
                index: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        s.rows(t.id, m.id, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.devices(t.id, m.id, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );

    // An unknown machine: nothing written.
    let e = s
        .ingest(t.id, perfstore::MachineId(987_654), &rows(0, 2), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotFound {
                what: "machine",
                ..
            }
        ),
        "{e}"
    );
}

async fn large_batch_spans_statement_and_staging_chunks(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "big").await;
    // 45,001 rows: many 256-row statements on SQLite, three 20,000-row stages on PostgreSQL.
    let batch = rows(0, 45_001);
    let r = s.ingest(t.id, m.id, &batch, &[]).await.unwrap();
    assert_eq!((r.stored, r.already_present), (45_001, 0));
    let r = s
        .ingest(t.id, m.id, &rows(40_000, 10_000), &[])
        .await
        .unwrap();
    assert_eq!((r.stored, r.already_present), (4_999, 5_001));
    let back = s.rows(t.id, m.id, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(back.len(), 50_000);
    assert_eq!(back[49_999], row(49_999));
    assert_eq!(back[12_345], row(12_345));
}

async fn devices_round_trip_and_resend(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "m").await;
    let devs: Vec<_> = (0..5).flat_map(devices).collect();
    let r = s.ingest(t.id, m.id, &rows(0, 5), &devs).await.unwrap();
    assert_eq!((r.devices_stored, r.devices_already_present), (15, 0));
    let more: Vec<_> = (3..8).flat_map(devices).collect();
    let r = s.ingest(t.id, m.id, &[], &more).await.unwrap();
    assert_eq!((r.devices_stored, r.devices_already_present), (9, 6));
    assert_eq!((r.stored, r.already_present), (0, 0));
    let back = s
        .devices(t.id, m.id, T0 + 10_000, T0 + 20_000)
        .await
        .unwrap();
    assert_eq!(back.len(), 3);
    // Ordered by time, kind, device, metric: cpu before disk, nvme0n1 before sda.
    assert_eq!(back[0].kind, DeviceKind::Cpu);
    assert_eq!(
        (
            back[0].device.as_str(),
            back[0].metric.as_str(),
            back[0].value
        ),
        ("0", "user_pct", 0.5)
    );
    assert_eq!(
        (
            back[1].device.as_str(),
            back[1].metric.as_str(),
            back[1].value
        ),
        ("nvme0n1", "read_bytes_per_s", 1e6 + 1.0)
    );
    assert_eq!((back[2].device.as_str(), back[2].value), ("sda", 1.0));
    assert_eq!(
        s.devices(t.id, m.id, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .len(),
        24
    );
}

/// Batches that reuse known series (the SQLite backend then looks their ids up
/// in its cache) and batches that bring new ones, for two machines with the same
/// device names, interleaved: every value comes back under its own machine and
/// device, also through a second handle on the same database.
async fn series_of_two_machines_stay_apart_across_batches(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let (m1, m2) = (machine(s, t.id, "m1").await, machine(s, t.id, "m2").await);
    let dev = |i: i64, kind: DeviceKind, name: &str, metric: &'static str, value: f64| DeviceRow {
        timestamp_ms: T0 + i * 10_000,
        kind,
        device: name.to_owned(),
        metric,
        value,
    };
    let cpu = |i, v| dev(i, DeviceKind::Cpu, "0", "user_pct", v);
    let sda = |i, v| dev(i, DeviceKind::Disk, "sda", "util_pct", v);
    let batches = [
        (m1.id, vec![cpu(0, 1.0)]),
        (m2.id, vec![cpu(0, 2.0)]),
        (m1.id, vec![cpu(1, 11.0), sda(1, 12.0)]), // one known series, one new
        (m2.id, vec![sda(1, 22.0), cpu(1, 21.0)]),
        (m1.id, vec![cpu(2, 111.0), sda(2, 112.0)]), // all known
    ];
    for (m, b) in &batches {
        let r = s.ingest(t.id, *m, &[], b).await.unwrap();
        assert_eq!(r.devices_stored, b.len() as u64);
    }
    // A second handle on the same database adds a series the first has not seen.
    let other = Store::open(&db.url).await.expect("second handle");
    other
        .ingest(
            t.id,
            m2.id,
            &[],
            &[dev(2, DeviceKind::Net, "eth0", "rx_bytes_per_s", 23.0)],
        )
        .await
        .unwrap();
    other.close().await;
    let r = s
        .ingest(
            t.id,
            m2.id,
            &[],
            &[
                cpu(2, 221.0),
                dev(3, DeviceKind::Net, "eth0", "rx_bytes_per_s", 24.0),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.devices_stored, 2);
    let got = |m| async move {
        let mut v: Vec<(i64, String, String, f64)> = s
            .devices(t.id, m, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|d| ((d.timestamp_ms - T0) / 10_000, d.device, d.metric, d.value))
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    };
    let want = |i: i64, d: &str, m: &str, v: f64| (i, d.to_owned(), m.to_owned(), v);
    assert_eq!(
        got(m1.id).await,
        vec![
            want(0, "0", "user_pct", 1.0),
            want(1, "0", "user_pct", 11.0),
            want(1, "sda", "util_pct", 12.0),
            want(2, "0", "user_pct", 111.0),
            want(2, "sda", "util_pct", 112.0),
        ]
    );
    assert_eq!(
        got(m2.id).await,
        vec![
            want(0, "0", "user_pct", 2.0),
            want(1, "0", "user_pct", 21.0),
            want(1, "sda", "util_pct", 22.0),
            want(2, "0", "user_pct", 221.0),
            want(2, "eth0", "rx_bytes_per_s", 23.0),
            want(3, "eth0", "rx_bytes_per_s", 24.0),
        ]
    );
}

async fn time_range_is_half_open(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "m").await;
    s.ingest(t.id, m.id, &rows(0, 10), &[]).await.unwrap();
    let got = s.rows(t.id, m.id, T0 + 20_000, T0 + 50_000).await.unwrap();
    let ts: Vec<i64> = got.iter().map(|r| r.timestamp_ms).collect();
    assert_eq!(ts, vec![T0 + 20_000, T0 + 30_000, T0 + 40_000]);
    assert!(
        s.rows(t.id, m.id, T0 + 1, T0 + 10_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.time_bounds(t.id, m.id, i64::MIN, i64::MAX).await.unwrap(),
        Some((T0, T0 + 90_000))
    );
    assert_eq!(s.time_bounds(t.id, m.id, 0, 1).await.unwrap(), None);
}

async fn downsample_gives_min_avg_max_per_bucket(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "m").await;
    // Load1 = i: 0..=99 over 1000 s.
    let batch: Vec<IntervalRow> = (0..100)
        .map(|i| {
            let mut r = IntervalRow::new(T0 + i * 10_000, 10.0);
            r.set(Metric::Load1, Some(i as f64));
            if i != 42 {
                r.set(Metric::Load5, Some(1.0));
            }
            r
        })
        .collect();
    s.ingest(t.id, m.id, &batch, &[]).await.unwrap();
    let b = s
        .downsample(t.id, m.id, Metric::Load1, i64::MIN, i64::MAX, 10)
        .await
        .unwrap();
    // Data spans T0 .. T0+990_000 inclusive: 990,001 ms in 10 buckets of 99,001 ms.
    assert_eq!(b.len(), 10);
    assert_eq!(b[0].start_ms, T0);
    assert_eq!((b[0].min, b[0].max, b[0].count), (0.0, 9.0, 10));
    assert_eq!(b[0].avg, 4.5);
    assert_eq!(b[1].start_ms, T0 + 99_001);
    assert_eq!((b[1].min, b[1].max), (10.0, 19.0));
    assert_eq!((b[9].min, b[9].max, b[9].avg), (90.0, 99.0, 94.5));
    let total: u64 = b.iter().map(|x| x.count).sum();
    assert_eq!(total, 100);
    // One point: everything in one bucket.
    let one = s
        .downsample(t.id, m.id, Metric::Load1, T0, T0 + 1_000_000, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        (one[0].min, one[0].avg, one[0].max, one[0].count),
        (0.0, 49.5, 99.0, 100)
    );
    // NULLs are left out of a bucket.
    let l5 = s
        .downsample(t.id, m.id, Metric::Load5, T0, T0 + 1_000_000, 1)
        .await
        .unwrap();
    assert_eq!(l5[0].count, 99);
    // A metric without values and an empty range give nothing; zero points is an error.
    assert!(
        s.downsample(t.id, m.id, Metric::Load15, T0, T0 + 1_000_000, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.downsample(t.id, m.id, Metric::Load1, 0, 1, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.downsample(t.id, m.id, Metric::Load1, T0, T0 + 1, 0).await,
        Err(Error::Invalid(_))
    ));
}

async fn summary_matches_perfcore_stats(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "m").await;
    let batch = rows(0, 5_000);
    s.ingest(t.id, m.id, &batch, &[]).await.unwrap();
    let got = s.summary(t.id, m.id, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(got.len(), Metric::ALL.len());
    for (metric, sum) in &got {
        let want = summarize(&metric_values(&batch, *metric)).unwrap();
        assert_eq!(sum, &want, "{}", metric.name());
    }
    // p50 of cpu_user_pct (k = 0): values 1.25 i + 0.125, i = 0..4999 -> 1.25 * 2499.5 + 0.125.
    let cpu = got
        .iter()
        .find(|(m, _)| *m == Metric::CpuUserPct)
        .unwrap()
        .1;
    assert_eq!(cpu.p50, 1.25 * 2499.5 + 0.125);
    assert_eq!(cpu.count, 5_000);
    // Metric 3 (cpu_iowait_pct) is empty every third row.
    let io = got
        .iter()
        .find(|(m, _)| *m == Metric::CpuIowaitPct)
        .unwrap()
        .1;
    assert_eq!(io.count, 5_000 - 1_667);
    // A sub-range.
    let part = s.summary(t.id, m.id, T0, T0 + 100_000).await.unwrap();
    let want = summarize(&metric_values(&batch[..10], Metric::Load1)).unwrap();
    assert_eq!(
        part.iter().find(|(m, _)| *m == Metric::Load1).unwrap().1,
        want
    );
    assert!(s.summary(t.id, m.id, 0, 1).await.unwrap().is_empty());
}

async fn fleet_compares_machines(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let a = machine(s, t.id, "a").await;
    let b = machine(s, t.id, "b").await;
    let _idle = machine(s, t.id, "c-no-data").await;
    let mk = |base: f64| -> Vec<IntervalRow> {
        (0..10)
            .map(|i| {
                let mut r = IntervalRow::new(T0 + i * 10_000, 10.0);
                r.set(Metric::CpuUserPct, Some(base + i as f64));
                r
            })
            .collect()
    };
    s.ingest(t.id, a.id, &mk(0.0), &[]).await.unwrap();
    s.ingest(t.id, b.id, &mk(50.0), &[]).await.unwrap();
    let f = s
        .fleet(t.id, Metric::CpuUserPct, i64::MIN, i64::MAX)
        .await
        .unwrap();
    let got: Vec<(&str, f64, f64)> = f
        .iter()
        .map(|(m, s)| (m.machine_key.as_str(), s.min, s.max))
        .collect();
    assert_eq!(got, vec![("a", 0.0, 9.0), ("b", 50.0, 59.0)]);
    assert_eq!(f[1].1.avg, 54.5);
}

async fn retention_deletes_old_data_of_one_tenant_only(db: TestDb) {
    let s = &db.store;
    let a = s.create_tenant("a").await.unwrap();
    let b = s.create_tenant("b").await.unwrap();
    let ma = machine(s, a.id, "m").await;
    let mb = machine(s, b.id, "m").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day = 86_400_000;
    let at = |ts: i64| {
        let mut r = IntervalRow::new(ts, 10.0);
        r.set(Metric::Load1, Some(1.0));
        r
    };
    let batch = vec![
        at(now - 40 * day),
        at(now - 31 * day),
        at(now - 29 * day),
        at(now - day),
    ];
    let dev = |ts: i64| perfcore::metrics::DeviceRow {
        timestamp_ms: ts,
        kind: DeviceKind::Disk,
        device: "sda".into(),
        metric: "util_pct",
        value: 1.0,
    };
    let devs = vec![dev(now - 40 * day), dev(now - day)];
    s.ingest(a.id, ma.id, &batch, &devs).await.unwrap();
    s.ingest(b.id, mb.id, &batch, &devs).await.unwrap();
    let r = s.apply_retention(a.id, 30).await.unwrap();
    assert_eq!((r.rows_deleted, r.device_values_deleted), (2, 1));
    assert_eq!(
        s.rows(a.id, ma.id, i64::MIN, i64::MAX).await.unwrap().len(),
        2
    );
    assert_eq!(
        s.devices(a.id, ma.id, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.rows(b.id, mb.id, i64::MIN, i64::MAX).await.unwrap().len(),
        4,
        "tenant b untouched"
    );
    // Configured retention.
    s.set_retention(b.id, Some(7)).await.unwrap();
    let done = s.apply_configured_retention().await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, b.id);
    assert_eq!(done[0].1.rows_deleted, 3);
    assert_eq!(
        s.tenant_by_name("b").await.unwrap().unwrap().retention_days,
        Some(7)
    );
    assert!(s.apply_retention(a.id, 0).await.is_err());
}

async fn keys_are_shown_once_hashed_scoped_and_revocable(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "agent-1").await;
    let k = s.create_key(t.id, None, "fleet").await.unwrap();
    assert!(k.secret.starts_with(&k.prefix) && k.prefix.starts_with("pfa_"));
    assert!(
        !format!("{k:?}").contains(&k.secret[13..]),
        "Debug must not show the secret"
    );
    let scoped = s
        .create_key(t.id, Some(m.id), "agent-1 only")
        .await
        .unwrap();

    let list = s.list_keys(t.id).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].prefix, k.prefix);
    assert_eq!(list[0].label, "fleet");
    assert_eq!(list[0].last_used_ms, None);
    assert_eq!(list[1].machine, Some(m.id));
    let listed = serde_json::to_string(&list).unwrap();
    assert!(!listed.contains(&k.secret[13..]));

    let auth = s.verify_key(&k.secret).await.unwrap().expect("valid key");
    assert_eq!((auth.tenant, auth.key, auth.machine), (t.id, k.id, None));
    let sa = s.verify_key(&scoped.secret).await.unwrap().unwrap();
    assert_eq!(sa.machine, Some(m.id));
    assert!(
        s.list_keys(t.id).await.unwrap()[0].last_used_ms.is_some(),
        "last use recorded"
    );

    // Wrong, tampered and malformed keys.
    let mut tampered = k.secret.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    assert_eq!(s.verify_key(&tampered).await.unwrap(), None);
    assert_eq!(s.verify_key("pfa_00000000_").await.unwrap(), None);
    assert_eq!(s.verify_key("").await.unwrap(), None);
    let (p, _) = k.secret.split_at(13);
    assert_eq!(
        s.verify_key(&format!("{p}{}", "0".repeat(64)))
            .await
            .unwrap(),
        None
    );

    // The secret is not in the database: only its SHA-256.
    let dump = dump_keys(&db).await;
    assert!(
        !dump
            .iter()
            .any(|h| h.windows(16).any(|w| w == &k.secret.as_bytes()[13..29]))
    );
    assert!(dump.iter().all(|h| h.len() == 32));

    // Revocation.
    assert!(s.revoke_key(t.id, k.id).await.unwrap());
    assert!(!s.revoke_key(t.id, k.id).await.unwrap(), "already revoked");
    assert_eq!(s.verify_key(&k.secret).await.unwrap(), None);
    assert!(s.list_keys(t.id).await.unwrap()[0].revoked_ms.is_some());
    assert!(
        s.verify_key(&scoped.secret).await.unwrap().is_some(),
        "other key still valid"
    );
}

/// The stored key hashes, read around the store.
async fn dump_keys(db: &TestDb) -> Vec<Vec<u8>> {
    use sqlx::Connection;
    if db.is_postgres() {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar("SELECT secret_hash FROM api_keys")
            .fetch_all(&mut c)
            .await
            .unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar("SELECT secret_hash FROM api_keys")
            .fetch_all(&mut c)
            .await
            .unwrap()
    }
}

async fn users_have_argon2id_passwords_and_roles(db: TestDb) {
    use sqlx::Connection;
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let u = s
        .create_user(t.id, "ana@example.com", "hunter2 but longer", Role::Analyst)
        .await
        .unwrap();
    assert_eq!(u.role, Role::Analyst);
    assert!(matches!(
        s.create_user(t.id, "ana@example.com", "x", Role::Viewer)
            .await,
        Err(Error::AlreadyExists { what: "user", .. })
    ));
    assert!(
        s.create_user(t.id, "not-an-email", "pw", Role::Viewer)
            .await
            .is_err()
    );
    assert!(
        s.create_user(t.id, "empty@example.com", "", Role::Viewer)
            .await
            .is_err()
    );
    let ok = s
        .verify_password(t.id, "ana@example.com", "hunter2 but longer")
        .await
        .unwrap();
    assert_eq!(ok.map(|u| u.id), Some(u.id));
    assert_eq!(
        s.verify_password(t.id, "ana@example.com", "hunter3")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.verify_password(t.id, "bob@example.com", "hunter2 but longer")
            .await
            .unwrap(),
        None
    );
    let other = s.create_tenant("other").await.unwrap();
    assert_eq!(
        s.verify_password(other.id, "ana@example.com", "hunter2 but longer")
            .await
            .unwrap(),
        None,
        "a user belongs to one tenant"
    );
    let stored: String = if db.is_postgres() {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_one(&mut c)
            .await
            .unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains("hunter2"));
    let users = s.list_users(t.id).await.unwrap();
    assert_eq!(users.len(), 1);
    assert!(s.list_users(other.id).await.unwrap().is_empty());
}

async fn uploads_and_audit_are_recorded(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(s, t.id, "m").await;
    let mut u = NewUpload::new("capture.json", "capture");
    u.machine = Some(m.id);
    u.rows_stored = 10;
    u.rows_present = 2;
    u.time_range_ms = Some((T0, T0 + 90_000));
    let id = s.record_upload(t.id, &u).await.unwrap();
    let list = s.list_uploads(t.id, 10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    assert_eq!(list[0].upload, u);
    s.audit(
        t.id,
        "cli:test",
        "key.create",
        &serde_json::json!({"key_id": 1, "label": "x"}),
    )
    .await
    .unwrap();
    s.audit(t.id, "cli:test", "export", &serde_json::json!({}))
        .await
        .unwrap();
    let log = s.list_audit(t.id, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, "export", "newest first");
    assert_eq!(log[1].detail["label"], "x");
    let other = s.create_tenant("other").await.unwrap();
    assert!(s.list_audit(other.id, 10).await.unwrap().is_empty());
    assert!(s.list_uploads(other.id, 10).await.unwrap().is_empty());
}

async fn machines_keep_facts_labels_and_last_seen(db: TestDb) {
    let s = &db.store;
    let t = s.tenant_by_name_or_create("default").await.unwrap();
    let mut facts = MachineFacts::default();
    facts.cpu_count = Some(8);
    facts.cpu_model = Some("Test CPU".into());
    let mut labels = Labels::new();
    labels.insert("env".into(), "prod".into());
    let m = s
        .upsert_machine(t.id, "id-1", Some("host-1"), &labels, &facts)
        .await
        .unwrap();
    assert_eq!(m.hostname.as_deref(), Some("host-1"));
    assert_eq!(m.facts.cpu_count, Some(8));
    assert_eq!(m.labels["env"], "prod");
    assert_eq!(m.last_seen_ms, None);
    // Upsert without details keeps them and the id.
    let again = s
        .upsert_machine(t.id, "id-1", None, &Labels::new(), &MachineFacts::default())
        .await
        .unwrap();
    assert_eq!(again.id, m.id);
    assert_eq!(again.hostname.as_deref(), Some("host-1"));
    assert_eq!(again.facts, facts);
    assert_eq!(again.labels, labels);
    s.ingest(t.id, m.id, &rows(0, 3), &[]).await.unwrap();
    s.ingest(t.id, m.id, &rows(0, 1), &[]).await.unwrap();
    let got = s.machine(t.id, "id-1").await.unwrap().unwrap();
    assert_eq!(
        got.last_seen_ms,
        Some(T0 + 20_000),
        "newest row, not the last batch"
    );
    assert_eq!(s.machine(t.id, "nope").await.unwrap(), None);
    machine(s, t.id, "a-first").await;
    let keys: Vec<String> = s
        .list_machines(t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.machine_key)
        .collect();
    assert_eq!(keys, ["a-first", "id-1"]);
}

async fn tenants_cannot_reach_each_other_through_the_api(db: TestDb) {
    let s = &db.store;
    let a = s.create_tenant("a").await.unwrap();
    let b = s.create_tenant("b").await.unwrap();
    let ma = machine(s, a.id, "shared-name").await;
    let mb = machine(s, b.id, "shared-name").await;
    assert_ne!(ma.id, mb.id, "same machine id string, two machines");
    s.ingest(b.id, mb.id, &rows(0, 5), &devices(0))
        .await
        .unwrap();
    // A cannot write to, read, summarise or downsample B's machine by its id.
    assert!(matches!(
        s.ingest(a.id, mb.id, &rows(10, 1), &[]).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        s.rows(a.id, mb.id, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.devices(a.id, mb.id, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.summary(a.id, mb.id, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.downsample(a.id, mb.id, Metric::Load1, i64::MIN, i64::MAX, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.fleet(a.id, Metric::Load1, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.delete_before(a.id, i64::MAX).await.unwrap().rows_deleted,
        0
    );
    assert_eq!(
        s.rows(b.id, mb.id, i64::MIN, i64::MAX).await.unwrap().len(),
        5
    );
    // Keys.
    let kb = s.create_key(b.id, Some(mb.id), "b").await.unwrap();
    assert!(s.list_keys(a.id).await.unwrap().is_empty());
    assert!(!s.revoke_key(a.id, kb.id).await.unwrap());
    assert_eq!(
        s.verify_key(&kb.secret).await.unwrap().unwrap().tenant,
        b.id
    );
    // Machines.
    assert_eq!(s.list_machines(a.id).await.unwrap(), vec![ma.clone()]);
}

async fn schema_has_a_column_per_metric(db: TestDb) {
    use sqlx::Connection;
    let cols: Vec<String> = if db.is_postgres() {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let of = |schema: &'static str| {
            sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = 'interval_metrics' ORDER BY ordinal_position",
            )
            .bind(schema)
        };
        let public: Vec<String> = of("public").fetch_all(&mut c).await.unwrap();
        // The partition that holds the rows (migration 3) has the same columns.
        let partition: Vec<String> = of("perfan_ingest").fetch_all(&mut c).await.unwrap();
        assert_eq!(public, partition);
        public
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar("SELECT name FROM pragma_table_info('interval_metrics') ORDER BY cid")
            .fetch_all(&mut c)
            .await
            .unwrap()
    };
    let mut want = vec!["tenant_id", "machine_id", "ts_ms", "interval_s"];
    want.extend(Metric::ALL.iter().map(|m| m.name()));
    assert_eq!(
        cols, want,
        "a new Metric needs a new migration adding its column"
    );
}

both!(concurrent_senders_store_each_row_once);

async fn concurrent_senders_store_each_row_once(db: TestDb) {
    let store = db.store.clone();
    let t = store.tenant_by_name_or_create("default").await.unwrap();
    let m = machine(&store, t.id, "m").await;
    // Two agents (or an agent and its retry) send overlapping batches at the same time.
    // Several staging chunks on PostgreSQL: the loser fails mid-batch (unique
    // violation) and is redone with conflict handling; it must not hang on the way.
    let batch = std::sync::Arc::new(rows(0, 65_000));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (s, b) = (store.clone(), batch.clone());
            tokio::spawn(async move { s.ingest(t.id, m.id, &b, &[]).await.unwrap() })
        })
        .collect();
    let mut stored = 0;
    let mut present = 0;
    for task in tasks {
        let r = task.await.unwrap();
        stored += r.stored;
        present += r.already_present;
    }
    assert_eq!((stored, present), (65_000, 65_000));
    assert_eq!(
        store.rows(t.id, m.id, i64::MIN, i64::MAX).await.unwrap(),
        *batch
    );
}

/// A file store reads through its own read-only connections (rusqlite); an in-memory
/// one through sqlx. Both give back exactly what was stored, and a read sees a batch
/// as soon as its ingest has returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_and_memory_reads_agree() {
    let file = crate::harness::sqlite().await;
    let memory = Store::open("sqlite::memory:").await.unwrap();
    let want = rows(0, 2_000);
    let mut got = Vec::new();
    for s in [&*file.store, &memory] {
        let t = s.tenant_by_name_or_create("a").await.unwrap().id;
        let m = machine(s, t, "m").await.id;
        s.ingest(t, m, &want[..1_000], &[]).await.unwrap();
        assert_eq!(s.rows(t, m, i64::MIN, i64::MAX).await.unwrap().len(), 1_000);
        s.ingest(t, m, &want[1_000..], &[]).await.unwrap();
        let back = s.rows(t, m, i64::MIN, i64::MAX).await.unwrap();
        assert_eq!(back, want);
        let part = s.rows(t, m, T0 + 10_000, T0 + 30_000).await.unwrap();
        assert_eq!(part, want[1..3]);
        let cols = s
            .columns(t, m, &[Metric::Load1, Metric::CpuUserPct], T0, T0 + 40_000)
            .await
            .unwrap();
        assert_eq!(
            cols.timestamps_ms,
            [T0, T0 + 10_000, T0 + 20_000, T0 + 30_000]
        );
        assert_eq!(
            cols.values[0],
            want[..4]
                .iter()
                .map(|r| r.values[Metric::Load1.index()])
                .collect::<Vec<_>>()
        );
        let summary = s.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
        let load1 = summary.iter().find(|(x, _)| *x == Metric::Load1).unwrap().1;
        let v: Vec<f64> = want
            .iter()
            .filter_map(|r| r.values[Metric::Load1.index()])
            .collect();
        assert_eq!(load1, summarize(&v).unwrap());
        got.push(summary);
    }
    assert_eq!(got[0], got[1]);
    memory.close().await;
}

/// A COPY the server refuses returns its error and stores nothing, whether it is
/// refused at its start (the role lost its grant on the partition after the store
/// opened: the parts being encoded must not wait for ever on a sender nobody reads)
/// or partway through (a trigger raises on one row of the third part); the store
/// works on afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_copy_refused_is_an_error_not_a_hang() {
    use sqlx::Connection;
    let Some(mut db) = crate::harness::postgres().await else {
        return;
    };
    let plain = db.plain_role_url().await;
    let s = Store::open_with(&plain, &crate::harness::options())
        .await
        .unwrap();
    assert!(s.copies_directly());
    let t = s.tenant_by_name_or_create("a").await.unwrap().id;
    let m = machine(&s, t, "m").await.id;
    let role = plain
        .split("://")
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap();
    let batch = rows(0, 60_000);
    let ingest = || {
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            s.ingest(t, m, &batch, &[]),
        )
    };
    let admin = |sql: String| {
        let url = db.url.clone();
        async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap();
        }
    };
    admin(format!(
        "REVOKE INSERT ON perfan_ingest.interval_metrics FROM {role}"
    ))
    .await;
    let err = ingest().await.expect("returns, not hangs").unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    admin(format!(
        "GRANT INSERT ON perfan_ingest.interval_metrics TO {role}"
    ))
    .await;
    let bad_ts = T0 + 20_000 * 10_000;
    admin(format!(
        "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.ts_ms = {bad_ts} THEN RAISE EXCEPTION 'refused by the test'; END IF; \
         RETURN NEW; END $$; \
         CREATE TRIGGER refuse_one BEFORE INSERT ON perfan_ingest.interval_metrics \
         FOR EACH ROW EXECUTE FUNCTION refuse_one();"
    ))
    .await;
    let err = ingest().await.expect("returns, not hangs").unwrap_err();
    assert!(err.to_string().contains("refused by the test"), "{err}");
    assert!(s.rows(t, m, i64::MIN, i64::MAX).await.unwrap().is_empty());
    admin("DROP TRIGGER refuse_one ON perfan_ingest.interval_metrics".into()).await;
    let r = ingest().await.unwrap().unwrap();
    assert_eq!(r.stored, 60_000);
    s.close().await;
}
