//! Row-level security on PostgreSQL, proved as a plain role (not superuser, not
//! owner, no BYPASSRLS: those bypass the policies), plus the SQLite file's settings.

use perfcore::metrics::{MachineFacts, Metric};
use perfstore::{Labels, Store};
use sqlx::{Connection, PgConnection, Row};

use crate::{T0, devices, rows};

/// Tables with a tenant_id and a policy.
const TENANT_TABLES: [&str; 10] = [
    "users",
    "machines",
    "api_keys",
    "interval_metrics",
    "device_series",
    "device_values",
    "uploads",
    "audit_log",
    "block_spans",
    "metric_blocks",
];

async fn count(c: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn set_tenant(c: &mut PgConnection, t: i64) {
    sqlx::query("SELECT set_config('app.tenant', $1, true)")
        .bind(t.to_string())
        .execute(c)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_walls_tenants_off_for_a_plain_role() {
    let Some(mut db) = crate::harness::postgres().await else {
        return;
    };
    let plain = db.plain_role_url().await;

    // The application itself runs as the plain role: the whole API works under RLS.
    let app = Store::open_with(&plain, &crate::harness::options())
        .await
        .expect("open as plain role (no DDL needed)");
    let a = app.create_tenant("a").await.unwrap();
    let b = app.create_tenant("b").await.unwrap();
    let mut ids = Vec::new();
    for (t, n) in [(a.id, 3), (b.id, 5)] {
        let m = app
            .upsert_machine(t, "m", Some("h"), &Labels::new(), &MachineFacts::default())
            .await
            .unwrap();
        let r = app.ingest(t, m.id, &rows(0, n), &devices(0)).await.unwrap();
        assert_eq!(r.stored, n as u64);
        app.create_key(t, Some(m.id), "k").await.unwrap();
        app.create_user(t, "u@example.com", "pw-pw-pw", perfstore::Role::Viewer)
            .await
            .unwrap();
        app.record_upload(t, &perfstore::NewUpload::new("f", "csv"))
            .await
            .unwrap();
        app.audit(t, "test", "x", &serde_json::json!({}))
            .await
            .unwrap();
        ids.push(m.id);
    }
    // B gets compacted blocks (4,105 rows: a full block of 4,096 and one of 9), so
    // that the checks below see B's rows in the block tables too.
    app.ingest(b.id, ids[1], &rows(200, 4_100), &[])
        .await
        .unwrap();
    let cb = app.compact(b.id, ids[1]).await.unwrap();
    assert_eq!((cb.blocks, cb.rows), (2, 4_105));
    // A batch of several staging chunks, as the plain role.
    let big = app
        .ingest(a.id, ids[0], &rows(100, 45_000), &[])
        .await
        .unwrap();
    assert_eq!((big.stored, big.already_present), (45_000, 0));
    let again = app
        .ingest(a.id, ids[0], &rows(100, 45_000), &[])
        .await
        .unwrap();
    assert_eq!((again.stored, again.already_present), (0, 45_000));
    // Compaction as the plain role: 45,003 rows give 10 full blocks and a short one.
    let ca = app.compact(a.id, ids[0]).await.unwrap();
    assert_eq!((ca.blocks, ca.rows), (11, 45_003));
    // Retention drops the first block (it began before the cutoff) with its rows.
    app.delete_before(a.id, T0 + 100 * 10_000).await.unwrap();
    let s = app.summary(a.id, ids[0], i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(
        s.iter().find(|(m, _)| *m == Metric::Load1).unwrap().1.count,
        45_000
    );
    app.delete_before(a.id, i64::MAX).await.unwrap();
    let r = app
        .ingest(a.id, ids[0], &rows(0, 3), &devices(0))
        .await
        .unwrap();
    assert_eq!(r.stored, 3);
    let s = app.summary(a.id, ids[0], i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(
        s.iter().find(|(m, _)| *m == Metric::Load1).unwrap().1.count,
        3
    );
    let key = app.create_key(b.id, None, "verify").await.unwrap();
    assert_eq!(
        app.verify_key(&key.secret).await.unwrap().unwrap().tenant,
        b.id
    );
    // What needs no tenant yet still works as the plain role, through the narrow
    // functions: find a tenant by name, list tenants, set one's own retention.
    assert_eq!(app.tenant_by_name("b").await.unwrap().unwrap().id, b.id);
    assert!(app.tenant_by_name("nobody").await.unwrap().is_none());
    let names: Vec<String> = app
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    app.set_retention(b.id, Some(30)).await.unwrap();
    assert_eq!(
        app.tenant_by_name("b")
            .await
            .unwrap()
            .unwrap()
            .retention_days,
        Some(30)
    );
    assert!(matches!(
        app.set_retention(perfstore::TenantId(b.id.0 + 1000), Some(30))
            .await,
        Err(perfstore::Error::NotFound { .. })
    ));
    let unknown = format!("{}deadbeef_{}", perfstore::KEY_SCHEME, "0".repeat(64));
    assert!(app.verify_key(&unknown).await.unwrap().is_none());
    assert!(matches!(
        app.create_tenant("a").await,
        Err(perfstore::Error::AlreadyExists { .. })
    ));

    let mut c = PgConnection::connect(&plain).await.unwrap();
    let who: (bool, bool) = {
        let r =
            sqlx::query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&mut c)
                .await
                .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(who, (false, false), "the test must run as a plain role");

    // No setting at all: every tenant table looks empty (fails closed, not open).
    for t in TENANT_TABLES {
        assert_eq!(
            count(&mut c, &format!("SELECT count(*) FROM {t}")).await,
            0,
            "{t} without app.tenant"
        );
    }
    // An empty setting (what a session holds after a transaction-local one ends).
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, a.id.0).await;
    tx.commit().await.unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM interval_metrics").await,
        0,
        "setting is per transaction"
    );

    // Tenant A's setting: only A's rows, whatever the WHERE clause says.
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, a.id.0).await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM interval_metrics").await,
        3
    );
    assert_eq!(
        count(
            &mut tx,
            &format!(
                "SELECT count(*) FROM interval_metrics WHERE tenant_id = {}",
                b.id.0
            )
        )
        .await,
        0
    );
    for t in TENANT_TABLES {
        assert_eq!(
            count(
                &mut tx,
                &format!("SELECT count(*) FROM {t} WHERE tenant_id <> {}", a.id.0)
            )
            .await,
            0,
            "{t}: A sees none of B's rows"
        );
    }
    assert_eq!(count(&mut tx, "SELECT count(*) FROM machines").await, 1);
    // A cannot change or delete B's rows: the statements match nothing.
    let upd = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE interval_metrics SET load1 = -1 WHERE tenant_id = {}",
        b.id.0
    )))
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(upd.rows_affected(), 0);
    let del = sqlx::query("DELETE FROM interval_metrics WHERE tenant_id <> $1")
        .bind(a.id.0)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(del.rows_affected(), 0);
    let del_keys = sqlx::query("DELETE FROM api_keys")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(del_keys.rows_affected(), 1, "only A's own key");
    tx.rollback().await.unwrap();

    // The directory tables (migration 2): A sees its own tenant row and key prefixes,
    // cannot change B's retention nor delete B's prefixes, and without a setting sees
    // neither table at all.
    for t in ["tenants", "api_key_directory"] {
        assert_eq!(
            count(&mut c, &format!("SELECT count(*) FROM {t}")).await,
            0,
            "{t} without app.tenant"
        );
    }
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, a.id.0).await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM tenants").await, 1);
    assert_eq!(
        count(
            &mut tx,
            &format!("SELECT count(*) FROM tenants WHERE id = {}", a.id.0)
        )
        .await,
        1
    );
    // A made one key; B made two (one per machine, one to verify).
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM api_key_directory").await,
        1
    );
    let upd = sqlx::query("UPDATE tenants SET retention_days = 1 WHERE id = $1")
        .bind(b.id.0)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(upd.rows_affected(), 0, "A cannot set B's retention");
    let del = sqlx::query("DELETE FROM api_key_directory WHERE tenant_id = $1")
        .bind(b.id.0)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(del.rows_affected(), 0, "A cannot delete B's key prefixes");
    let e = sqlx::query("INSERT INTO api_key_directory (prefix, tenant_id) VALUES ('x', $1)")
        .bind(b.id.0)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("row-level security"), "{e}");
    tx.rollback().await.unwrap();
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, a.id.0).await;
    // A's own tenant row it may change; moving its key prefixes to B the policy's
    // WITH CHECK refuses.
    let own = sqlx::query("UPDATE tenants SET retention_days = 5")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(own.rows_affected(), 1, "only A's own row");
    let e = sqlx::query("UPDATE api_key_directory SET tenant_id = $1")
        .bind(b.id.0)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("row-level security"), "{e}");
    tx.rollback().await.unwrap();

    // A cannot write a row into B, nor move its own row to B.
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, a.id.0).await;
    let e = sqlx::query(
        "INSERT INTO interval_metrics (tenant_id, machine_id, ts_ms, interval_s) VALUES ($1, $2, 1, 1)",
    )
    .bind(b.id.0)
    .bind(ids[1].0)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(e.to_string().contains("row-level security"), "{e}");
    tx.rollback().await.unwrap();
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, a.id.0).await;
    let e = sqlx::query("UPDATE machines SET tenant_id = $1")
        .bind(b.id.0)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("row-level security"), "{e}");
    tx.rollback().await.unwrap();

    // Turning row security off does not bypass it for this role: it is an error.
    let mut tx = c.begin().await.unwrap();
    sqlx::query("SET LOCAL row_security = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(
        sqlx::query("SELECT count(*) FROM interval_metrics")
            .fetch_one(&mut *tx)
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();

    // COPY FROM into a table under RLS is refused (why ingest names the partition).
    let e = c
        .copy_in_raw("COPY interval_metrics (tenant_id, machine_id, ts_ms, interval_s) FROM STDIN")
        .await
        .err()
        .expect("COPY FROM refused under RLS");
    assert!(e.to_string().contains("row-level security"), "{e}");

    // The partition ingest COPYs into (migration 3): this role may add rows for its
    // transaction's tenant there, and nothing else.
    assert!(app.copies_directly(), "the role has the ingest grant");
    let copy_row = |tenant: i64, machine: i64, ts: i64| format!("{tenant}\t{machine}\t{ts}\t10\n");
    let copy_into =
        "COPY perfan_ingest.interval_metrics (tenant_id, machine_id, ts_ms, interval_s) FROM STDIN";
    // A's own row with A's setting: accepted.
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, a.id.0).await;
    let mut copy = tx.copy_in_raw(copy_into).await.unwrap();
    copy.send(copy_row(a.id.0, ids[0].0, 1).into_bytes())
        .await
        .unwrap();
    assert_eq!(copy.finish().await.unwrap(), 1);
    assert_eq!(
        count(
            &mut tx,
            "SELECT count(*) FROM interval_metrics WHERE ts_ms = 1"
        )
        .await,
        1
    );
    tx.rollback().await.unwrap();
    // B's row with A's setting, and A's row with no setting: the CHECK refuses both.
    for (setting, tenant, machine) in [(Some(a.id.0), b.id.0, ids[1].0), (None, a.id.0, ids[0].0)] {
        let mut tx = c.begin().await.unwrap();
        if let Some(t) = setting {
            set_tenant(&mut tx, t).await;
        }
        let mut copy = tx.copy_in_raw(copy_into).await.unwrap();
        copy.send(copy_row(tenant, machine, 2).into_bytes())
            .await
            .unwrap();
        let e = copy.finish().await.unwrap_err();
        assert!(
            e.to_string().contains("tenant_of_transaction"),
            "setting {setting:?}, row of {tenant}: {e}"
        );
        tx.rollback().await.unwrap();
    }
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, a.id.0).await;
    let e = sqlx::query("INSERT INTO perfan_ingest.interval_metrics (tenant_id, machine_id, ts_ms, interval_s) VALUES ($1, $2, 3, 1)")
        .bind(b.id.0)
        .bind(ids[1].0)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("tenant_of_transaction"), "{e}");
    tx.rollback().await.unwrap();
    // Reading, changing or deleting there directly (around the policies) is denied.
    for sql in [
        "SELECT count(*) FROM perfan_ingest.interval_metrics",
        "UPDATE perfan_ingest.interval_metrics SET load1 = -1",
        "DELETE FROM perfan_ingest.interval_metrics",
        "TRUNCATE perfan_ingest.interval_metrics",
    ] {
        let mut tx = c.begin().await.unwrap();
        set_tenant(&mut tx, a.id.0).await;
        let e = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("permission denied"), "{sql}: {e}");
        tx.rollback().await.unwrap();
    }
    c.close().await.ok();

    // The data is there: the owner (a superuser here) sees both tenants.
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    assert_eq!(
        count(&mut admin, "SELECT count(*) FROM interval_metrics").await,
        8 + 4_100
    );
    admin.close().await.ok();

    // And the plain role's store, asked for A, never returns B's data.
    assert!(
        app.rows(a.id, ids[1], i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.rows(b.id, ids[1], T0, T0 + 100_000)
            .await
            .unwrap()
            .len(),
        5
    );
    app.close().await;
    db.store.close().await;
}

#[tokio::test]
async fn sqlite_file_is_created_with_its_directory_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/perf.db");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists());
    store.tenant_by_name_or_create("default").await.unwrap();
    let size = store.size_bytes().await.unwrap();
    assert!(size > 0);
    store.close().await;
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    // A bare path works too.
    let bare = Store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(bare.list_tenants().await.unwrap().len(), 1);
    assert!(Store::open("mysql://x").await.is_err());
}

#[test]
fn default_url_follows_xdg_data_home() {
    // Only this test touches the environment in this binary's default-URL code.
    let p = perfstore::default_db_path().unwrap();
    assert!(
        p.ends_with("perfanalysis/perfanalysis.db"),
        "{}",
        p.display()
    );
    assert_eq!(
        perfstore::resolve_url(Some("postgres://x/y")).unwrap(),
        "postgres://x/y"
    );
}

/// A role set up before migration 3 (no INSERT on the partition): ingest stages the
/// rows and moves them, with the same results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ingest_without_the_partition_grant_stages() {
    let Some(mut db) = crate::harness::postgres().await else {
        return;
    };
    let plain = db.plain_role_url_without_ingest_grant().await;
    let app = Store::open_with(&plain, &crate::harness::options())
        .await
        .unwrap();
    assert!(!app.copies_directly());
    let t = app.create_tenant("a").await.unwrap().id;
    let m = app
        .upsert_machine(t, "m", None, &Labels::new(), &MachineFacts::default())
        .await
        .unwrap()
        .id;
    let r = app.ingest(t, m, &rows(0, 25_000), &[]).await.unwrap();
    assert_eq!((r.stored, r.already_present), (25_000, 0));
    // Half new, half already stored.
    let r = app.ingest(t, m, &rows(12_500, 25_000), &[]).await.unwrap();
    assert_eq!((r.stored, r.already_present), (12_500, 12_500));
    let back = app.rows(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(back.len(), 37_500);
    assert_eq!(back, rows(0, 37_500));
    app.close().await;
    db.store.close().await;
}

/// Drops a test database and a role when dropped (also on panic).
struct DropDb {
    admin: String,
    name: String,
    role: String,
}

impl Drop for DropDb {
    fn drop(&mut self) {
        let url = crate::harness::with_database(&self.admin, &self.name, None);
        crate::harness::drop_database(
            self.admin.clone(),
            url,
            self.name.clone(),
            vec![self.role.clone()],
        );
    }
}

/// A new database `name` as a build that knew only `migrations` (version, name,
/// SQL) left it, and a connection to it as the admin, with its URL.
async fn database_at(
    admin: &str,
    name: &str,
    migrations: &[(i64, &str, &str)],
) -> (PgConnection, String) {
    use sha2::{Digest, Sha256};
    let mut a = PgConnection::connect(admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut a)
        .await
        .unwrap();
    a.close().await.ok();
    let url = crate::harness::with_database(admin, name, None);
    let mut c = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE perfan_schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    for &(v, n, sql) in migrations {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
        let sum: String = Sha256::digest(sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        sqlx::query("INSERT INTO perfan_schema_migrations VALUES ($1, $2, $3, 0)")
            .bind(v)
            .bind(n)
            .bind(sum)
            .execute(&mut c)
            .await
            .unwrap();
    }
    (c, url)
}

const MIGRATION_1: (i64, &str, &str) = (
    1,
    "init",
    include_str!("../../migrations/postgres/0001_init.sql"),
);
const MIGRATION_2: (i64, &str, &str) = (
    2,
    "directory_rls",
    include_str!("../../migrations/postgres/0002_directory_rls.sql"),
);

/// A database at schema version 2 with rows and a plain role's grants: migration 3
/// moves the rows into the partitioned table and the role keeps its privileges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_3_keeps_rows_and_grants() {
    let Some(admin) = crate::harness::admin_url() else {
        return;
    };
    let name = crate::harness::unique("perfan_mig");
    let role = crate::harness::unique("perfan_old_app");
    let _guard = DropDb {
        admin: admin.clone(),
        name: name.clone(),
        role: role.clone(),
    };
    // What a build with migrations 1 and 2 left behind.
    let (mut c, url) = database_at(&admin, &name, &[MIGRATION_1, MIGRATION_2]).await;
    let tenant: i64 = sqlx::query_scalar("SELECT perfan_create_tenant('old', 0)")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, tenant).await;
    let machine: i64 = sqlx::query_scalar(
        "INSERT INTO machines (tenant_id, machine_key, first_seen_ms, metric_mask) \
         VALUES ($1, 'm', 0, -1) RETURNING id",
    )
    .bind(tenant)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO interval_metrics (tenant_id, machine_id, ts_ms, interval_s, load1) \
         SELECT $1, $2, g * 10000, 10, g * 0.5 FROM generate_series(1, 1000) g",
    )
    .bind(tenant)
    .bind(machine)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"),
        format!("GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
    }

    // This build applies migration 3.
    let store = Store::open(&url).await.unwrap();
    store.close().await;
    let kind: String = sqlx::query_scalar(
        "SELECT relkind::text FROM pg_class WHERE oid = 'interval_metrics'::regclass",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(kind, "p", "interval_metrics is partitioned");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM perfan_ingest.interval_metrics"
        )
        .await,
        1000,
        "the rows are in the partition"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname = 'interval_metrics_v1'"
        )
        .await,
        0
    );
    c.close().await.ok();

    // The old role still reads and writes through the policies, and stages (it has
    // no grant on the partition yet).
    let plain = crate::harness::with_database(&admin, &name, Some(&role));
    let app = Store::open_with(&plain, &crate::harness::options())
        .await
        .unwrap();
    assert!(!app.copies_directly());
    let (t, m) = (perfstore::TenantId(tenant), perfstore::MachineId(machine));
    let back = app.rows(t, m, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(back.len(), 1000);
    assert_eq!(back[9].timestamp_ms, 100_000);
    assert_eq!(back[9].values[Metric::Load1.index()], Some(5.0));
    let r = app.ingest(t, m, &rows(0, 10), &[]).await.unwrap();
    assert_eq!((r.stored, r.already_present), (10, 0));
    // Migration 4 gave the old role the block tables too: it compacts and reads them.
    app.ingest(t, m, &rows(2_000, 4_000), &[]).await.unwrap();
    // 5,010 rows: a full block and a short one of 914.
    let c4 = app.compact(t, m).await.unwrap();
    assert_eq!((c4.blocks, c4.rows), (2, 5_010));
    let s = app.summary(t, m, i64::MIN, i64::MAX).await.unwrap();
    let load = s.iter().find(|(x, _)| *x == Metric::Load1).unwrap().1;
    let newer = crate::metric_values(&rows(0, 10), Metric::Load1).len()
        + crate::metric_values(&rows(2_000, 4_000), Metric::Load1).len();
    assert_eq!(load.count as usize, 1_000 + newer);
    app.delete_before(t, T0 + 2_000 * 10_000).await.unwrap();
    let mut o = PgConnection::connect(&plain).await.unwrap();
    assert_eq!(
        count(&mut o, "SELECT count(*) FROM interval_metrics").await,
        0,
        "still nothing without the tenant setting"
    );
    let mut tx = o.begin().await.unwrap();
    set_tenant(&mut tx, tenant).await;
    // Retention took the 1,000 old rows, the 10 at T0 and the full block (it began
    // before the cutoff); the 4,000 rows after it are left, and the short block of
    // the last 914 of them, which began after the cutoff.
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM interval_metrics").await,
        4_000
    );
    assert_eq!(count(&mut tx, "SELECT count(*) FROM block_spans").await, 1);
    tx.rollback().await.unwrap();
    o.close().await.ok();
    app.close().await;
}

/// A database at schema version 4 with a compacted block: migration 5 (sketches)
/// drops the old blocks, whose values it cannot sketch after the fact, so a summary
/// reads the rows; the next compaction builds blocks with sketches again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_5_drops_blocks_without_sketches() {
    let Some(admin) = crate::harness::admin_url() else {
        return;
    };
    let name = crate::harness::unique("perfan_mig5");
    let _guard = DropDb {
        admin: admin.clone(),
        name: name.clone(),
        role: crate::harness::unique("perfan_unused"),
    };
    let (mut c, url) = database_at(
        &admin,
        &name,
        &[
            MIGRATION_1,
            MIGRATION_2,
            (
                3,
                "ingest_partition",
                include_str!("../../migrations/postgres/0003_ingest_partition.sql"),
            ),
            (
                4,
                "summary_blocks",
                include_str!("../../migrations/postgres/0004_summary_blocks.sql"),
            ),
        ],
    )
    .await;
    let tenant: i64 = sqlx::query_scalar("SELECT perfan_create_tenant('old', 0)")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, tenant).await;
    let machine: i64 = sqlx::query_scalar(
        "INSERT INTO machines (tenant_id, machine_key, first_seen_ms, metric_mask) \
         VALUES ($1, 'm', 0, -1) RETURNING id",
    )
    .bind(tenant)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    // load1 = g / 2 for g = 1..5000 at 10 s.
    sqlx::query(
        "INSERT INTO interval_metrics (tenant_id, machine_id, ts_ms, interval_s, load1) \
         SELECT $1, $2, g * 10000, 10, g * 0.5 FROM generate_series(1, 5000) g",
    )
    .bind(tenant)
    .bind(machine)
    .execute(&mut *tx)
    .await
    .unwrap();
    // What a version-4 compaction wrote for the first 4,096 rows; its values are
    // made wrong on purpose (all 1e9), so that reading it would show.
    sqlx::query("INSERT INTO block_spans VALUES ($1, $2, 40960000, 10000, 4096)")
        .bind(tenant)
        .bind(machine)
        .execute(&mut *tx)
        .await
        .unwrap();
    let fake: Vec<u8> = std::iter::repeat_n(1e9f64.to_le_bytes(), 4096)
        .flatten()
        .collect();
    sqlx::query("INSERT INTO metric_blocks VALUES ($1, $2, 40960000, 'load1', 10000, 4096, $3)")
        .bind(tenant)
        .bind(machine)
        .bind(fake)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // This build applies migration 5: the block is gone, the rows are summarised.
    let store = Store::open_with(&url, &crate::harness::options())
        .await
        .unwrap();
    let (t, m) = (perfstore::TenantId(tenant), perfstore::MachineId(machine));
    let load = |s: Vec<(Metric, perfstore::Summary)>| {
        s.into_iter().find(|(x, _)| *x == Metric::Load1).unwrap().1
    };
    let s = load(store.summary(t, m, i64::MIN, i64::MAX).await.unwrap());
    // 1..5000 halved: max 2500, median (2500.5) / 2.
    assert_eq!((s.count, s.max, s.p50), (5_000, 2_500.0, 1_250.25));
    let mut tx = c.begin().await.unwrap();
    set_tenant(&mut tx, tenant).await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM metric_blocks").await,
        0
    );
    assert_eq!(count(&mut tx, "SELECT count(*) FROM block_spans").await, 0);
    tx.rollback().await.unwrap();
    // Compaction builds the block again, with its sketch, and summaries agree.
    let r = store.compact(t, m).await.unwrap();
    assert_eq!((r.blocks, r.rows), (2, 5_000));
    let again = load(store.summary(t, m, i64::MIN, i64::MAX).await.unwrap());
    assert_eq!(
        (again.count, again.max, again.p50),
        (5_000, 2_500.0, 1_250.25)
    );
    assert_eq!((again.p90, again.p99), (s.p90, s.p99));
    store.close().await;
    c.close().await.ok();
}
