//! The real `perfan` binary against the store: `import`, `export`, `admin`, on SQLite
//! (a temp file) and on PostgreSQL (a fresh database on `DATABASE_URL`, which must be
//! set unless `PERFAN_SKIP_PG=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/upstream")
}

fn capture() -> PathBuf {
    fixtures().join("oci-e5-oraclelinux8/vm01_pcc_collection.json")
}

fn portal_file() -> PathBuf {
    fixtures().join("oci-e5-oraclelinux8/vm01_portal_format.csv")
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database for one test; a PostgreSQL one is dropped afterwards.
struct Db {
    url: String,
    pg: Option<(String, String)>,
    dir: tempfile::TempDir,
}

fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    Db {
        url: format!("sqlite://{}/cli.db", dir.path().display()),
        pg: None,
        dir,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn postgres() -> Option<Db> {
    if std::env::var("PERFAN_SKIP_PG").as_deref() == Ok("1") {
        eprintln!("PERFAN_SKIP_PG=1: PostgreSQL test not run");
        return None;
    }
    let admin = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("DATABASE_URL is not set (PERFAN_SKIP_PG=1 skips PostgreSQL tests explicitly)");
    let name = format!(
        "perfan_cli_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    rt().block_on(async {
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL is unreachable: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .unwrap();
    });
    let (base, query) = admin
        .split_once('?')
        .map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").unwrap();
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let mut url = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Some(Db {
        url,
        pg: Some((admin, name)),
        dir: tempfile::tempdir().unwrap(),
    })
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                rt().block_on(async {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                })
            })
            .join();
        }
    }
}

impl Db {
    fn perfan(&self, args: &[&str]) -> Output {
        self.perfan_stdin(args, None)
    }

    fn perfan_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_perfan"));
        cmd.args(args)
            .env("PERFAN_DB", &self.url)
            .env_remove("PERFAN_TENANT")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run perfan");
        if let Some(text) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs perfan and expects success; returns (stdout, stderr).
    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.perfan(args);
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "perfan {args:?} failed:\n{e}");
        (o, e)
    }

    /// Runs perfan and expects exit code 1; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.perfan(args);
        let e = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "perfan {args:?} should fail:\n{e}"
        );
        e
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&super::sqlite());
                }

                #[test]
                fn postgres() {
                    if let Some(db) = super::postgres() {
                        super::$name(&db);
                    }
                }
            }
        )*
    };
}

both!(
    import_capture_then_resend_stores_nothing_twice,
    portal_export_is_the_upstream_file_byte_for_byte,
    export_formats_and_time_range,
    key_create_prints_the_key_alone_and_revokes,
    tenants_and_users,
    bad_csv_row_is_named_and_nothing_is_stored,
    wide_csv_import_uses_its_machine_ids,
    report_from_the_store_equals_report_from_the_capture,
    retention_set_then_apply_deletes_old_data,
    import_compacts_and_admin_compact_finishes,
    db_flag_wins_over_perfan_db,
    containers_imported_before_their_host_take_nothing_from_it,
);

/// The older container collector's capture holds container records only: its
/// intervals have no machine-wide values, so importing it first must not take
/// the (machine, timestamp) slots of the host's rows imported after it; its
/// containers are named from the container_names.json beside it.
fn containers_imported_before_their_host_take_nothing_from_it(db: &Db) {
    let run = fixtures().join("oci-e5-ubuntu24-containers");
    let ctr = run.join("container_collection.json");
    let host = run.join("host_collection.json");
    let (_, e) = db.ok(&["import", "--machine", "oci", ctr.to_str().unwrap()]);
    // 126 intervals x 3 containers x 15 metrics = 5670 values, no rows.
    assert!(
        e.contains("stored 0 rows, 0 already present (5670 device values stored"),
        "{e}"
    );
    let (_, e) = db.ok(&["import", "--machine", "oci", host.to_str().unwrap()]);
    assert!(e.contains("stored 125 rows, 0 already present"), "{e}");
    let out = db.dir.path().join("oci.json");
    db.ok(&[
        "report",
        "--machine",
        "oci",
        "-o",
        db.dir.path().join("oci.html").to_str().unwrap(),
        "--json",
        out.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    let m = &v["machines"][0];
    assert_eq!(m["quality"]["intervals"], 125);
    let mut names: Vec<&str> = m["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "container")
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "loadtest-container-1",
            "loadtest-container-2",
            "loadtest-container-3"
        ]
    );
    // The names file itself is not something to import.
    let e = db.fails(&[
        "import",
        "--machine",
        "oci",
        run.join("container_names.json").to_str().unwrap(),
    ]);
    assert!(e.contains("not a capture, our CSV or a portal CSV"), "{e}");
}

/// `admin retention`: no policy is an error; a 30-day policy deletes the capture
/// (2026-01-07, older than 30 days when the test runs) and nothing younger.
fn retention_set_then_apply_deletes_old_data(db: &Db) {
    let cap = capture();
    db.ok(&["import", "--machine", "vm01", cap.to_str().unwrap()]);
    let e = db.fails(&["admin", "retention", "apply"]);
    assert!(e.contains("has no retention policy"), "{e}");
    let (_, e) = db.ok(&["admin", "retention", "set", "--days", "30"]);
    assert!(e.contains("keeps 30 days of data"), "{e}");
    let (tenants, _) = db.ok(&["admin", "tenant", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&tenants).unwrap();
    assert_eq!(v[0]["retention_days"], 30, "{tenants}");
    let (_, e) = db.ok(&["admin", "retention", "apply"]);
    assert!(
        e.contains("deleted 131 rows and 16768 device values older than 30 days"),
        "{e}"
    );
    let (_, e) = db.ok(&["admin", "retention", "apply"]);
    assert!(e.contains("deleted 0 rows and 0 device values"), "{e}");
    let (csv, _) = db.ok(&["export", "--machine", "vm01"]);
    assert_eq!(csv.lines().count(), 1, "only the header is left:\n{csv}");
    // Re-importing stores the rows again (retention deletes, it does not tombstone).
    let (_, e) = db.ok(&["import", "--machine", "vm01", cap.to_str().unwrap()]);
    assert!(e.contains("stored 131 rows, 0 already present"), "{e}");
}

/// Our wide CSV of `n` rows at 10 s from row `start`, one machine.
fn wide_csv(path: &Path, start: i64, n: i64) {
    use perfcore::metrics::{IntervalRow, Metric};
    let mut w = perfcore::csv::ours::WideWriter::new(Vec::new()).unwrap();
    for i in start..start + n {
        let mut r = IntervalRow::new(1_767_813_020_000 + i * 10_000, 10.0);
        r.set(Metric::CpuUserPct, Some((i % 97) as f64 * 0.5));
        r.set(Metric::Load1, Some((i % 13) as f64 / 4.0));
        w.write("big", &r).unwrap();
    }
    std::fs::write(path, w.finish().unwrap()).unwrap();
}

/// `import` compacts what it stored into summary blocks of 16,384 rows
/// (`perfstore::BLOCK_ROWS`) and a short last one, which the next compaction that
/// finds newer rows builds again with them; `admin compact` without new rows does
/// nothing.
fn import_compacts_and_admin_compact_finishes(db: &Db) {
    assert_eq!(perfstore::BLOCK_ROWS, 16_384);
    let first = db.dir.path().join("first.csv");
    wide_csv(&first, 0, 20_000);
    let (_, e) = db.ok(&["import", first.to_str().unwrap()]);
    assert!(
        e.contains("compacted the rows into 2 summary blocks"),
        "{e}"
    );
    assert!(e.contains("stored 20000 rows, 0 already present"), "{e}");
    let (_, e) = db.ok(&["admin", "compact"]);
    assert!(e.contains("compacted 0 rows into 0 blocks"), "{e}");
    // 3,000 more rows: the short block of 3,616 is built again with them.
    let second = db.dir.path().join("second.csv");
    wide_csv(&second, 20_000, 3_000);
    let (_, e) = db.ok(&["import", "--batch", "1000", second.to_str().unwrap()]);
    assert!(
        e.contains("compacted the rows into 1 summary blocks"),
        "{e}"
    );
    let (_, e) = db.ok(&["admin", "compact", "--machine", "big"]);
    assert!(e.contains("compacted 0 rows into 0 blocks"), "{e}");
    let e = db.fails(&["admin", "compact", "--machine", "nope"]);
    assert!(e.contains("no machine \"nope\""), "{e}");
}

/// `perfan admin --db URL ...` uses URL even when PERFAN_DB points elsewhere.
fn db_flag_wins_over_perfan_db(db: &Db) {
    let other = tempfile::tempdir().unwrap();
    let other_url = format!("sqlite://{}/other.db", other.path().display());
    perfan_env_ok(
        &["admin", "--db", &db.url, "tenant", "create", "acme"],
        &[("PERFAN_DB", Some(Path::new(&other_url)))],
    );
    // The flag's store has the tenant; the one PERFAN_DB named was never created.
    let (tenants, _) = db.ok(&["admin", "tenant", "list", "--format", "json"]);
    assert!(tenants.contains("\"acme\""), "{tenants}");
    assert!(!other.path().join("other.db").exists());
}

/// Without XDG_DATA_HOME the store goes to `~/.local/share/perfanalysis/`.
#[test]
fn default_database_falls_back_to_home_local_share() {
    let home = tempfile::tempdir().unwrap();
    perfan_env_ok(
        &["admin", "tenant", "create", "acme"],
        &[("XDG_DATA_HOME", None), ("HOME", Some(home.path()))],
    );
    assert!(
        home.path()
            .join(".local/share/perfanalysis/perfanalysis.db")
            .exists()
    );
}

fn import_capture_then_resend_stores_nothing_twice(db: &Db) {
    let cap = capture();
    let (_, e) = db.ok(&["import", "--machine", "vm01", cap.to_str().unwrap()]);
    assert!(e.contains("stored 131 rows, 0 already present"), "{e}");
    assert!(e.contains("16768 device values stored"), "{e}");
    let (_, e) = db.ok(&["import", "--machine", "vm01", cap.to_str().unwrap()]);
    assert!(e.contains("stored 0 rows, 131 already present"), "{e}");
    let (out, _) = db.ok(&["admin", "machine", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["machine_key"], "vm01");
    assert_eq!(
        v[0]["facts"]["cpu_count"], 2,
        "facts from the capture's samples"
    );
    assert_eq!(v[0]["last_seen_ms"], 1_767_801_176_000i64);
    let (table, _) = db.ok(&["admin", "machine", "list"]);
    assert!(
        table.lines().nth(1).unwrap().starts_with("1   vm01"),
        "{table}"
    );
    // A capture needs --machine.
    let e = db.fails(&["import", cap.to_str().unwrap()]);
    assert!(e.contains("pass --machine"), "{e}");
}

fn portal_export_is_the_upstream_file_byte_for_byte(db: &Db) {
    let portal = portal_file();
    let (_, e) = db.ok(&["import", "--machine", "p1", portal.to_str().unwrap()]);
    assert!(
        e.contains("(portal): stored 130 rows, 0 already present"),
        "{e}"
    );
    let (out, _) = db.ok(&["export", "--machine", "p1", "--format", "portal"]);
    let want = std::fs::read_to_string(&portal).unwrap();
    assert_eq!(out, want);
    // Our CSV of the same rows carries the interval length taken from the spacing.
    let (csv, _) = db.ok(&["export", "--machine", "p1", "--to", "1767800537"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with("2026-01-07T15:42:11Z,p1,5,50.60000000000002,"),
        "{}",
        lines[1]
    );
}

fn export_formats_and_time_range(db: &Db) {
    let cap = capture();
    db.ok(&["import", "--machine", "vm01", cap.to_str().unwrap()]);
    // RFC 3339 and unix seconds; --from inclusive, --to exclusive.
    let from = "2026-01-07T15:42:11Z";
    let to = "1767800546"; // 15:42:26Z
    let (csv, _) = db.ok(&["export", "--machine", "vm01", "--from", from, "--to", to]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], perfcore::csv::ours::wide_header());
    let ts: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        ts,
        [
            "2026-01-07T15:42:11Z",
            "2026-01-07T15:42:16Z",
            "2026-01-07T15:42:21Z"
        ]
    );

    let (json, _) = db.ok(&[
        "export",
        "--machine",
        "vm01",
        "--format",
        "json",
        "--from",
        from,
        "--to",
        to,
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["timestamp"], "2026-01-07T15:42:11Z");
    assert_eq!(rows[0]["timestamp_ms"], 1_767_800_531_000i64);
    assert_eq!(rows[0]["machine_id"], "vm01");
    assert_eq!(rows[0]["cpu_count"], 2.0);
    assert!(rows[0]["load1"].is_null(), "not in the capture");
    // The same numbers in CSV and JSON.
    let cpu_csv: f64 = lines[1].split(',').nth(3).unwrap().parse().unwrap();
    assert_eq!(rows[0]["cpu_user_pct"].as_f64().unwrap(), cpu_csv);

    // To a file.
    let path = db.dir.path().join("out.csv");
    let (_, e) = db.ok(&["export", "--machine", "vm01", "-o", path.to_str().unwrap()]);
    assert!(e.contains("exported 131 rows"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 132);
    // Nothing in range: a header only; an empty JSON array.
    let (none, _) = db.ok(&["export", "--machine", "vm01", "--from", "0", "--to", "1"]);
    assert_eq!(none.lines().count(), 1);
    let (none, _) = db.ok(&[
        "export",
        "--machine",
        "vm01",
        "--format",
        "json",
        "--to",
        "1",
    ]);
    assert_eq!(none, "[]\n");
    // Errors.
    let e = db.fails(&["export", "--machine", "nope"]);
    assert!(e.contains("no machine \"nope\""), "{e}");
    let e = db.fails(&["export", "--machine", "vm01", "--from", "yesterday"]);
    assert!(e.contains("--from"), "{e}");
}

fn key_create_prints_the_key_alone_and_revokes(db: &Db) {
    let (out, err) = db.ok(&["admin", "key", "create", "--name", "laptop"]);
    let key = out.trim_end();
    assert_eq!(out.lines().count(), 1);
    assert!(key.starts_with("pfa_") && key.len() == 77, "{out}");
    assert!(err.contains("will not be shown again"), "{err}");
    assert!(!err.contains(&key[13..]), "the secret only on stdout");

    let (json, _) = db.ok(&[
        "admin",
        "key",
        "create",
        "--machine",
        "web-1",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["key"]
            .as_str()
            .unwrap()
            .starts_with(v["prefix"].as_str().unwrap())
    );
    assert_eq!(v["id"], 2);

    let (list, _) = db.ok(&["admin", "key", "list"]);
    assert!(
        list.contains(&key[..12]) && list.contains("laptop") && list.contains("web-1"),
        "{list}"
    );
    assert!(!list.contains(&key[13..]), "list shows no secret");
    let (machines, _) = db.ok(&["admin", "machine", "list"]);
    assert!(machines.contains("web-1"), "a key's machine is registered");

    db.ok(&["admin", "key", "revoke", "1"]);
    let (list, _) = db.ok(&["admin", "key", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert!(v[0]["revoked_ms"].is_i64());
    assert!(v[1]["revoked_ms"].is_null());
    let e = db.fails(&["admin", "key", "revoke", "1"]);
    assert!(e.contains("no active key 1"), "{e}");
}

fn tenants_and_users(db: &Db) {
    db.ok(&["admin", "tenant", "create", "acme"]);
    let e = db.fails(&["admin", "tenant", "create", "acme"]);
    assert!(e.contains("already exists"), "{e}");
    let out = db.perfan_stdin(
        &[
            "admin",
            "user",
            "create",
            "--tenant",
            "acme",
            "--role",
            "analyst",
            "--password-stdin",
            "ana@acme.test",
        ],
        Some("s3cret pass\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (users, _) = db.ok(&["admin", "user", "list", "--tenant", "acme"]);
    assert!(
        users.contains("ana@acme.test") && users.contains("analyst"),
        "{users}"
    );
    let e = db.fails(&[
        "admin",
        "user",
        "create",
        "--tenant",
        "acme",
        "--role",
        "viewer",
        "v@acme.test",
    ]);
    assert!(e.contains("--password-stdin"), "{e}");
    let e = db.fails(&["admin", "user", "list", "--tenant", "nobody"]);
    assert!(e.contains("no tenant \"nobody\""), "{e}");
    // The default tenant appears on first use; acme's users are not default's.
    let (users, _) = db.ok(&["admin", "user", "list"]);
    assert_eq!(users.lines().count(), 1, "{users}");
    let (tenants, _) = db.ok(&["admin", "tenant", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&tenants).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "default"]);
    // Data of one tenant is not another's.
    let cap = capture();
    db.ok(&[
        "import",
        "--tenant",
        "acme",
        "--machine",
        "m",
        cap.to_str().unwrap(),
    ]);
    let e = db.fails(&["export", "--machine", "m"]);
    assert!(e.contains("no machine"), "{e}");
    let (csv, _) = db.ok(&["export", "--tenant", "acme", "--machine", "m"]);
    assert_eq!(csv.lines().count(), 132);
}

fn bad_csv_row_is_named_and_nothing_is_stored(db: &Db) {
    let header = perfcore::csv::ours::wide_header();
    let n = perfcore::metrics::METRIC_COUNT;
    let good = format!("2026-01-07T19:10:21Z,m,5,1{}", ",".repeat(n - 1));
    let bad = format!("2026-01-07T19:10:26Z,m,5,abc{}", ",".repeat(n - 1));
    let path = db.dir.path().join("bad.csv");
    std::fs::write(&path, format!("{header}\n{good}\n{bad}\n")).unwrap();
    let e = db.fails(&["import", path.to_str().unwrap()]);
    assert!(e.contains("CSV line 3, column cpu_user_pct"), "{e}");
    let e = db.fails(&["export", "--machine", "m"]);
    assert!(e.contains("no machine"), "nothing stored: {e}");
    // A file of unknown layout.
    let junk = db.dir.path().join("junk.txt");
    std::fs::write(&junk, "hello,world\n").unwrap();
    let e = db.fails(&["import", "--machine", "m", junk.to_str().unwrap()]);
    assert!(e.contains("not a capture, our CSV or a portal CSV"), "{e}");
}

fn wide_csv_import_uses_its_machine_ids(db: &Db) {
    let header = perfcore::csv::ours::wide_header();
    let n = perfcore::metrics::METRIC_COUNT;
    let row = |ts: &str, m: &str, v: u32| format!("{ts},{m},10,{v}{}", ",".repeat(n - 1));
    let path = db.dir.path().join("two.csv");
    std::fs::write(
        &path,
        format!(
            "{header}\n{}\n{}\n{}\n",
            row("2026-01-07T19:10:20Z", "a", 1),
            row("2026-01-07T19:10:20Z", "b", 2),
            row("2026-01-07T19:10:30Z", "a", 3)
        ),
    )
    .unwrap();
    let (_, e) = db.ok(&["import", path.to_str().unwrap()]);
    assert!(e.contains("stored 3 rows, 0 already present"), "{e}");
    // One upload record per machine of the file, each with its own counts and range.
    let rt = rt();
    let uploads = rt.block_on(async {
        let store = perfstore::Store::open(&db.url).await.unwrap();
        let t = store.tenant_by_name("default").await.unwrap().unwrap();
        let ms = store.list_machines(t.id).await.unwrap();
        let ups = store.list_uploads(t.id, 10).await.unwrap();
        store.close().await;
        let key = |id| {
            ms.iter()
                .find(|m| Some(m.id) == id)
                .map(|m| m.machine_key.clone())
        };
        let mut v: Vec<_> = ups
            .iter()
            .map(|u| {
                (
                    key(u.upload.machine),
                    u.upload.rows_stored,
                    u.upload.time_range_ms,
                )
            })
            .collect();
        v.sort();
        v
    });
    assert_eq!(
        uploads,
        [
            (
                Some("a".into()),
                2,
                Some((1_767_813_020_000, 1_767_813_030_000))
            ),
            (
                Some("b".into()),
                1,
                Some((1_767_813_020_000, 1_767_813_020_000))
            ),
        ]
    );
    let (a, _) = db.ok(&["export", "--machine", "a"]);
    assert_eq!(a.lines().count(), 3);
    assert!(
        a.lines()
            .nth(2)
            .unwrap()
            .starts_with("2026-01-07T19:10:30Z,a,10,3,")
    );
    let (b, _) = db.ok(&["export", "--machine", "b"]);
    assert_eq!(b.lines().count(), 2);
    // Our CSV export imports back as it was.
    let back = db.dir.path().join("a.csv");
    std::fs::write(&back, &a).unwrap();
    let (_, e) = db.ok(&["import", "--machine", "a2", back.to_str().unwrap()]);
    assert!(e.contains("stored 2 rows"), "{e}");
    let (a2, _) = db.ok(&["export", "--machine", "a2"]);
    assert_eq!(a2.replace(",a2,", ",a,"), a);
}

/// Runs perfan with `args` (no PERFAN_DB unless `env` sets it) and expects success.
fn perfan_env_ok(args: &[&str], env: &[(&str, Option<&Path>)]) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_perfan"));
    cmd.args(args).env_remove("PERFAN_DB");
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "perfan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn default_database_is_created_under_xdg_data_home() {
    let home = tempfile::tempdir().unwrap();
    perfan_env_ok(
        &["admin", "tenant", "list"],
        &[("XDG_DATA_HOME", Some(home.path()))],
    );
    assert!(home.path().join("perfanalysis/perfanalysis.db").exists());
}

/// `perfan report --db` reads what `import` stored: the same statistics as a
/// report made from the capture itself.
fn report_from_the_store_equals_report_from_the_capture(db: &Db) {
    let cap = capture();
    db.ok(&["import", "--machine", "vm01", cap.to_str().unwrap()]);
    let dir = db.dir.path();
    let (store_json, file_json) = (dir.join("store.json"), dir.join("file.json"));
    let (_, e) = db.ok(&[
        "report",
        "--machine",
        "vm01",
        "-o",
        dir.join("store.html").to_str().unwrap(),
        "--json",
        store_json.to_str().unwrap(),
    ]);
    assert!(e.contains("1 machine, 131 intervals"), "{e}");
    db.ok(&[
        "report",
        "--input",
        cap.to_str().unwrap(),
        "--machine",
        "vm01",
        "-o",
        dir.join("file.html").to_str().unwrap(),
        "--json",
        file_json.to_str().unwrap(),
    ]);
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (a, b) = (read(&store_json), read(&file_json));
    let (ma, mb) = (&a["machines"][0], &b["machines"][0]);
    assert_eq!(ma["machine_id"], "vm01");
    for metric in [
        "cpu_user_pct",
        "mem_used_bytes",
        "disk_write_bytes_per_s",
        "net_rx_bytes_per_s",
    ] {
        for stat in ["count", "min", "avg", "p95", "max"] {
            let (x, y) = (&ma["metrics"][metric][stat], &mb["metrics"][metric][stat]);
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                "{metric}.{stat}: store {x}, file {y}"
            );
        }
    }
    assert_eq!(ma["findings"], mb["findings"]);
    let src = ma["sources"][0].as_str().unwrap();
    assert!(src.starts_with("store ("), "{src}");
    assert!(!src.contains("password"), "{src}");
    // An unknown machine is named in a one-line error.
    let e = db.fails(&[
        "report",
        "--machine",
        "nope",
        "-o",
        dir.join("x.html").to_str().unwrap(),
    ]);
    assert!(e.contains("no machine \"nope\""), "{e}");
    // --from/--to on the store keep the same intervals as on the file.
    let (cs, cf) = (dir.join("cut-store.json"), dir.join("cut-file.json"));
    let cut_report = |input: &[&str], json: &Path| {
        let mut args = vec!["report", "--machine", "vm01", "-o", "/dev/null"];
        args.extend_from_slice(input);
        args.extend_from_slice(&["--json", json.to_str().unwrap()]);
        args.extend_from_slice(&["--from", "1767800601", "--to", "2026-01-07T15:45:00Z"]);
        db.ok(&args);
    };
    cut_report(&[], &cs);
    cut_report(&["--input", cap.to_str().unwrap()], &cf);
    let (a, b) = (read(&cs), read(&cf));
    let count = |v: &serde_json::Value| {
        v["machines"][0]["metrics"]["cpu_busy_pct"]["count"]
            .as_u64()
            .unwrap()
    };
    assert!(count(&a) >= 19 && count(&a) < 131, "{}", count(&a));
    assert_eq!(count(&a), count(&b));
    assert_eq!(
        a["machines"][0]["time_range"],
        b["machines"][0]["time_range"]
    );
    // --tenant: another tenant's machine is not there for the default tenant.
    db.ok(&["admin", "tenant", "create", "reports-t"]);
    db.ok(&[
        "import",
        "--tenant",
        "reports-t",
        "--machine",
        "vm02",
        cap.to_str().unwrap(),
    ]);
    let e = db.fails(&["report", "--machine", "vm02", "-o", "/dev/null"]);
    assert!(e.contains("no machine \"vm02\""), "{e}");
    let (_, e) = db.ok(&["report", "--tenant", "reports-t", "-o", "/dev/null"]);
    assert!(
        e.contains("1 machine, 131 intervals"),
        "only vm02 in that tenant: {e}"
    );
}
