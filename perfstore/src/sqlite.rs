//! The SQLite backend: one file, WAL, multi-row prepared inserts in one transaction.
//!
//! sqlx runs each SQLite connection on a worker thread and pays a round trip per
//! statement, so ingest binds many rows per statement ([`ROWS_PER_INSERT`]) and reuses
//! the prepared statement for every full chunk. Write transactions start with
//! `BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing on a
//! lock upgrade.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use perfcore::metrics::{DeviceKind, DeviceRow, IntervalRow, MachineFacts, Metric};
use sqlx::Arguments;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, Transaction};

use crate::compute;
use crate::error::{Error, Result};
use crate::migrate;
use crate::secret;
use crate::types::*;

/// Interval rows bound per INSERT statement (60 values each: well under SQLite's
/// 32766 bound parameters), at most and by default.
const ROWS_PER_INSERT: usize = 256;
/// Device values bound per INSERT statement (4 values each), at most and by default.
const VALUES_PER_INSERT: usize = 2048;
/// Machines whose series ids are cached at most (a few KiB each); past this the
/// cache starts again.
const SERIES_CACHE_MACHINES: usize = 1024;
/// Series bound per INSERT statement (5 values each).
const SERIES_PER_INSERT: usize = 512;

fn values_clause(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * (2 * cols + 2));
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push(',');
            }
            out.push('?');
        }
        out.push(')');
    }
    out
}

fn insert_values_sql(n: usize) -> String {
    format!(
        "INSERT INTO device_values (tenant_id, series_id, ts_ms, value) VALUES {} ON CONFLICT DO NOTHING",
        values_clause(n, 4)
    )
}

fn sql(s: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(s.clone())
}

/// Which multi-row statement a cached text is.
#[derive(Hash, PartialEq, Eq)]
enum TextKey {
    /// Interval rows: the metric column indexes and the row count.
    Rows(Vec<u16>, usize),
    /// Device values, by count.
    Values(usize),
    /// Device series, by count.
    Series(usize),
}

/// Multi-row statement texts, kept so that building the text of a statement the
/// connection has already prepared costs a lookup, not a formatting pass.
type InsertTexts = HashMap<TextKey, Arc<str>>;

/// A store on one SQLite file.
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// INSERT texts by (column set, row count).
    insert_texts: std::sync::Mutex<InsertTexts>,
    /// Ids of the device series this store has created or read, per (tenant,
    /// machine), keyed by `kind\0device\0metric`: a batch whose series are all
    /// known (every batch of a running agent after its first) needs no series
    /// statement. Ids are AUTOINCREMENT, never reused, and series are deleted only
    /// with their machine, whose new incarnation has a new id, so an entry cannot
    /// name another series.
    series_cache: std::sync::Mutex<SeriesCache>,
    /// Device values bound per INSERT statement.
    values_per_insert: usize,
    /// Interval rows bound per INSERT statement.
    rows_per_insert: usize,
    /// Bulk reads on their own connections (a file store; `None` in memory).
    reader: Option<crate::sqlite_read::SharedReader>,
    /// Rows per compacted block.
    block_rows: usize,
}

/// The ids of a batch's series, and, when they had to be read, every series of
/// the machine, for the cache once the batch has committed.
type SeriesIds<'a> = (
    compute::FastMap<(&'a str, &'a str, &'a str), i64>,
    Option<compute::FastMap<String, i64>>,
);

/// See [`SqliteStore::series_cache`].
type SeriesCache = compute::FastMap<(i64, i64), compute::FastMap<String, i64>>;

/// Writes the cache key of a series into `buf`.
fn series_key(buf: &mut String, kind: &str, device: &str, metric: &str) {
    buf.clear();
    buf.push_str(kind);
    buf.push('\0');
    buf.push_str(device);
    buf.push('\0');
    buf.push_str(metric);
}

/// The file path in a `sqlite:` URL, or a bare path.
pub(crate) fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite:") || !url.contains("://")
}

impl SqliteStore {
    pub(crate) async fn open(url: &str, options: &crate::OpenOptions) -> Result<Self> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let cache_kib = options.sqlite_cache_kib.unwrap_or(65_536);
        let opts = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).map_err(|e| Error::Url {
                url: url.to_owned(),
                message: e.to_string(),
            })?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        if !memory {
            let path = opts.get_filename();
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| Error::Url {
                    url: url.to_owned(),
                    message: format!("creating {}: {e}", dir.display()),
                })?;
            }
        }
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses no committed transaction on a process crash
            // (kill -9); only a power cut can lose the last ones.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            // Rows the worker thread may run ahead of the reader (default 50): fewer
            // hand-overs between threads on large reads.
            .row_buffer_size(1024)
            .pragma("cache_size", format!("-{cache_kib}"))
            .pragma("temp_store", "memory")
            // Each cached multi-row INSERT is a prepared statement of hundreds of KiB;
            // a small store keeps only a few.
            .statement_cache_capacity(options.statement_cache.unwrap_or(100) as usize);
        let file = opts.get_filename().to_path_buf();
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory {
                1
            } else {
                options.max_connections.unwrap_or(4).max(1)
            })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(3600))
            })
            .connect_with(opts)
            .await
            .map_err(Error::db(format!("opening {url}")))?;
        let reader = (!memory)
            .then(|| std::sync::Arc::new(crate::sqlite_read::BulkReader::new(file, cache_kib)));
        let store = SqliteStore {
            reader,
            pool,
            insert_texts: std::sync::Mutex::new(HashMap::new()),
            series_cache: std::sync::Mutex::new(SeriesCache::default()),
            values_per_insert: options
                .sqlite_values_per_insert
                .unwrap_or(VALUES_PER_INSERT)
                .clamp(1, VALUES_PER_INSERT),
            rows_per_insert: options
                .sqlite_rows_per_insert
                .unwrap_or(ROWS_PER_INSERT)
                .clamp(1, ROWS_PER_INSERT),
            block_rows: compute::block_rows(options),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub(crate) async fn close(&self) {
        if let Some(r) = &self.reader {
            r.close();
        }
        self.pool.close().await;
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Error::db("starting a write transaction"))
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             checksum TEXT NOT NULL, applied_ms INTEGER NOT NULL)",
            migrate::TABLE
        )))
        .execute(&mut *tx)
        .await
        .map_err(Error::db("creating the migrations table"))?;
        let applied: Vec<(i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT version, checksum FROM {} ORDER BY version",
            migrate::TABLE
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("reading applied migrations"))?;
        for m in migrate::plan(migrate::SQLITE, &applied)? {
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(Error::db(format!("migration {} ({})", m.version, m.name)))?;
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (version, name, checksum, applied_ms) VALUES (?, ?, ?, ?)",
                migrate::TABLE
            )))
            .bind(m.version)
            .bind(m.name)
            .bind(m.checksum())
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(Error::db("recording a migration"))?;
        }
        tx.commit()
            .await
            .map_err(Error::db("committing migrations"))
    }

    // ---- tenants -------------------------------------------------------------

    pub(crate) async fn create_tenant(&self, name: &str) -> Result<Tenant> {
        let now = now_ms();
        let r = sqlx::query("INSERT INTO tenants (name, created_ms) VALUES (?, ?) RETURNING id")
            .bind(name)
            .bind(now)
            .fetch_one(&self.pool)
            .await;
        match r {
            Ok(row) => Ok(Tenant {
                id: TenantId(row.get(0)),
                name: name.to_owned(),
                retention_days: None,
                created_ms: now,
            }),
            Err(e) if Error::is_unique_violation(&e) => Err(Error::AlreadyExists {
                what: "tenant",
                name: name.to_owned(),
            }),
            Err(e) => Err(Error::db("creating a tenant")(e)),
        }
    }

    pub(crate) async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        let row =
            sqlx::query("SELECT id, name, retention_days, created_ms FROM tenants WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(Error::db("looking up a tenant"))?;
        Ok(row.map(|r| tenant_from_row(&r)))
    }

    pub(crate) async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows =
            sqlx::query("SELECT id, name, retention_days, created_ms FROM tenants ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(Error::db("listing tenants"))?;
        Ok(rows.iter().map(tenant_from_row).collect())
    }

    pub(crate) async fn set_retention(&self, tenant: TenantId, days: Option<u32>) -> Result<()> {
        let r = sqlx::query("UPDATE tenants SET retention_days = ? WHERE id = ?")
            .bind(days.map(i64::from))
            .bind(tenant.0)
            .execute(&self.pool)
            .await
            .map_err(Error::db("setting retention"))?;
        if r.rows_affected() == 0 {
            return Err(Error::NotFound {
                what: "tenant",
                name: tenant.0.to_string(),
            });
        }
        Ok(())
    }

    // ---- machines ------------------------------------------------------------

    pub(crate) async fn upsert_machine(
        &self,
        tenant: TenantId,
        machine_key: &str,
        hostname: Option<&str>,
        labels: &Labels,
        facts: Option<&MachineFacts>,
    ) -> Result<Machine> {
        let labels_json = json(labels)?;
        let facts_json = facts.map(json).transpose()?;
        let row = sqlx::query(
            "INSERT INTO machines (tenant_id, machine_key, hostname, labels, facts, first_seen_ms) \
             VALUES (?1, ?2, ?3, ?4, COALESCE(?5, '{}'), ?6) \
             ON CONFLICT (tenant_id, machine_key) DO UPDATE SET \
               hostname = COALESCE(excluded.hostname, machines.hostname), \
               labels = CASE WHEN ?4 = '{}' THEN machines.labels ELSE ?4 END, \
               facts = COALESCE(?5, machines.facts) \
             RETURNING id, tenant_id, machine_key, hostname, labels, facts, first_seen_ms, last_seen_ms",
        )
        .bind(tenant.0)
        .bind(machine_key)
        .bind(hostname)
        .bind(&labels_json)
        .bind(facts_json)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(Error::db(format!("saving machine {machine_key:?}")))?;
        machine_from_row(&row)
    }

    pub(crate) async fn machine(
        &self,
        tenant: TenantId,
        machine_key: &str,
    ) -> Result<Option<Machine>> {
        let row = sqlx::query(
            "SELECT id, tenant_id, machine_key, hostname, labels, facts, first_seen_ms, last_seen_ms \
             FROM machines WHERE tenant_id = ? AND machine_key = ?",
        )
        .bind(tenant.0)
        .bind(machine_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::db("looking up a machine"))?;
        row.as_ref().map(machine_from_row).transpose()
    }

    pub(crate) async fn list_machines(&self, tenant: TenantId) -> Result<Vec<Machine>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, machine_key, hostname, labels, facts, first_seen_ms, last_seen_ms \
             FROM machines WHERE tenant_id = ? ORDER BY machine_key",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("listing machines"))?;
        rows.iter().map(machine_from_row).collect()
    }

    // ---- ingest --------------------------------------------------------------

    pub(crate) async fn ingest(
        &self,
        tenant: TenantId,
        machine: MachineId,
        rows: &[IntervalRow],
        devices: &[DeviceRow],
    ) -> Result<IngestReport> {
        let mut tx = self.write_tx().await?;
        machine_mask(&mut tx, tenant, machine).await?;
        let mut report = IngestReport::default();
        report.stored = self.insert_rows(&mut tx, tenant, machine, rows).await?;
        report.already_present = rows.len() as u64 - report.stored;
        if report.stored > 0 {
            invalidate_spans(&mut tx, tenant, machine, rows).await?;
        }

        let mut read_series = None;
        if !devices.is_empty() {
            let (ids, all) = self.series_ids(&mut tx, tenant, machine, devices).await?;
            read_series = all;
            for chunk in devices.chunks(self.values_per_insert) {
                let text = self.text(TextKey::Values(chunk.len()), || {
                    insert_values_sql(chunk.len())
                });
                let mut q = sqlx::query(sql(&text));
                for d in chunk {
                    let id = ids
                        .get(&(d.kind.as_str(), d.device.as_str(), d.metric))
                        .copied()
                        .ok_or_else(|| Error::Invalid("device series missing".into()))?;
                    q = q.bind(tenant.0).bind(id).bind(d.timestamp_ms).bind(d.value);
                }
                let done = q
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::db("inserting device values"))?;
                report.devices_stored += done.rows_affected();
            }
            report.devices_already_present = devices.len() as u64 - report.devices_stored;
        }
        if let Some(newest) = rows
            .iter()
            .map(|r| r.timestamp_ms)
            .chain(devices.iter().map(|d| d.timestamp_ms))
            .max()
        {
            sqlx::query(
                "UPDATE machines SET last_seen_ms = MAX(COALESCE(last_seen_ms, ?1), ?1), \
                 metric_mask = metric_mask | ?4 WHERE tenant_id = ?2 AND id = ?3",
            )
            .bind(newest)
            .bind(tenant.0)
            .bind(machine.0)
            .bind(compute::metric_mask(rows))
            .execute(&mut *tx)
            .await
            .map_err(Error::db("updating last seen"))?;
        }
        tx.commit()
            .await
            .map_err(Error::db("committing the batch"))?;
        if let Some(all) = read_series {
            let mut cache = self
                .series_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.len() >= SERIES_CACHE_MACHINES {
                cache.clear();
            }
            cache.insert((tenant.0, machine.0), all);
        }
        Ok(report)
    }

    /// Inserts interval rows in multi-row statements. The arguments of the next
    /// statement are built while sqlx's worker thread runs the current one.
    async fn insert_rows(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        tenant: TenantId,
        machine: MachineId,
        rows: &[IntervalRow],
    ) -> Result<u64> {
        let (send, recv) = tokio::sync::mpsc::channel::<(Arc<str>, SqliteArguments)>(2);
        let producer = async move {
            for chunk in rows.chunks(self.rows_per_insert) {
                // Columns no row of the chunk has are left out of the statement (they
                // default to NULL): sparse rows (a portal CSV fills 13 of the 56
                // metrics) bind a fraction of the values.
                let present = compute::present_metrics(compute::metric_mask(chunk));
                let text = self.insert_sql(&present, chunk.len());
                let mut args = SqliteArguments::default();
                args.reserve(chunk.len() * (4 + present.len()), 0);
                for r in chunk {
                    add(&mut args, tenant.0)?;
                    add(&mut args, machine.0)?;
                    add(&mut args, r.timestamp_ms)?;
                    add(&mut args, r.elapsed_s)?;
                    for m in &present {
                        add(&mut args, r.values[m.index()])?;
                    }
                }
                if send.send((text, args)).await.is_err() {
                    break; // the consumer failed; its error is returned
                }
            }
            Ok::<(), Error>(())
        };
        let consumer = async {
            // Owned here, so that the producer's send fails (instead of waiting for
            // ever) once this side has stopped on an error.
            let mut recv = recv;
            let mut stored = 0u64;
            while let Some((text, args)) = recv.recv().await {
                let done = sqlx::query_with(sql(&text), args)
                    .execute(&mut **tx)
                    .await
                    .map_err(Error::db("inserting interval rows"))?;
                stored += done.rows_affected();
            }
            Ok::<u64, Error>(stored)
        };
        let (produced, stored) = tokio::join!(producer, consumer);
        let stored = stored?;
        produced?;
        Ok(stored)
    }

    /// The INSERT of `rows` rows with these metric columns (texts kept for reuse, so
    /// sqlx's statement cache finds the prepared statement).
    fn insert_sql(&self, present: &[Metric], rows: usize) -> Arc<str> {
        let key = TextKey::Rows(present.iter().map(|m| m.index() as u16).collect(), rows);
        self.text(key, || {
            let cols = if present.is_empty() {
                "tenant_id, machine_id, ts_ms, interval_s".to_owned()
            } else {
                format!(
                    "tenant_id, machine_id, ts_ms, interval_s, {}",
                    compute::column_list(present)
                )
            };
            format!(
                "INSERT INTO interval_metrics ({cols}) VALUES {} ON CONFLICT DO NOTHING",
                values_clause(rows, 4 + present.len())
            )
        })
    }

    /// The cached text for `key`, made by `make` the first time.
    fn text(&self, key: TextKey, make: impl FnOnce() -> String) -> Arc<str> {
        let mut cache = self
            .insert_texts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = cache.get(&key) {
            return t.clone();
        }
        let text: Arc<str> = make().into();
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(key, text.clone());
        text
    }

    /// Ids of the device series of a batch, creating the missing ones.
    async fn series_ids<'a>(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        tenant: TenantId,
        machine: MachineId,
        devices: &'a [DeviceRow],
    ) -> Result<SeriesIds<'a>> {
        let keys = compute::series_keys(devices);
        let mut out = compute::FastMap::with_capacity_and_hasher(keys.len(), Default::default());
        let mut buf = String::new();
        let missing: Vec<(&str, &str, &str)> = {
            let cache = self
                .series_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let known = cache.get(&(tenant.0, machine.0));
            keys.iter()
                .copied()
                .filter(|&(k, d, m)| {
                    series_key(&mut buf, k, d, m);
                    match known.and_then(|c| c.get(buf.as_str())) {
                        Some(&id) => {
                            out.insert((k, d, m), id);
                            false
                        }
                        None => true,
                    }
                })
                .collect()
        };
        if missing.is_empty() {
            return Ok((out, None));
        }
        for chunk in missing.chunks(SERIES_PER_INSERT) {
            let text = self.text(TextKey::Series(chunk.len()), || {
                format!(
                    "INSERT INTO device_series (tenant_id, machine_id, kind, device, metric) \
                     VALUES {} ON CONFLICT DO NOTHING",
                    values_clause(chunk.len(), 5)
                )
            });
            let mut q = sqlx::query(sql(&text));
            for (k, d, m) in chunk {
                q = q.bind(tenant.0).bind(machine.0).bind(*k).bind(*d).bind(*m);
            }
            q.execute(&mut **tx)
                .await
                .map_err(Error::db("creating device series"))?;
        }
        let rows = sqlx::query(
            "SELECT id, kind, device, metric FROM device_series WHERE tenant_id = ? AND machine_id = ?",
        )
        .bind(tenant.0)
        .bind(machine.0)
        .fetch_all(&mut **tx)
        .await
        .map_err(Error::db("reading device series"))?;
        let mut stored: compute::FastMap<String, i64> =
            compute::FastMap::with_capacity_and_hasher(rows.len(), Default::default());
        for r in &rows {
            series_key(&mut buf, r.get(1), r.get(2), r.get(3));
            stored.insert(buf.clone(), r.get(0));
        }
        for k in missing {
            series_key(&mut buf, k.0, k.1, k.2);
            if let Some(id) = stored.get(buf.as_str()) {
                out.insert(k, *id);
            }
        }
        // Kept only once the transaction has committed: a rolled-back batch may
        // have created series that are gone again.
        Ok((out, Some(stored)))
    }

    // ---- queries -------------------------------------------------------------

    /// The metrics the machine has ever had values for (none for an unknown machine).
    pub(crate) async fn present(
        &self,
        tenant: TenantId,
        machine: MachineId,
    ) -> Result<Vec<Metric>> {
        let mask: Option<i64> =
            sqlx::query_scalar("SELECT metric_mask FROM machines WHERE tenant_id = ? AND id = ?")
                .bind(tenant.0)
                .bind(machine.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(Error::db("reading the machine's metrics"))?;
        Ok(mask.map(compute::present_metrics).unwrap_or_default())
    }

    /// Rows in `[from_ms, to_ms)` with the `present` metrics read (the others `None`).
    pub(crate) async fn rows(
        &self,
        tenant: TenantId,
        machine: MachineId,
        present: &[Metric],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRow>> {
        if let Some(r) = &self.reader {
            return crate::sqlite_read::rows(r, tenant, machine, present, from_ms, to_ms).await;
        }
        let text = crate::sqlite_read::select("ts_ms, interval_s", present, true);
        let mut out = Vec::new();
        let mut stream = sqlx::query(AssertSqlSafe(text))
            .bind(tenant.0)
            .bind(machine.0)
            .bind(from_ms)
            .bind(to_ms)
            .fetch(&self.pool);
        while let Some(r) = stream
            .try_next()
            .await
            .map_err(Error::db("reading interval rows"))?
        {
            let mut row = IntervalRow::new(
                r.try_get(0).map_err(Error::db("ts_ms"))?,
                r.try_get(1).map_err(Error::db("interval_s"))?,
            );
            for (i, m) in present.iter().enumerate() {
                row.values[m.index()] = r
                    .try_get_unchecked(i + 2)
                    .map_err(Error::db("a metric column"))?;
            }
            out.push(row);
        }
        Ok(out)
    }

    pub(crate) async fn devices(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DeviceSample>> {
        let rows = sqlx::query(
            "SELECT v.ts_ms, s.kind, s.device, s.metric, v.value \
             FROM device_series s JOIN device_values v ON v.tenant_id = s.tenant_id AND v.series_id = s.id \
             WHERE s.tenant_id = ? AND s.machine_id = ? AND v.ts_ms >= ? AND v.ts_ms < ? \
             ORDER BY v.ts_ms, s.kind, s.device, s.metric",
        )
        .bind(tenant.0)
        .bind(machine.0)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("reading device values"))?;
        rows.iter().map(device_from_row).collect()
    }

    pub(crate) async fn columns(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Columns> {
        if let Some(r) = &self.reader {
            return crate::sqlite_read::columns(r, tenant, machine, metrics, from_ms, to_ms).await;
        }
        let text = crate::sqlite_read::select("ts_ms", metrics, true);
        let mut out = Columns {
            timestamps_ms: Vec::new(),
            values: vec![Vec::new(); metrics.len()],
        };
        let mut stream = sqlx::query(AssertSqlSafe(text))
            .bind(tenant.0)
            .bind(machine.0)
            .bind(from_ms)
            .bind(to_ms)
            .fetch(&self.pool);
        while let Some(r) = stream
            .try_next()
            .await
            .map_err(Error::db("reading columns"))?
        {
            out.timestamps_ms
                .push(r.try_get(0).map_err(Error::db("ts_ms"))?);
            for (i, col) in out.values.iter_mut().enumerate() {
                col.push(
                    r.try_get_unchecked(i + 1)
                        .map_err(Error::db("a metric column"))?,
                );
            }
        }
        Ok(out)
    }

    /// Non-null values of each metric, for statistics.
    pub(crate) async fn dense_columns(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(Metric, Vec<f64>)>> {
        if let Some(r) = &self.reader {
            return crate::sqlite_read::dense_columns(r, tenant, machine, metrics, from_ms, to_ms)
                .await;
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(Error::db("taking a connection"))?;
        dense_columns_on(&mut conn, tenant, machine, metrics, from_ms, to_ms).await
    }

    /// The compacted spans inside `[from_ms, to_ms)` and their sorted values.
    pub(crate) async fn block_runs(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        (from_ms, to_ms): (i64, i64),
        bufs: Vec<compute::FlatRuns>,
    ) -> Result<compute::BlockRuns> {
        if let Some(r) = &self.reader {
            return crate::sqlite_read::block_runs(
                r,
                tenant,
                machine,
                metrics,
                (from_ms, to_ms),
                bufs,
            )
            .await;
        }
        let text = crate::sqlite_read::select_blocks(metrics);
        let mut spans = Vec::new();
        let mut runs = compute::reuse(bufs, metrics.len());
        let mut stream = sqlx::query(AssertSqlSafe(text))
            .bind(tenant.0)
            .bind(machine.0)
            .bind(from_ms)
            .bind(to_ms)
            .fetch(&self.pool);
        while let Some(r) = stream
            .try_next()
            .await
            .map_err(Error::db("reading summary blocks"))?
        {
            let span = compute::Span {
                first_ms: r.try_get(0).map_err(Error::db("first_ms"))?,
                last_ms: r.try_get(1).map_err(Error::db("last_ms"))?,
                rows: r.try_get(2).map_err(Error::db("row_count"))?,
            };
            let name: Option<String> = r.try_get(3).map_err(Error::db("metric"))?;
            let count: Option<i64> = r.try_get(4).map_err(Error::db("value_count"))?;
            let bytes: Option<Vec<u8>> = r.try_get(5).map_err(Error::db("sorted_values"))?;
            let block = match (&name, count, &bytes) {
                (Some(n), Some(c), Some(b)) => Some((n.as_str(), c, b.as_slice())),
                _ => None,
            };
            crate::sqlite_read::add_block(&mut spans, &mut runs, metrics, span, block)?;
        }
        Ok((spans, runs))
    }

    /// Compacts the machine's rows that no span covers into spans of
    /// `block_rows` rows (the last of each run of rows possibly short; a short last
    /// span is built again with the rows after it), under the
    /// write lock, so no ingest or retention can change the rows meanwhile.
    pub(crate) async fn compact(
        &self,
        tenant: TenantId,
        machine: MachineId,
    ) -> Result<CompactReport> {
        let mut tx = self.write_tx().await?;
        let mask = machine_mask(&mut tx, tenant, machine).await?;
        let present = compute::present_metrics(mask);
        let mut spans: Vec<compute::Span> = sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT first_ms, last_ms, row_count FROM block_spans \
             WHERE tenant_id = ? AND machine_id = ? ORDER BY last_ms",
        )
        .bind(tenant.0)
        .bind(machine.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("reading summary spans"))?
        .into_iter()
        .map(|(first_ms, last_ms, rows)| compute::Span {
            first_ms,
            last_ms,
            rows,
        })
        .collect();
        if let Some(tail) = compute::reopened_tail(&spans, self.block_rows) {
            let newer: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM interval_metrics WHERE tenant_id = ? \
                 AND machine_id = ? AND ts_ms > ?)",
            )
            .bind(tenant.0)
            .bind(machine.0)
            .bind(tail.last_ms)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("looking for rows after the last span"))?;
            if newer {
                for table in ["metric_blocks", "block_spans"] {
                    sqlx::query(AssertSqlSafe(format!(
                        "DELETE FROM {table} WHERE tenant_id = ? AND machine_id = ? \
                         AND last_ms = ?"
                    )))
                    .bind(tenant.0)
                    .bind(machine.0)
                    .bind(tail.last_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::db("reopening the last summary span"))?;
                }
                spans.pop();
            }
        }
        let mut report = CompactReport::default();
        for (a, b) in compute::gaps(&spans, i64::MIN, i64::MAX) {
            // The reader sees the last commit, which cannot change while this
            // transaction holds the write lock.
            let ts = match &self.reader {
                Some(r) => crate::sqlite_read::timestamps(r, tenant, machine, a, b).await?,
                None => sqlx::query_scalar(AssertSqlSafe(crate::sqlite_read::select(
                    "ts_ms",
                    &[],
                    true,
                )))
                .bind(tenant.0)
                .bind(machine.0)
                .bind(a)
                .bind(b)
                .fetch_all(&mut *tx)
                .await
                .map_err(Error::db("reading timestamps"))?,
            };
            for block in compute::plan_blocks(&ts, self.block_rows) {
                let (from, to) = (block.first_ms, block.last_ms.saturating_add(1));
                let cols = match &self.reader {
                    Some(r) => {
                        crate::sqlite_read::dense_columns(r, tenant, machine, &present, from, to)
                            .await?
                    }
                    None => dense_columns_on(&mut tx, tenant, machine, &present, from, to).await?,
                };
                sqlx::query(
                    "INSERT INTO block_spans (tenant_id, machine_id, last_ms, first_ms, row_count) \
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(tenant.0)
                .bind(machine.0)
                .bind(block.last_ms)
                .bind(block.first_ms)
                .bind(block.rows)
                .execute(&mut *tx)
                .await
                .map_err(Error::db("writing a summary span"))?;
                for (m, values) in cols {
                    if values.is_empty() {
                        continue;
                    }
                    let sorted = compute::sorted_block(values);
                    let (count, bytes) = (sorted.len() as i64, compute::le_bytes(&sorted));
                    sqlx::query(
                        "INSERT INTO metric_blocks (tenant_id, machine_id, last_ms, metric, \
                         first_ms, value_count, sorted_values) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(tenant.0)
                    .bind(machine.0)
                    .bind(block.last_ms)
                    .bind(m.name())
                    .bind(block.first_ms)
                    .bind(count)
                    .bind(bytes)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::db("writing a summary block"))?;
                }
                report.blocks += 1;
                report.rows += block.rows as u64;
            }
        }
        tx.commit()
            .await
            .map_err(Error::db("committing the compaction"))?;
        if report.blocks > 0 {
            // Move the new blocks from the WAL into the file, where the readers map
            // them: while the WAL holds a page, each read of it is a lookup in the WAL
            // index and a read(). TRUNCATE waits (up to the busy timeout) for readers
            // and writers; when it cannot finish, a later checkpoint does.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await
                .map_err(Error::db("checkpointing the compaction"))?;
        }
        Ok(report)
    }

    pub(crate) async fn time_bounds(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Option<(i64, i64)>> {
        // Two subqueries: SQLite answers a lone MIN or MAX from one end of the index,
        // but both in one SELECT scan the whole range (0.2 s per million rows).
        let r = sqlx::query(
            "SELECT (SELECT MIN(ts_ms) FROM interval_metrics \
             WHERE tenant_id = ?1 AND machine_id = ?2 AND ts_ms >= ?3 AND ts_ms < ?4), \
             (SELECT MAX(ts_ms) FROM interval_metrics \
             WHERE tenant_id = ?1 AND machine_id = ?2 AND ts_ms >= ?3 AND ts_ms < ?4)",
        )
        .bind(tenant.0)
        .bind(machine.0)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(Error::db("reading the time range"))?;
        let a: Option<i64> = r.get(0);
        let b: Option<i64> = r.get(1);
        Ok(a.zip(b))
    }

    pub(crate) async fn buckets(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        width_ms: i64,
    ) -> Result<Vec<Bucket>> {
        let c = metric.name();
        let text = format!(
            "SELECT (ts_ms - ?1) / ?2 AS b, MIN({c}), AVG({c}), MAX({c}), COUNT({c}) \
             FROM interval_metrics \
             WHERE tenant_id = ?3 AND machine_id = ?4 AND ts_ms >= ?1 AND ts_ms < ?5 AND {c} IS NOT NULL \
             GROUP BY b ORDER BY b"
        );
        let rows = sqlx::query(AssertSqlSafe(text))
            .bind(from_ms)
            .bind(width_ms)
            .bind(tenant.0)
            .bind(machine.0)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(Error::db("downsampling"))?;
        rows.iter()
            .map(|r| {
                let b: i64 = r.try_get(0).map_err(Error::db("bucket"))?;
                Ok(Bucket {
                    start_ms: from_ms + b * width_ms,
                    min: r.try_get(1).map_err(Error::db("bucket min"))?,
                    avg: r.try_get(2).map_err(Error::db("bucket avg"))?,
                    max: r.try_get(3).map_err(Error::db("bucket max"))?,
                    count: r.try_get::<i64, _>(4).map_err(Error::db("bucket count"))? as u64,
                })
            })
            .collect()
    }

    pub(crate) async fn delete_before(
        &self,
        tenant: TenantId,
        cutoff_ms: i64,
    ) -> Result<RetentionReport> {
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query("DELETE FROM interval_metrics WHERE tenant_id = ? AND machine_id IN (SELECT id FROM machines WHERE tenant_id = ?) AND ts_ms < ?")
            .bind(tenant.0)
            .bind(tenant.0)
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("deleting old interval rows"))?
            .rows_affected();
        let values = sqlx::query("DELETE FROM device_values WHERE tenant_id = ? AND series_id IN (SELECT id FROM device_series WHERE tenant_id = ?) AND ts_ms < ?")
            .bind(tenant.0)
            .bind(tenant.0)
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("deleting old device values"))?
            .rows_affected();
        // A span that began before the cutoff has lost rows.
        for table in ["metric_blocks", "block_spans"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = ? AND first_ms < ?"
            )))
            .bind(tenant.0)
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("deleting old summary blocks"))?;
        }
        tx.commit()
            .await
            .map_err(Error::db("committing retention"))?;
        Ok(RetentionReport {
            rows_deleted: rows,
            device_values_deleted: values,
        })
    }

    // ---- keys ----------------------------------------------------------------

    pub(crate) async fn create_key(
        &self,
        tenant: TenantId,
        machine: Option<MachineId>,
        label: &str,
    ) -> Result<NewKey> {
        for _ in 0..8 {
            let (prefix, key) = secret::generate_key()?;
            let mut tx = self.write_tx().await?;
            let dir =
                sqlx::query("INSERT INTO api_key_directory (prefix, tenant_id) VALUES (?, ?)")
                    .bind(&prefix)
                    .bind(tenant.0)
                    .execute(&mut *tx)
                    .await;
            match dir {
                Err(e) if Error::is_unique_violation(&e) => continue,
                Err(e) => return Err(Error::db("registering a key prefix")(e)),
                Ok(_) => {}
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_keys (tenant_id, machine_id, prefix, secret_hash, label, created_ms) \
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(tenant.0)
            .bind(machine.map(|m| m.0))
            .bind(&prefix)
            .bind(secret::key_hash(&key))
            .bind(label)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("creating a key"))?;
            tx.commit().await.map_err(Error::db("committing a key"))?;
            return Ok(NewKey {
                id: KeyId(id),
                prefix,
                secret: key,
            });
        }
        Err(Error::Invalid("could not find a free key prefix".into()))
    }

    pub(crate) async fn list_keys(&self, tenant: TenantId) -> Result<Vec<KeyInfo>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, machine_id, prefix, label, created_ms, last_used_ms, revoked_ms \
             FROM api_keys WHERE tenant_id = ? ORDER BY id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("listing keys"))?;
        Ok(rows.iter().map(key_from_row).collect())
    }

    pub(crate) async fn revoke_key(&self, tenant: TenantId, key: KeyId) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_ms = ? WHERE tenant_id = ? AND id = ? AND revoked_ms IS NULL",
        )
        .bind(now_ms())
        .bind(tenant.0)
        .bind(key.0)
        .execute(&self.pool)
        .await
        .map_err(Error::db("revoking a key"))?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn verify_key(&self, presented: &str) -> Result<Option<KeyAuth>> {
        let Some(prefix) = secret::key_prefix(presented) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT k.id, k.tenant_id, k.machine_id, k.secret_hash, k.revoked_ms, k.last_used_ms \
             FROM api_key_directory d JOIN api_keys k ON k.prefix = d.prefix AND k.tenant_id = d.tenant_id \
             WHERE d.prefix = ?",
        )
        .bind(prefix)
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::db("looking up a key"))?;
        let Some(r) = row else { return Ok(None) };
        let hash: Vec<u8> = r.get(3);
        let revoked: Option<i64> = r.get(4);
        if !secret::key_matches(presented, &hash) || revoked.is_some() {
            return Ok(None);
        }
        let auth = KeyAuth {
            key: KeyId(r.get(0)),
            tenant: TenantId(r.get(1)),
            machine: r.get::<Option<i64>, _>(2).map(MachineId),
        };
        let last: Option<i64> = r.get(5);
        let now = now_ms();
        if last.is_none_or(|l| now - l >= crate::LAST_USED_RESOLUTION_MS) {
            sqlx::query("UPDATE api_keys SET last_used_ms = ? WHERE tenant_id = ? AND id = ?")
                .bind(now)
                .bind(auth.tenant.0)
                .bind(auth.key.0)
                .execute(&self.pool)
                .await
                .map_err(Error::db("recording key use"))?;
        }
        Ok(Some(auth))
    }

    // ---- users ---------------------------------------------------------------

    pub(crate) async fn create_user(
        &self,
        tenant: TenantId,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User> {
        let now = now_ms();
        let r = sqlx::query_scalar(
            "INSERT INTO users (tenant_id, email, password_hash, role, created_ms) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(tenant.0)
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok(id) => Ok(User {
                id: UserId(id),
                tenant,
                email: email.to_owned(),
                role,
                created_ms: now,
            }),
            Err(e) if Error::is_unique_violation(&e) => Err(Error::AlreadyExists {
                what: "user",
                name: email.to_owned(),
            }),
            Err(e) => Err(Error::db("creating a user")(e)),
        }
    }

    pub(crate) async fn user_with_hash(
        &self,
        tenant: TenantId,
        email: &str,
    ) -> Result<Option<(User, String)>> {
        let r = sqlx::query(
            "SELECT id, tenant_id, email, role, created_ms, password_hash FROM users WHERE tenant_id = ? AND email = ?",
        )
        .bind(tenant.0)
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::db("looking up a user"))?;
        r.map(|r| Ok((user_from_row(&r)?, r.get(5)))).transpose()
    }

    pub(crate) async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, email, role, created_ms FROM users WHERE tenant_id = ? ORDER BY email",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("listing users"))?;
        rows.iter().map(user_from_row).collect()
    }

    // ---- uploads and audit ---------------------------------------------------

    pub(crate) async fn record_upload(&self, tenant: TenantId, u: &NewUpload) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO uploads (tenant_id, machine_id, key_id, source, format, rows_stored, rows_present, \
             first_ts_ms, last_ts_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(tenant.0)
        .bind(u.machine.map(|m| m.0))
        .bind(u.key.map(|k| k.0))
        .bind(&u.source)
        .bind(&u.format)
        .bind(u.rows_stored as i64)
        .bind(u.rows_present as i64)
        .bind(u.time_range_ms.map(|r| r.0))
        .bind(u.time_range_ms.map(|r| r.1))
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(Error::db("recording an upload"))
    }

    pub(crate) async fn list_uploads(&self, tenant: TenantId, limit: u32) -> Result<Vec<Upload>> {
        let rows = sqlx::query(
            "SELECT id, machine_id, key_id, source, format, rows_stored, rows_present, first_ts_ms, last_ts_ms, created_ms \
             FROM uploads WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("listing uploads"))?;
        Ok(rows.iter().map(upload_from_row).collect())
    }

    pub(crate) async fn audit(
        &self,
        tenant: TenantId,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("INSERT INTO audit_log (tenant_id, at_ms, actor, action, detail) VALUES (?, ?, ?, ?, ?)")
            .bind(tenant.0)
            .bind(now_ms())
            .bind(actor)
            .bind(action)
            .bind(detail.to_string())
            .execute(&self.pool)
            .await
            .map_err(Error::db("writing the audit log"))?;
        Ok(())
    }

    pub(crate) async fn list_audit(&self, tenant: TenantId, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at_ms, actor, action, detail FROM audit_log WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("reading the audit log"))?;
        rows.iter()
            .map(|r| {
                let detail: String = r.get(4);
                Ok(AuditEntry {
                    id: r.get(0),
                    at_ms: r.get(1),
                    actor: r.get(2),
                    action: r.get(3),
                    detail: serde_json::from_str(&detail).map_err(|source| Error::Json {
                        what: "audit_log.detail",
                        source,
                    })?,
                })
            })
            .collect()
    }

    /// Bytes the database file takes (pages in use x page size).
    pub(crate) async fn size_bytes(&self) -> Result<u64> {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("page_count"))?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("freelist_count"))?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("page_size"))?;
        Ok(((pages - free).max(0) * size) as u64)
    }
}

fn add<'q, T: sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite>>(
    args: &mut SqliteArguments,
    v: T,
) -> Result<()> {
    args.add(v)
        .map_err(|e| Error::Invalid(format!("encoding a value: {e}")))
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|source| Error::Json {
        what: "machine",
        source,
    })
}

fn tenant_from_row(r: &SqliteRow) -> Tenant {
    Tenant {
        id: TenantId(r.get(0)),
        name: r.get(1),
        retention_days: r.get::<Option<i64>, _>(2).map(|d| d as u32),
        created_ms: r.get(3),
    }
}

fn machine_from_row(r: &SqliteRow) -> Result<Machine> {
    let labels: String = r.get(4);
    let facts: String = r.get(5);
    Ok(Machine {
        id: MachineId(r.get(0)),
        tenant: TenantId(r.get(1)),
        machine_key: r.get(2),
        hostname: r.get(3),
        labels: serde_json::from_str(&labels).map_err(|source| Error::Json {
            what: "machines.labels",
            source,
        })?,
        facts: serde_json::from_str(&facts).map_err(|source| Error::Json {
            what: "machines.facts",
            source,
        })?,
        first_seen_ms: r.get(6),
        last_seen_ms: r.get(7),
    })
}

fn device_from_row(r: &SqliteRow) -> Result<DeviceSample> {
    let kind: String = r.get(1);
    Ok(DeviceSample {
        timestamp_ms: r.get(0),
        kind: DeviceKind::from_name(&kind)
            .ok_or_else(|| Error::Invalid(format!("stored device kind {kind:?}")))?,
        device: r.get(2),
        metric: r.get(3),
        value: r.get(4),
    })
}

fn key_from_row(r: &SqliteRow) -> KeyInfo {
    KeyInfo {
        id: KeyId(r.get(0)),
        tenant: TenantId(r.get(1)),
        machine: r.get::<Option<i64>, _>(2).map(MachineId),
        prefix: r.get(3),
        label: r.get(4),
        created_ms: r.get(5),
        last_used_ms: r.get(6),
        revoked_ms: r.get(7),
    }
}

fn user_from_row(r: &SqliteRow) -> Result<User> {
    let role: String = r.get(3);
    Ok(User {
        id: UserId(r.get(0)),
        tenant: TenantId(r.get(1)),
        email: r.get(2),
        role: Role::from_name(&role)?,
        created_ms: r.get(4),
    })
}

fn upload_from_row(r: &SqliteRow) -> Upload {
    let first: Option<i64> = r.get(7);
    let last: Option<i64> = r.get(8);
    Upload {
        id: r.get(0),
        upload: NewUpload {
            machine: r.get::<Option<i64>, _>(1).map(MachineId),
            key: r.get::<Option<i64>, _>(2).map(KeyId),
            source: r.get(3),
            format: r.get(4),
            rows_stored: r.get::<i64, _>(5) as u64,
            rows_present: r.get::<i64, _>(6) as u64,
            time_range_ms: first.zip(last),
        },
        created_ms: r.get(9),
    }
}

/// Non-null values of each metric through sqlx on one connection (in-memory stores,
/// and compaction inside its transaction).
async fn dense_columns_on(
    conn: &mut sqlx::SqliteConnection,
    tenant: TenantId,
    machine: MachineId,
    metrics: &[Metric],
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(Metric, Vec<f64>)>> {
    let mut out: Vec<(Metric, Vec<f64>)> = metrics.iter().map(|m| (*m, Vec::new())).collect();
    if metrics.is_empty() {
        return Ok(out);
    }
    let text = crate::sqlite_read::select("", metrics, false);
    let mut stream = sqlx::query(AssertSqlSafe(text))
        .bind(tenant.0)
        .bind(machine.0)
        .bind(from_ms)
        .bind(to_ms)
        .fetch(&mut *conn);
    while let Some(r) = stream
        .try_next()
        .await
        .map_err(Error::db("reading columns"))?
    {
        for (i, (_, col)) in out.iter_mut().enumerate() {
            // Unchecked: the column is REAL by the schema; skip sqlx's type check.
            if let Some(v) = r
                .try_get_unchecked::<Option<f64>, _>(i)
                .map_err(Error::db("a metric column"))?
            {
                col.push(v);
            }
        }
    }
    Ok(out)
}

/// Deletes the spans (and their blocks) that the time range of `rows` touches: rows
/// were just stored there.
async fn invalidate_spans(
    conn: &mut sqlx::SqliteConnection,
    tenant: TenantId,
    machine: MachineId,
    rows: &[IntervalRow],
) -> Result<()> {
    let (lo, hi) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
        (lo.min(r.timestamp_ms), hi.max(r.timestamp_ms))
    });
    for table in ["metric_blocks", "block_spans"] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = ? AND machine_id = ? \
             AND last_ms >= ? AND first_ms <= ?"
        )))
        .bind(tenant.0)
        .bind(machine.0)
        .bind(lo)
        .bind(hi)
        .execute(&mut *conn)
        .await
        .map_err(Error::db("deleting stale summary blocks"))?;
    }
    Ok(())
}

/// The machine's metric mask; `NotFound` when the tenant has no such machine.
async fn machine_mask(
    conn: &mut sqlx::SqliteConnection,
    tenant: TenantId,
    machine: MachineId,
) -> Result<i64> {
    let mask: Option<i64> =
        sqlx::query_scalar("SELECT metric_mask FROM machines WHERE tenant_id = ? AND id = ?")
            .bind(tenant.0)
            .bind(machine.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(Error::db("checking the machine"))?;
    mask.ok_or_else(|| Error::NotFound {
        what: "machine",
        name: machine.to_string(),
    })
}
