//! A fresh database per test, on SQLite (a temp file) and on PostgreSQL (a new
//! database on the server named by `DATABASE_URL`, dropped afterwards).
//!
//! A PostgreSQL test fails when no server is reachable, unless `PERFAN_SKIP_PG=1` is
//! set explicitly; `scripts/test.sh` then reports that PostgreSQL tests did not run.

use std::sync::atomic::{AtomicU64, Ordering};

use perfstore::Store;
use sqlx::Connection;

/// A test database and a store on it.
pub struct TestDb {
    /// The store.
    pub store: std::sync::Arc<Store>,
    /// Its URL.
    pub url: String,
    /// For PostgreSQL: the admin URL and the database's name, to drop it.
    pg: Option<(String, String)>,
    /// Roles created for the test, dropped with the database.
    roles: Vec<String>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Rows per compacted block in the tests' stores: small enough that a few thousand
/// rows make several blocks, large enough for a sketch of many strides.
pub const TEST_BLOCK_ROWS: usize = 4096;

/// The options every test store is opened with.
pub fn options() -> perfstore::OpenOptions {
    let mut o = perfstore::OpenOptions::default();
    o.block_rows = Some(TEST_BLOCK_ROWS);
    o
}

/// A name no other test (or test process) uses.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        n,
        t % 1_000_000_000
    )
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = Store::open_with(&url, &options())
        .await
        .expect("open sqlite store");
    TestDb {
        store: store.into(),
        url,
        pg: None,
        roles: Vec::new(),
        _dir: Some(dir),
    }
}

/// The server's admin URL: `DATABASE_URL`. `None` only when `PERFAN_SKIP_PG=1`.
pub fn admin_url() -> Option<String> {
    if std::env::var("PERFAN_SKIP_PG").as_deref() == Ok("1") {
        eprintln!("PERFAN_SKIP_PG=1: PostgreSQL test not run");
        return None;
    }
    match std::env::var("DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => panic!(
            "DATABASE_URL is not set: PostgreSQL tests need a server (scripts/test.sh sets one up; \
             PERFAN_SKIP_PG=1 skips them explicitly)"
        ),
    }
}

/// `url` with its database name replaced by `db` (and optionally its user by `user`).
pub fn with_database(url: &str, db: &str, user: Option<&str>) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").expect("URL with ://");
    let (authority, _) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = match user {
        Some(u) => match authority.split_once('@') {
            Some((_, host)) => format!("{u}@{host}"),
            None => format!("{u}@{authority}"),
        },
        None => authority.to_owned(),
    };
    let mut out = format!("{scheme}://{authority}/{db}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub async fn postgres() -> Option<TestDb> {
    let admin = admin_url()?;
    let name = unique("perfan_t");
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL is unreachable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    let url = with_database(&admin, &name, None);
    let store = Store::open_with(&url, &options())
        .await
        .expect("open postgres store");
    Some(TestDb {
        store: store.into(),
        url,
        pg: Some((admin, name)),
        roles: Vec::new(),
        _dir: None,
    })
}

impl TestDb {
    /// Creates a plain login role (not superuser, not owner, no BYPASSRLS) with the
    /// privileges an application needs (perfstore/README.md), and returns a URL that
    /// connects as it.
    pub async fn plain_role_url(&mut self) -> String {
        self.role_url(true).await
    }

    /// The same role without the INSERT on `perfan_ingest.interval_metrics` (a
    /// deployment set up before migration 3): ingest takes the staging path.
    pub async fn plain_role_url_without_ingest_grant(&mut self) -> String {
        self.role_url(false).await
    }

    async fn role_url(&mut self, ingest_grant: bool) -> String {
        let (_, db) = self.pg.clone().expect("PostgreSQL only");
        let role = unique("perfan_app");
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("connect as admin");
        let mut stmts = vec![
            format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
            format!("GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}"),
            format!("GRANT USAGE ON SCHEMA public TO {role}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            ),
            format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        ];
        if ingest_grant {
            stmts.push(format!("GRANT USAGE ON SCHEMA perfan_ingest TO {role}"));
            stmts.push(format!(
                "GRANT INSERT ON perfan_ingest.interval_metrics TO {role}"
            ));
        }
        for stmt in stmts {
            sqlx::query(sqlx::AssertSqlSafe(stmt))
                .execute(&mut conn)
                .await
                .expect("set up the plain role");
        }
        conn.close().await.ok();
        self.roles.push(role.clone());
        with_database(&self.url, &db, Some(&role))
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        drop_database(
            admin,
            self.url.clone(),
            name,
            std::mem::take(&mut self.roles),
        );
    }
}

/// Drops a test database and the roles made for it (what they own in it first),
/// from synchronous code such as `Drop`: a thread with its own runtime (also runs
/// on panic).
pub fn drop_database(admin: String, db_url: String, name: String, roles: Vec<String>) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            if !roles.is_empty()
                && let Ok(mut c) = sqlx::PgConnection::connect(&db_url).await
            {
                for r in &roles {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP OWNED BY {r}")))
                        .execute(&mut c)
                        .await;
                }
                let _ = c.close().await;
            }
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut c)
                .await;
                for r in &roles {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {r}")))
                        .execute(&mut c)
                        .await;
                }
                let _ = c.close().await;
            }
        });
    })
    .join();
}

/// Runs an async test body on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::harness::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = $crate::harness::postgres().await {
                        super::$name(db).await;
                    }
                }
            }
        )*
    };
}

#[test]
fn urls_get_a_new_database_and_user() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1", None),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database(
            "postgres://postgres:pw@h:1/x?sslmode=disable",
            "t2",
            Some("app")
        ),
        "postgres://app@h:1/t2?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:1", "t3", None),
        "postgres://h:1/t3"
    );
}
