//! The PostgreSQL backend: binary COPY for ingest and bulk reads, row-level security.
//!
//! Every tenant-scoped call runs in a transaction that first sets `app.tenant` with
//! `set_config('app.tenant', $1, true)` (transaction-local); the policies of
//! migration 1 compare each row's tenant_id with it. PostgreSQL refuses `COPY FROM`
//! into a table with row-level security for any role it applies to. Interval rows
//! therefore land in the one partition of `interval_metrics`,
//! `perfan_ingest.interval_metrics` (migration 3), which has no policy but a CHECK
//! that each row belongs to the transaction's tenant: when the machine has no row in
//! the batch's time span, ingest COPYs straight into it. Otherwise, or when the role
//! may not write to it, ingest copies into a session-local temporary table (no policy,
//! no WAL) and moves the rows with `INSERT ... SELECT ... ON CONFLICT DO NOTHING`,
//! where the policies' WITH CHECK applies and the conflict clause makes a resend store
//! nothing twice. Device values always take the staging path.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use futures_util::TryStreamExt;
use perfcore::metrics::{DeviceKind, DeviceRow, IntervalRow, MachineFacts, Metric};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};

use crate::compute;
use crate::error::{Error, Result};
use crate::migrate;
use crate::pgcopy::{CopyDecoder, CopyEncoder};
use crate::secret;
use crate::types::*;

/// Rows staged per COPY before they are moved into the table (about 10 MB at 60
/// columns, inside the session's temp_buffers so the staging table stays in memory).
const STAGE_ROWS: usize = 20_000;
/// Rows per part of a direct COPY (about 2.5 MB at 30 metrics).
const DIRECT_PART_ROWS: usize = 8_192;
/// Device values staged per COPY.
const STAGE_VALUES: usize = 200_000;

/// Key of the advisory lock that serialises migrations across processes.
const MIGRATION_LOCK: i64 = 0x7065_7266_616e; // "perfan"

// The metrics staging table is made with CREATE TABLE AS (no NOT NULL constraints):
// the COPY leaves out the tenant and machine (constants of the batch, added by the
// INSERT) and the metric columns no row of the chunk has.
const STAGING_DDL: &str = "CREATE TEMP TABLE IF NOT EXISTS perfan_stage_metrics \
     ON COMMIT DELETE ROWS AS SELECT * FROM interval_metrics WITH NO DATA; \
     CREATE TEMP TABLE IF NOT EXISTS perfan_stage_values \
     (LIKE device_values INCLUDING DEFAULTS) ON COMMIT DELETE ROWS";

/// How ingest moves staged rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Check first; a plain INSERT when nothing can conflict.
    Detect,
    /// Always `ON CONFLICT DO NOTHING`.
    OnConflict,
}

/// True when a batch holds the same timestamp twice.
fn repeats_timestamp(rows: &[IntervalRow]) -> bool {
    if rows
        .windows(2)
        .all(|w| w[0].timestamp_ms < w[1].timestamp_ms)
    {
        return false;
    }
    let mut ts: Vec<i64> = rows.iter().map(|r| r.timestamp_ms).collect();
    ts.sort_unstable();
    ts.windows(2).any(|w| w[0] == w[1])
}

fn is_unique_violation(e: &Error) -> bool {
    match e {
        Error::Database { source, .. } => Error::is_unique_violation(source),
        _ => false,
    }
}

/// A store on a PostgreSQL database.
pub(crate) struct PgStore {
    pool: PgPool,
    /// The role may COPY into `perfan_ingest.interval_metrics` (migration 3).
    direct_copy: bool,
    /// Rows per compacted block.
    block_rows: usize,
}

/// The partition that holds every interval row; COPY may name it (migration 3).
const INGEST_PARTITION: &str = "perfan_ingest.interval_metrics";

impl PgStore {
    pub(crate) async fn open(url: &str, options: &crate::OpenOptions) -> Result<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Url {
                url: crate::redact_url(url),
                message: e.to_string(),
            })?
            // Staging tables live in temp buffers; the default 8 MB would spill a batch to disk.
            .options([("temp_buffers", "32MB"), ("client_min_messages", "warning")]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(10).max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await
            .map_err(Error::db(format!(
                "connecting to {}",
                crate::redact_url(url)
            )))?;
        let mut store = PgStore {
            pool,
            direct_copy: false,
            block_rows: compute::block_rows(options),
        };
        store.migrate().await?;
        store.direct_copy = sqlx::query_scalar(
            "SELECT has_schema_privilege('perfan_ingest', 'USAGE') \
             AND has_table_privilege('perfan_ingest.interval_metrics', 'INSERT')",
        )
        .fetch_one(&store.pool)
        .await
        .map_err(Error::db("checking the privileges for ingest"))?;
        Ok(store)
    }

    pub(crate) fn copies_directly(&self) -> bool {
        self.direct_copy
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::db("starting migrations"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("locking for migrations"))?;
        let exists: bool = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT to_regclass('{}') IS NOT NULL",
            migrate::TABLE
        )))
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::db("looking for the migrations table"))?;
        if !exists {
            sqlx::query(AssertSqlSafe(format!(
                "CREATE TABLE {} (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
                 checksum TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
                migrate::TABLE
            )))
            .execute(&mut *tx)
            .await
            .map_err(Error::db("creating the migrations table"))?;
        }
        let applied: Vec<(i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT version, checksum FROM {} ORDER BY version",
            migrate::TABLE
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("reading applied migrations"))?;
        for m in migrate::plan(migrate::POSTGRES, &applied)? {
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(Error::db(format!("migration {} ({})", m.version, m.name)))?;
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (version, name, checksum, applied_ms) VALUES ($1, $2, $3, $4)",
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

    /// A transaction whose row-level security sees only `tenant`.
    async fn tenant_tx(&self, tenant: TenantId) -> Result<Transaction<'static, Postgres>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::db("starting a transaction"))?;
        set_tenant(&mut tx, tenant).await?;
        Ok(tx)
    }

    // ---- tenants -------------------------------------------------------------

    pub(crate) async fn create_tenant(&self, name: &str) -> Result<Tenant> {
        let now = now_ms();
        let r = sqlx::query("SELECT perfan_create_tenant($1, $2)")
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
        let row = sqlx::query(
            "SELECT id, name, retention_days, created_ms FROM perfan_tenant_by_name($1)",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::db("looking up a tenant"))?;
        Ok(row.map(|r| tenant_from_row(&r)))
    }

    pub(crate) async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows =
            sqlx::query("SELECT id, name, retention_days, created_ms FROM perfan_list_tenants()")
                .fetch_all(&self.pool)
                .await
                .map_err(Error::db("listing tenants"))?;
        Ok(rows.iter().map(tenant_from_row).collect())
    }

    pub(crate) async fn set_retention(&self, tenant: TenantId, days: Option<u32>) -> Result<()> {
        // In the tenant's own transaction: row-level security lets a plain role
        // change only the tenant row its setting names (migration 2).
        let mut tx = self.tenant_tx(tenant).await?;
        let r = sqlx::query("UPDATE tenants SET retention_days = $1 WHERE id = $2")
            .bind(days.map(|d| d as i32))
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("setting retention"))?;
        if r.rows_affected() == 0 {
            return Err(Error::NotFound {
                what: "tenant",
                name: tenant.0.to_string(),
            });
        }
        tx.commit()
            .await
            .map_err(Error::db("committing retention"))?;
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
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query(
            "INSERT INTO machines (tenant_id, machine_key, hostname, labels, facts, first_seen_ms) \
             VALUES ($1, $2, $3, $4::jsonb, COALESCE($5::jsonb, '{}'::jsonb), $6) \
             ON CONFLICT (tenant_id, machine_key) DO UPDATE SET \
               hostname = COALESCE(excluded.hostname, machines.hostname), \
               labels = CASE WHEN $4::jsonb = '{}'::jsonb THEN machines.labels ELSE $4::jsonb END, \
               facts = COALESCE($5::jsonb, machines.facts) \
             RETURNING id, tenant_id, machine_key, hostname, labels::text, facts::text, first_seen_ms, last_seen_ms",
        )
        .bind(tenant.0)
        .bind(machine_key)
        .bind(hostname)
        .bind(&labels_json)
        .bind(facts_json)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::db(format!("saving machine {machine_key:?}")))?;
        tx.commit()
            .await
            .map_err(Error::db("committing a machine"))?;
        machine_from_row(&row)
    }

    pub(crate) async fn machine(
        &self,
        tenant: TenantId,
        machine_key: &str,
    ) -> Result<Option<Machine>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query(
            "SELECT id, tenant_id, machine_key, hostname, labels::text, facts::text, first_seen_ms, last_seen_ms \
             FROM machines WHERE tenant_id = $1 AND machine_key = $2",
        )
        .bind(tenant.0)
        .bind(machine_key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db("looking up a machine"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
        row.as_ref().map(machine_from_row).transpose()
    }

    pub(crate) async fn list_machines(&self, tenant: TenantId) -> Result<Vec<Machine>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, tenant_id, machine_key, hostname, labels::text, facts::text, first_seen_ms, last_seen_ms \
             FROM machines WHERE tenant_id = $1 ORDER BY machine_key",
        )
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("listing machines"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
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
        match self
            .ingest_once(tenant, machine, rows, devices, Mode::Detect)
            .await
        {
            // Another writer stored some of these rows between the check and the insert:
            // the transaction was rolled back; redo it with conflict handling.
            Err(e) if is_unique_violation(&e) => {
                self.ingest_once(tenant, machine, rows, devices, Mode::OnConflict)
                    .await
            }
            other => other,
        }
    }

    async fn ingest_once(
        &self,
        tenant: TenantId,
        machine: MachineId,
        rows: &[IntervalRow],
        devices: &[DeviceRow],
        mode: Mode,
    ) -> Result<IngestReport> {
        let mut tx = self.tenant_tx(tenant).await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM machines WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(machine.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::db("checking the machine"))?;
        if exists.is_none() {
            return Err(Error::NotFound {
                what: "machine",
                name: machine.to_string(),
            });
        }
        let mut report = IngestReport::default();
        if !rows.is_empty() {
            // A plain INSERT (no speculative insertion) when nothing can conflict: the
            // batch repeats no timestamp and the machine has no row in its time span.
            let plain = mode == Mode::Detect && !repeats_timestamp(rows) && {
                let (lo, hi) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
                    (lo.min(r.timestamp_ms), hi.max(r.timestamp_ms))
                });
                let any: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM interval_metrics \
                     WHERE tenant_id = $1 AND machine_id = $2 AND ts_ms >= $3 AND ts_ms <= $4)",
                )
                .bind(tenant.0)
                .bind(machine.0)
                .bind(lo)
                .bind(hi)
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::db("checking for stored rows"))?;
                !any
            };
            if !(plain && self.direct_copy) {
                create_staging(&mut tx).await?;
            }
            report.stored = self
                .insert_rows(&mut tx, tenant, machine, rows, plain)
                .await?;
            report.already_present = rows.len() as u64 - report.stored;
        }

        if !devices.is_empty() {
            create_staging(&mut tx).await?;
            let ids = series_ids(&mut tx, tenant, machine, devices).await?;
            for (n, chunk) in devices.chunks(STAGE_VALUES).enumerate() {
                if n > 0 {
                    sqlx::query("TRUNCATE perfan_stage_values")
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db("emptying the staging table"))?;
                }
                let mut enc = CopyEncoder::new(chunk.len() * 50 + 32);
                for d in chunk {
                    let id = ids
                        .get(&(d.kind.as_str(), d.device.as_str(), d.metric))
                        .copied()
                        .ok_or_else(|| Error::Invalid("device series missing".into()))?;
                    enc.tuple(4);
                    enc.i64(tenant.0);
                    enc.i64(id);
                    enc.i64(d.timestamp_ms);
                    enc.f64(d.value);
                }
                copy_in(
                    &mut tx,
                    "COPY perfan_stage_values (tenant_id, series_id, ts_ms, value) FROM STDIN (FORMAT binary)",
                    enc.finish(),
                )
                .await?;
                let done = sqlx::query(
                    "INSERT INTO device_values (tenant_id, series_id, ts_ms, value) \
                     SELECT tenant_id, series_id, ts_ms, value FROM perfan_stage_values ON CONFLICT DO NOTHING",
                )
                .execute(&mut *tx)
                .await
                .map_err(Error::db("moving staged device values"))?;
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
                "UPDATE machines SET last_seen_ms = GREATEST(COALESCE(last_seen_ms, $1), $1), \
                 metric_mask = metric_mask | $4 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(newest)
            .bind(tenant.0)
            .bind(machine.0)
            .bind(compute::metric_mask(rows))
            .execute(&mut *tx)
            .await
            .map_err(Error::db("updating last seen"))?;
        }
        // After the UPDATE above, which holds the machine's row until commit: a
        // compaction (which locks that row first) has either committed, so its spans
        // are seen here, or waits and then sees these rows.
        if report.stored > 0 {
            let (lo, hi) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
                (lo.min(r.timestamp_ms), hi.max(r.timestamp_ms))
            });
            for table in ["metric_blocks", "block_spans"] {
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND machine_id = $2 \
                     AND last_ms >= $3 AND first_ms <= $4"
                )))
                .bind(tenant.0)
                .bind(machine.0)
                .bind(lo)
                .bind(hi)
                .execute(&mut *tx)
                .await
                .map_err(Error::db("deleting stale summary blocks"))?;
            }
        }
        tx.commit()
            .await
            .map_err(Error::db("committing the batch"))?;
        Ok(report)
    }

    /// Writes rows chunk by chunk with binary COPY, the next chunk encoded while the
    /// server takes the current one: straight into the table's partition when `plain`
    /// (nothing can conflict) and the role may, otherwise staged and moved.
    async fn insert_rows(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        tenant: TenantId,
        machine: MachineId,
        rows: &[IntervalRow],
        plain: bool,
    ) -> Result<u64> {
        if plain && self.direct_copy {
            return self.copy_rows_direct(tx, tenant, machine, rows).await;
        }
        let (send, recv) = tokio::sync::mpsc::channel::<(Vec<Metric>, Vec<u8>)>(1);
        let producer = async move {
            for chunk in rows.chunks(STAGE_ROWS) {
                let present = compute::present_metrics(compute::metric_mask(chunk));
                let mut enc = CopyEncoder::new(chunk.len() * (2 + (2 + present.len()) * 12) + 32);
                encode_rows(&mut enc, chunk, &present, None);
                if send.send((present, enc.finish())).await.is_err() {
                    break; // the consumer failed; its error is returned
                }
            }
        };
        let consumer = async {
            // Owned here, so that the producer's send fails (instead of waiting for
            // ever) once this side has stopped on an error.
            let mut recv = recv;
            let mut stored = 0u64;
            let mut first = true;
            while let Some((present, data)) = recv.recv().await {
                let cols = row_columns(&present);
                if !first {
                    sqlx::query("TRUNCATE perfan_stage_metrics")
                        .execute(&mut **tx)
                        .await
                        .map_err(Error::db("emptying the staging table"))?;
                }
                first = false;
                copy_in(
                    tx,
                    &format!("COPY perfan_stage_metrics ({cols}) FROM STDIN (FORMAT binary)"),
                    data,
                )
                .await?;
                let done = sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO interval_metrics (tenant_id, machine_id, {cols}) \
                     SELECT $1, $2, {cols} FROM perfan_stage_metrics{}",
                    if plain { "" } else { " ON CONFLICT DO NOTHING" }
                )))
                .bind(tenant.0)
                .bind(machine.0)
                .execute(&mut **tx)
                .await
                .map_err(Error::db("moving staged interval rows"))?;
                stored += done.rows_affected();
            }
            Ok::<u64, Error>(stored)
        };
        let ((), stored) = tokio::join!(producer, consumer);
        stored
    }

    /// New rows (nothing can conflict) as one binary COPY straight into the rows'
    /// partition, sent in parts of [`DIRECT_PART_ROWS`] rows, each encoded while the
    /// server takes the one before. One statement for the whole batch: a COPY per
    /// part cost two round trips and an idle server between parts.
    async fn copy_rows_direct(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        tenant: TenantId,
        machine: MachineId,
        rows: &[IntervalRow],
    ) -> Result<u64> {
        let present = compute::present_metrics(compute::metric_mask(rows));
        let fields = 4 + present.len();
        let cols = row_columns(&present);
        let (send, recv) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
        let producer = {
            let present = &present;
            async move {
                let parts = rows.len().div_ceil(DIRECT_PART_ROWS);
                for (n, part) in rows.chunks(DIRECT_PART_ROWS).enumerate() {
                    let capacity = part.len() * (2 + fields * 12) + 32;
                    let mut enc = if n == 0 {
                        CopyEncoder::new(capacity)
                    } else {
                        CopyEncoder::continuation(capacity)
                    };
                    encode_rows(&mut enc, part, present, Some((tenant, machine)));
                    let bytes = if n + 1 == parts {
                        enc.finish()
                    } else {
                        enc.into_part()
                    };
                    if send.send(bytes).await.is_err() {
                        break; // the consumer failed; its error is returned
                    }
                }
            }
        };
        let consumer = async {
            // Owned here, so that the producer's send fails (instead of waiting for
            // ever) once this side has stopped on an error.
            let mut recv = recv;
            let mut copy = tx
                .copy_in_raw(&format!(
                    "COPY {INGEST_PARTITION} (tenant_id, machine_id, {cols}) FROM STDIN (FORMAT binary)"
                ))
                .await
                .map_err(Error::db("starting COPY"))?;
            while let Some(bytes) = recv.recv().await {
                if let Err(e) = copy.send(bytes).await {
                    let _ = copy.abort("send failed").await;
                    return Err(Error::db("sending COPY data")(e));
                }
            }
            copy.finish().await.map_err(Error::db("finishing COPY"))
        };
        let ((), stored) = tokio::join!(producer, consumer);
        stored
    }

    // ---- queries -------------------------------------------------------------

    /// Runs `COPY (select) TO STDOUT (FORMAT binary)` in a tenant transaction.
    async fn copy_out(
        &self,
        tenant: TenantId,
        select: &str,
        mut on_tuple: impl FnMut(&crate::pgcopy::Fields<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut tx = self.tenant_tx(tenant).await?;
        copy_out_on(&mut tx, select, &mut on_tuple).await?;
        tx.commit().await.map_err(Error::db("ending a read"))
    }

    /// Summaries of each share of metrics in `[from_ms, to_ms)` from the compacted
    /// blocks' sketches, the few slices of their values that can hold the
    /// percentiles ([`crate::sketch`]), and the rows outside the blocks; `None` when
    /// no span lies in the range.
    ///
    /// One transaction per share, all on one snapshot: the first exports it
    /// (`pg_export_snapshot`) and the others import it, so the spans, the rows
    /// outside them, the sketches and the slices all agree, and the slices are cut
    /// from the very blocks the sketches describe. The rows outside the spans (the
    /// ends of a range that cuts blocks) are read once, their gaps shared out over
    /// the transactions; then each reads its share's sketches (one binary COPY) and
    /// slices (one SELECT; `substring` of the out-of-line values fetches only the
    /// TOAST chunks it covers), whatever the number of blocks.
    pub(crate) async fn sketch_summaries(
        &self,
        tenant: TenantId,
        machine: MachineId,
        shares: &[Vec<Metric>],
        (from_ms, to_ms): (i64, i64),
    ) -> Result<Option<Vec<Vec<Option<perfcore::stats::Summary>>>>> {
        let read_only = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
        let mut first = self
            .pool
            .begin_with(read_only)
            .await
            .map_err(Error::db("starting a read"))?;
        let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *first)
            .await
            .map_err(Error::db("exporting the read's snapshot"))?;
        // Formatted into SET TRANSACTION SNAPSHOT (no parameters there): the server
        // names snapshots with hexadecimal digits and dashes.
        if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(Error::Invalid(format!(
                "unexpected snapshot name {snapshot:?}"
            )));
        }
        set_tenant(&mut first, tenant).await?;
        let open_other = || async {
            let mut tx = self
                .pool
                .begin_with(read_only)
                .await
                .map_err(Error::db("starting a read"))?;
            sqlx::query(AssertSqlSafe(format!(
                "SET TRANSACTION SNAPSHOT '{snapshot}'"
            )))
            .execute(&mut *tx)
            .await
            .map_err(Error::db("importing the read's snapshot"))?;
            set_tenant(&mut tx, tenant).await?;
            Ok::<_, Error>(tx)
        };
        let (spans, others) = tokio::join!(
            read_spans(&mut first, tenant, machine, (from_ms, to_ms)),
            futures_util::future::join_all((1..shares.len().max(1)).map(|_| open_other())),
        );
        let mut txs = vec![first];
        for tx in others {
            txs.push(tx?);
        }
        let spans = spans?;
        if spans.is_empty() {
            for tx in txs {
                tx.commit().await.map_err(Error::db("ending a read"))?;
            }
            return Ok(None);
        }
        let all: Vec<Metric> = shares.concat();
        let gaps = compute::gaps(&spans, from_ms, to_ms);
        let n = txs.len();
        let parts = futures_util::future::join_all(txs.iter_mut().enumerate().map(|(w, tx)| {
            let mine: Vec<(i64, i64)> = gaps.iter().copied().skip(w).step_by(n).collect();
            let all = &all;
            async move { loose_on(tx, tenant, machine, all, &mine).await }
        }))
        .await;
        let mut loose: Vec<Vec<f64>> = vec![Vec::new(); all.len()];
        for part in parts {
            for (col, v) in loose.iter_mut().zip(part?) {
                compute::append_column(col, v);
            }
        }
        let mut loose = loose.into_iter();
        let work: Vec<(&Vec<Metric>, Vec<Vec<f64>>)> = shares
            .iter()
            .map(|ms| (ms, loose.by_ref().take(ms.len()).collect()))
            .collect();
        let spans = &spans[..];
        let results = futures_util::future::join_all(txs.iter_mut().zip(work).map(
            |(tx, (ms, l))| async move {
                summaries_on(tx, tenant, machine, ms, (from_ms, to_ms), spans, l).await
            },
        ))
        .await;
        for tx in txs {
            tx.commit().await.map_err(Error::db("ending a read"))?;
        }
        Ok(Some(results.into_iter().collect::<Result<Vec<_>>>()?))
    }

    /// Compacts the machine's rows that no span covers into spans of
    /// `block_rows` rows (the last of each run of rows possibly short; a short last
    /// span is built again with the rows after it). The lock on
    /// the machine's row keeps ingest (which takes it before it deletes stale spans)
    /// and retention out until this commits; the rows are read on the same connection.
    pub(crate) async fn compact(
        &self,
        tenant: TenantId,
        machine: MachineId,
    ) -> Result<CompactReport> {
        let mut tx = self.tenant_tx(tenant).await?;
        let mask: Option<i64> = sqlx::query_scalar(
            "SELECT metric_mask FROM machines WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        )
        .bind(tenant.0)
        .bind(machine.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db("locking the machine"))?;
        let Some(mask) = mask else {
            return Err(Error::NotFound {
                what: "machine",
                name: machine.to_string(),
            });
        };
        let present = compute::present_metrics(mask);
        let mut spans = read_spans(&mut tx, tenant, machine, (i64::MIN, i64::MAX)).await?;
        if let Some(tail) = compute::reopened_tail(&spans, self.block_rows) {
            let newer: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM interval_metrics WHERE tenant_id = $1 \
                 AND machine_id = $2 AND ts_ms > $3)",
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
                        "DELETE FROM {table} WHERE tenant_id = $1 AND machine_id = $2 \
                         AND last_ms = $3"
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
            let mut ts = Vec::new();
            // Only integers are formatted into the statement (COPY takes no parameters).
            let select = format!(
                "SELECT ts_ms FROM interval_metrics WHERE tenant_id = {} AND machine_id = {} \
                 AND ts_ms >= {a} AND ts_ms < {b} ORDER BY ts_ms",
                tenant.0, machine.0
            );
            copy_out_on(&mut tx, &select, &mut |f| {
                ts.push(f.i64(0)?);
                Ok(())
            })
            .await?;
            for block in compute::plan_blocks(&ts, self.block_rows) {
                let mut cols: Vec<Vec<f64>> = vec![Vec::new(); present.len()];
                if !present.is_empty() {
                    let select = format!(
                        "SELECT {} FROM interval_metrics WHERE tenant_id = {} AND machine_id = {} \
                         AND ts_ms >= {} AND ts_ms <= {}",
                        compute::column_list(&present),
                        tenant.0,
                        machine.0,
                        block.first_ms,
                        block.last_ms
                    );
                    copy_dense_on(&mut tx, &select, &mut cols).await?;
                }
                sqlx::query(
                    "INSERT INTO block_spans (tenant_id, machine_id, last_ms, first_ms, row_count) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(tenant.0)
                .bind(machine.0)
                .bind(block.last_ms)
                .bind(block.first_ms)
                .bind(i32::try_from(block.rows).unwrap_or(i32::MAX))
                .execute(&mut *tx)
                .await
                .map_err(Error::db("writing a summary span"))?;
                // One statement per block (COPY FROM is refused under row-level
                // security).
                let mut names: Vec<&str> = Vec::with_capacity(present.len());
                let mut counts: Vec<i32> = Vec::with_capacity(present.len());
                let mut blobs: Vec<Vec<u8>> = Vec::with_capacity(present.len());
                let mut means: Vec<f64> = Vec::with_capacity(present.len());
                let mut m2s: Vec<f64> = Vec::with_capacity(present.len());
                let mut sketches: Vec<Vec<u8>> = Vec::with_capacity(present.len());
                for (m, values) in present.iter().zip(cols) {
                    if values.is_empty() {
                        continue;
                    }
                    let sorted = compute::sorted_block(values);
                    let moments = perfcore::stats::Moments::of(&sorted);
                    names.push(m.name());
                    counts.push(i32::try_from(sorted.len()).unwrap_or(i32::MAX));
                    blobs.push(compute::le_bytes(&sorted));
                    means.push(moments.mean);
                    m2s.push(moments.m2);
                    sketches.push(crate::sketch::encode_sketch(&sorted));
                }
                if !names.is_empty() {
                    sqlx::query(
                        "INSERT INTO metric_blocks (tenant_id, machine_id, last_ms, metric, \
                         first_ms, value_count, sorted_values, value_mean, value_m2, sketch) \
                         SELECT $1, $2, $3, m, $4, c, v, a, q, k FROM unnest($5::text[], \
                         $6::int[], $7::bytea[], $8::float8[], $9::float8[], $10::bytea[]) \
                         AS u(m, c, v, a, q, k)",
                    )
                    .bind(tenant.0)
                    .bind(machine.0)
                    .bind(block.last_ms)
                    .bind(block.first_ms)
                    .bind(&names)
                    .bind(&counts)
                    .bind(&blobs)
                    .bind(&means)
                    .bind(&m2s)
                    .bind(&sketches)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::db("writing summary blocks"))?;
                }
                report.blocks += 1;
                report.rows += block.rows as u64;
            }
        }
        tx.commit()
            .await
            .map_err(Error::db("committing the compaction"))?;
        Ok(report)
    }

    /// The metrics the machine has ever had values for (none for an unknown machine).
    pub(crate) async fn present(
        &self,
        tenant: TenantId,
        machine: MachineId,
    ) -> Result<Vec<Metric>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let mask: Option<i64> =
            sqlx::query_scalar("SELECT metric_mask FROM machines WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(machine.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::db("reading the machine's metrics"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
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
        // Only integers are formatted into the statement (COPY takes no parameters).
        let select = format!(
            "SELECT ts_ms, interval_s{}{} FROM interval_metrics WHERE tenant_id = {} AND machine_id = {} \
             AND ts_ms >= {} AND ts_ms < {} ORDER BY ts_ms",
            if present.is_empty() { "" } else { ", " },
            compute::column_list(present),
            tenant.0,
            machine.0,
            from_ms,
            to_ms
        );
        let mut out = Vec::new();
        self.copy_out(tenant, &select, |f| {
            let mut row = IntervalRow::new(f.i64(0)?, f.f64(1)?);
            for (i, m) in present.iter().enumerate() {
                row.values[m.index()] = f.opt_f64(i + 2)?;
            }
            out.push(row);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    pub(crate) async fn devices(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DeviceSample>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query(
            "SELECT v.ts_ms, s.kind, s.device, s.metric, v.value \
             FROM device_series s JOIN device_values v ON v.tenant_id = s.tenant_id AND v.series_id = s.id \
             WHERE s.tenant_id = $1 AND s.machine_id = $2 AND v.ts_ms >= $3 AND v.ts_ms < $4 \
             ORDER BY v.ts_ms, s.kind, s.device, s.metric",
        )
        .bind(tenant.0)
        .bind(machine.0)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("reading device values"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
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
        let select = format!(
            "SELECT ts_ms{}{} FROM interval_metrics WHERE tenant_id = {} AND machine_id = {} \
             AND ts_ms >= {} AND ts_ms < {} ORDER BY ts_ms",
            if metrics.is_empty() { "" } else { ", " },
            compute::column_list(metrics),
            tenant.0,
            machine.0,
            from_ms,
            to_ms
        );
        let mut out = Columns {
            timestamps_ms: Vec::new(),
            values: vec![Vec::new(); metrics.len()],
        };
        self.copy_out(tenant, &select, |f| {
            out.timestamps_ms.push(f.i64(0)?);
            for (i, col) in out.values.iter_mut().enumerate() {
                col.push(f.opt_f64(i + 1)?);
            }
            Ok(())
        })
        .await?;
        Ok(out)
    }

    pub(crate) async fn dense_columns(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(Metric, Vec<f64>)>> {
        let select = format!(
            "SELECT {} FROM interval_metrics WHERE tenant_id = {} AND machine_id = {} \
             AND ts_ms >= {} AND ts_ms < {}",
            compute::column_list(metrics),
            tenant.0,
            machine.0,
            from_ms,
            to_ms
        );
        let mut cols = vec![Vec::new(); metrics.len()];
        let mut tx = self.tenant_tx(tenant).await?;
        copy_dense_on(&mut tx, &select, &mut cols).await?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
        Ok(metrics.iter().copied().zip(cols).collect())
    }

    pub(crate) async fn time_bounds(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Option<(i64, i64)>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let r = sqlx::query(
            "SELECT MIN(ts_ms), MAX(ts_ms) FROM interval_metrics \
             WHERE tenant_id = $1 AND machine_id = $2 AND ts_ms >= $3 AND ts_ms < $4",
        )
        .bind(tenant.0)
        .bind(machine.0)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::db("reading the time range"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
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
            "SELECT (ts_ms - $1) / $2 AS b, MIN({c}), AVG({c}), MAX({c}), COUNT({c}) \
             FROM interval_metrics \
             WHERE tenant_id = $3 AND machine_id = $4 AND ts_ms >= $1 AND ts_ms < $5 AND {c} IS NOT NULL \
             GROUP BY b ORDER BY b"
        );
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query(AssertSqlSafe(text))
            .bind(from_ms)
            .bind(width_ms)
            .bind(tenant.0)
            .bind(machine.0)
            .bind(to_ms)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db("downsampling"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
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
        let mut tx = self.tenant_tx(tenant).await?;
        // Locks the tenant's machines first, as compaction does, so that no span is
        // being built over rows this deletes.
        sqlx::query("SELECT id FROM machines WHERE tenant_id = $1 ORDER BY id FOR UPDATE")
            .bind(tenant.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db("locking the machines"))?;
        // Per machine and per series, so each delete is a range scan of the primary key.
        let rows = sqlx::query(
            "DELETE FROM interval_metrics WHERE tenant_id = $1 AND ts_ms < $2 \
             AND machine_id IN (SELECT id FROM machines WHERE tenant_id = $1)",
        )
        .bind(tenant.0)
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("deleting old interval rows"))?
        .rows_affected();
        let values = sqlx::query(
            "DELETE FROM device_values WHERE tenant_id = $1 AND ts_ms < $2 \
             AND series_id IN (SELECT id FROM device_series WHERE tenant_id = $1)",
        )
        .bind(tenant.0)
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("deleting old device values"))?
        .rows_affected();
        // A span that began before the cutoff has lost rows.
        for table in ["metric_blocks", "block_spans"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND first_ms < $2"
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
            let mut tx = self.tenant_tx(tenant).await?;
            let dir = sqlx::query(
                "INSERT INTO api_key_directory (prefix, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&prefix)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("registering a key prefix"))?;
            if dir.rows_affected() == 0 {
                continue;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_keys (tenant_id, machine_id, prefix, secret_hash, label, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
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
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, tenant_id, machine_id, prefix, label, created_ms, last_used_ms, revoked_ms \
             FROM api_keys WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("listing keys"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
        Ok(rows.iter().map(key_from_row).collect())
    }

    pub(crate) async fn revoke_key(&self, tenant: TenantId, key: KeyId) -> Result<bool> {
        let mut tx = self.tenant_tx(tenant).await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_ms = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_ms IS NULL",
        )
        .bind(now_ms())
        .bind(tenant.0)
        .bind(key.0)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("revoking a key"))?;
        tx.commit()
            .await
            .map_err(Error::db("committing a revocation"))?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn verify_key(&self, presented: &str) -> Result<Option<KeyAuth>> {
        let Some(prefix) = secret::key_prefix(presented) else {
            return Ok(None);
        };
        // The directory holds no secret: it tells which tenant to set before the key
        // itself can be read. Behind row-level security, so asked through the one
        // narrow SECURITY DEFINER function (migration 2).
        let tenant: Option<i64> = sqlx::query_scalar("SELECT perfan_key_tenant($1)")
            .bind(prefix)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("looking up a key prefix"))?;
        let Some(tenant) = tenant.map(TenantId) else {
            return Ok(None);
        };
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query(
            "SELECT id, machine_id, secret_hash, revoked_ms, last_used_ms FROM api_keys \
             WHERE tenant_id = $1 AND prefix = $2",
        )
        .bind(tenant.0)
        .bind(prefix)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db("looking up a key"))?;
        let Some(r) = row else { return Ok(None) };
        let hash: Vec<u8> = r.get(2);
        let revoked: Option<i64> = r.get(3);
        if !secret::key_matches(presented, &hash) || revoked.is_some() {
            return Ok(None);
        }
        let auth = KeyAuth {
            key: KeyId(r.get(0)),
            tenant,
            machine: r.get::<Option<i64>, _>(1).map(MachineId),
        };
        let last: Option<i64> = r.get(4);
        let now = now_ms();
        if last.is_none_or(|l| now - l >= crate::LAST_USED_RESOLUTION_MS) {
            sqlx::query("UPDATE api_keys SET last_used_ms = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(now)
                .bind(tenant.0)
                .bind(auth.key.0)
                .execute(&mut *tx)
                .await
                .map_err(Error::db("recording key use"))?;
        }
        tx.commit().await.map_err(Error::db("committing key use"))?;
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
        let mut tx = self.tenant_tx(tenant).await?;
        let r = sqlx::query_scalar(
            "INSERT INTO users (tenant_id, email, password_hash, role, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(tenant.0)
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        match r {
            Ok(id) => {
                tx.commit().await.map_err(Error::db("committing a user"))?;
                Ok(User {
                    id: UserId(id),
                    tenant,
                    email: email.to_owned(),
                    role,
                    created_ms: now,
                })
            }
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
        let mut tx = self.tenant_tx(tenant).await?;
        let r = sqlx::query(
            "SELECT id, tenant_id, email, role, created_ms, password_hash FROM users WHERE tenant_id = $1 AND email = $2",
        )
        .bind(tenant.0)
        .bind(email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db("looking up a user"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
        r.map(|r| Ok((user_from_row(&r)?, r.get(5)))).transpose()
    }

    pub(crate) async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, tenant_id, email, role, created_ms FROM users WHERE tenant_id = $1 ORDER BY email",
        )
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("listing users"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
        rows.iter().map(user_from_row).collect()
    }

    // ---- uploads and audit ---------------------------------------------------

    pub(crate) async fn record_upload(&self, tenant: TenantId, u: &NewUpload) -> Result<i64> {
        let mut tx = self.tenant_tx(tenant).await?;
        let id = sqlx::query_scalar(
            "INSERT INTO uploads (tenant_id, machine_id, key_id, source, format, rows_stored, rows_present, \
             first_ts_ms, last_ts_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::db("recording an upload"))?;
        tx.commit()
            .await
            .map_err(Error::db("committing an upload"))?;
        Ok(id)
    }

    pub(crate) async fn list_uploads(&self, tenant: TenantId, limit: u32) -> Result<Vec<Upload>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, machine_id, key_id, source, format, rows_stored, rows_present, first_ts_ms, last_ts_ms, created_ms \
             FROM uploads WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("listing uploads"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
        Ok(rows.iter().map(upload_from_row).collect())
    }

    pub(crate) async fn audit(
        &self,
        tenant: TenantId,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.tenant_tx(tenant).await?;
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, at_ms, actor, action, detail) VALUES ($1, $2, $3, $4, $5::jsonb)",
        )
        .bind(tenant.0)
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(detail.to_string())
        .execute(&mut *tx)
        .await
        .map_err(Error::db("writing the audit log"))?;
        tx.commit()
            .await
            .map_err(Error::db("committing the audit log"))
    }

    pub(crate) async fn list_audit(&self, tenant: TenantId, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, at_ms, actor, action, detail::text FROM audit_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("reading the audit log"))?;
        tx.commit().await.map_err(Error::db("ending a read"))?;
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

    /// Total size of the store's tables with indexes and TOAST.
    pub(crate) async fn size_bytes(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN (current_schema(), 'perfan_ingest') AND c.relkind IN ('r', 'p')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(Error::db("measuring the database"))?;
        Ok(n.max(0) as u64)
    }
}

/// Creates the session's staging tables if this connection has none yet.
async fn create_staging(tx: &mut PgConnection) -> Result<()> {
    sqlx::raw_sql(STAGING_DDL)
        .execute(tx)
        .await
        .map_err(Error::db("creating the staging tables"))?;
    Ok(())
}

/// Sets the transaction's tenant for row-level security.
pub(crate) async fn set_tenant(tx: &mut PgConnection, tenant: TenantId) -> Result<()> {
    sqlx::query("SELECT set_config('app.tenant', $1, true)")
        .bind(tenant.0.to_string())
        .execute(tx)
        .await
        .map_err(Error::db("setting the tenant"))?;
    Ok(())
}

async fn copy_in(tx: &mut PgConnection, statement: &str, data: Vec<u8>) -> Result<u64> {
    let mut copy = tx
        .copy_in_raw(statement)
        .await
        .map_err(Error::db("starting COPY"))?;
    if let Err(e) = copy.send(data).await {
        let _ = copy.abort("send failed").await;
        return Err(Error::db("sending COPY data")(e));
    }
    copy.finish().await.map_err(Error::db("finishing COPY"))
}

/// Ids of the device series of a batch, creating the missing ones.
async fn series_ids<'a>(
    tx: &mut PgConnection,
    tenant: TenantId,
    machine: MachineId,
    devices: &'a [DeviceRow],
) -> Result<compute::FastMap<(&'a str, &'a str, &'a str), i64>> {
    let keys = compute::series_keys(devices);
    let kinds: Vec<&str> = keys.iter().map(|k| k.0).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let metrics: Vec<&str> = keys.iter().map(|k| k.2).collect();
    sqlx::query(
        "INSERT INTO device_series (tenant_id, machine_id, kind, device, metric) \
         SELECT $1, $2, k, d, m FROM unnest($3::text[], $4::text[], $5::text[]) AS u(k, d, m) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(machine.0)
    .bind(&kinds)
    .bind(&names)
    .bind(&metrics)
    .execute(&mut *tx)
    .await
    .map_err(Error::db("creating device series"))?;
    let rows = sqlx::query(
        "SELECT id, kind, device, metric FROM device_series WHERE tenant_id = $1 AND machine_id = $2",
    )
    .bind(tenant.0)
    .bind(machine.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(Error::db("reading device series"))?;
    let mut stored: HashMap<(String, String, String), i64> = HashMap::with_capacity(rows.len());
    for r in &rows {
        stored.insert((r.get(1), r.get(2), r.get(3)), r.get(0));
    }
    let mut out = compute::FastMap::with_capacity_and_hasher(keys.len(), Default::default());
    for k in keys {
        if let Some(id) = stored.get(&(k.0.to_owned(), k.1.to_owned(), k.2.to_owned())) {
            out.insert(k, *id);
        }
    }
    Ok(out)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|source| Error::Json {
        what: "machine",
        source,
    })
}

fn tenant_from_row(r: &PgRow) -> Tenant {
    Tenant {
        id: TenantId(r.get(0)),
        name: r.get(1),
        retention_days: r.get::<Option<i32>, _>(2).map(|d| d as u32),
        created_ms: r.get(3),
    }
}

fn machine_from_row(r: &PgRow) -> Result<Machine> {
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

fn device_from_row(r: &PgRow) -> Result<DeviceSample> {
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

fn key_from_row(r: &PgRow) -> KeyInfo {
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

fn user_from_row(r: &PgRow) -> Result<User> {
    let role: String = r.get(3);
    Ok(User {
        id: UserId(r.get(0)),
        tenant: TenantId(r.get(1)),
        email: r.get(2),
        role: Role::from_name(&role)?,
        created_ms: r.get(4),
    })
}

fn upload_from_row(r: &PgRow) -> Upload {
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

/// Runs `COPY (select) TO STDOUT (FORMAT binary)` on `conn`, calling `on_tuple` per row.
/// The non-NULL values of `metrics` in the rows inside `gaps` (ranges `[a, b)`),
/// per metric: the rows a summary takes from the table.
async fn loose_on(
    tx: &mut PgConnection,
    tenant: TenantId,
    machine: MachineId,
    metrics: &[Metric],
    gaps: &[(i64, i64)],
) -> Result<Vec<Vec<f64>>> {
    let mut loose: Vec<Vec<f64>> = vec![Vec::new(); metrics.len()];
    if metrics.is_empty() {
        return Ok(loose);
    }
    for gaps in gaps.chunks(32) {
        // Only integers and metric names are formatted into the statement (COPY
        // takes no parameters).
        let ranges = gaps
            .iter()
            .map(|(a, b)| format!("(ts_ms >= {a} AND ts_ms < {b})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let select = format!(
            "SELECT {} FROM interval_metrics WHERE tenant_id = {} AND machine_id = {} \
             AND ({ranges})",
            compute::column_list(metrics),
            tenant.0,
            machine.0,
        );
        copy_dense_on(tx, &select, &mut loose).await?;
    }
    Ok(loose)
}

/// Summaries of `metrics` over `spans` and each metric's `loose` values, on a
/// transaction that sees those spans: the blocks' sketches, then the slices they
/// call for ([`PgStore::sketch_summaries`]).
async fn summaries_on(
    tx: &mut PgConnection,
    tenant: TenantId,
    machine: MachineId,
    metrics: &[Metric],
    (from_ms, to_ms): (i64, i64),
    spans: &[compute::Span],
    loose: Vec<Vec<f64>>,
) -> Result<Vec<Option<perfcore::stats::Summary>>> {
    use crate::sketch::{BlockSketch, SketchSummary};
    let mut sketches: Vec<Vec<BlockSketch>> = vec![Vec::new(); metrics.len()];
    if !spans.is_empty() && !metrics.is_empty() {
        // Only integers and metric names (identifiers of this crate) are
        // formatted into the statement.
        let names = metrics
            .iter()
            .map(|m| format!("'{}'", m.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let select = format!(
            "SELECT metric, last_ms, value_count::bigint, value_mean, value_m2, sketch \
             FROM metric_blocks WHERE tenant_id = {t} AND machine_id = {mach} \
             AND metric IN ({names}) AND last_ms >= {from_ms} AND last_ms < {to_ms} \
             AND first_ms >= {from_ms} ORDER BY last_ms, metric",
            t = tenant.0,
            mach = machine.0,
        );
        copy_out_on(&mut *tx, &select, &mut |f| {
            let name = f.opt_bytes(0)?.unwrap_or_default();
            let i = metrics
                .iter()
                .position(|m| m.name().as_bytes() == name)
                .ok_or_else(|| Error::Invalid("a summary block of another metric".into()))?;
            let last = f.i64(1)?;
            if spans.binary_search_by_key(&last, |s| s.last_ms).is_err() {
                return Err(Error::Invalid("a summary block without its span".into()));
            }
            let sketch = f
                .opt_bytes(5)?
                .ok_or_else(|| Error::Invalid("a stored block sketch is NULL".into()))?;
            sketches[i].push(BlockSketch::new(
                last,
                f.i64(2)?,
                f.f64(3)?,
                f.f64(4)?,
                sketch,
            )?);
            Ok(())
        })
        .await?;
    }
    // Sorting the loose values and the sketches' values is CPU work: off the runtime.
    let plans: Vec<SketchSummary> = tokio::task::spawn_blocking(move || {
        sketches
            .into_iter()
            .zip(loose)
            .map(|(b, l)| SketchSummary::plan(b, l))
            .collect()
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?;
    let (mut names, mut lasts, mut starts, mut lens) = (vec![], vec![], vec![], vec![]);
    for (m, plan) in metrics.iter().zip(&plans) {
        for (_, last, a, z) in plan.reads() {
            let byte = |p: usize| {
                i32::try_from(p * 8)
                    .map_err(|_| Error::Invalid("a summary block is too large".into()))
            };
            names.push(m.name());
            lasts.push(last);
            starts.push(byte(a)? + 1);
            lens.push(byte(z - a)?);
        }
    }
    // A subquery per slice, not a join: without statistics on metric_blocks (a
    // role that does not own it cannot ANALYZE it) the planner joined by
    // rescanning every block of the machine per slice, 0.45 s for 4,650 slices
    // against 31 ms probing the primary key.
    let slices: Vec<Option<Vec<u8>>> = if names.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "SELECT (SELECT substring(b.sorted_values FROM w.s FOR w.l) FROM metric_blocks b \
             WHERE b.tenant_id = $5 AND b.machine_id = $6 AND b.last_ms = w.t \
             AND b.metric = w.m) \
             FROM unnest($1::text[], $2::bigint[], $3::int[], $4::int[]) \
             WITH ORDINALITY AS w(m, t, s, l, i) ORDER BY w.i",
        )
        .bind(&names)
        .bind(&lasts)
        .bind(&starts)
        .bind(&lens)
        .bind(tenant.0)
        .bind(machine.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("reading summary block slices"))?
    };
    let slices: Vec<Vec<u8>> = slices.into_iter().collect::<Option<_>>().ok_or_else(|| {
        Error::Invalid(
            "a stored summary block is corrupt: a block its sketch names is missing".into(),
        )
    })?;
    if slices.len() != names.len() {
        return Err(Error::Invalid(
            "a stored summary block is corrupt: a block its sketch names is missing".into(),
        ));
    }
    let out = tokio::task::spawn_blocking(move || {
        let mut slices = slices.into_iter();
        let mut read: Vec<f64> = Vec::new();
        plans
            .iter()
            .map(|plan| {
                read.clear();
                // Reads first: zip stops on it without taking a slice of the next metric.
                for ((_, _, a, z), bytes) in plan.reads().zip(slices.by_ref()) {
                    let before = read.len();
                    crate::sketch::decode_f64s(&bytes, &mut read)?;
                    if read.len() - before != z - a {
                        return Err(Error::Invalid(
                            "a stored summary block is corrupt: it is shorter than its sketch says"
                                .into(),
                        ));
                    }
                }
                plan.finish(&read)
            })
            .collect::<Result<Vec<_>>>()
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;
    Ok(out)
}

/// The columns [`encode_rows`] writes after the keys.
fn row_columns(present: &[Metric]) -> String {
    if present.is_empty() {
        "ts_ms, interval_s".to_owned()
    } else {
        format!("ts_ms, interval_s, {}", compute::column_list(present))
    }
}

/// Appends `rows` as COPY tuples: `keys` (tenant and machine) when given, then the
/// columns of [`row_columns`].
fn encode_rows(
    enc: &mut CopyEncoder,
    rows: &[IntervalRow],
    present: &[Metric],
    keys: Option<(TenantId, MachineId)>,
) {
    let fields = (2 + present.len() + if keys.is_some() { 2 } else { 0 }) as i16;
    for r in rows {
        enc.tuple(fields);
        if let Some((t, m)) = keys {
            enc.i64(t.0);
            enc.i64(m.0);
        }
        enc.i64(r.timestamp_ms);
        enc.f64(r.elapsed_s);
        for m in present {
            enc.opt_f64(r.values[m.index()]);
        }
    }
}

/// Appends the non-NULL values of each column of a binary COPY out of `select`
/// (DOUBLE PRECISION columns only) to the matching vector of `cols`.
async fn copy_dense_on(conn: &mut PgConnection, select: &str, cols: &mut [Vec<f64>]) -> Result<()> {
    copy_out_on(conn, select, &mut |f| {
        for (i, col) in cols.iter_mut().enumerate() {
            if let Some(v) = f.opt_f64(i)? {
                col.push(v);
            }
        }
        Ok(())
    })
    .await
}

async fn copy_out_on(
    conn: &mut PgConnection,
    select: &str,
    on_tuple: &mut impl FnMut(&crate::pgcopy::Fields<'_>) -> Result<()>,
) -> Result<()> {
    let mut stream = conn
        .copy_out_raw(&format!("COPY ({select}) TO STDOUT (FORMAT binary)"))
        .await
        .map_err(Error::db("starting COPY out"))?;
    let mut dec = CopyDecoder::new();
    // After a tuple is refused the rest is read and dropped: a COPY left unread
    // leaves the connection mid-protocol, and the pool's next transaction on it
    // failed to begin.
    let mut refused = None;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(Error::db("reading COPY data"))?
    {
        if refused.is_none()
            && let Err(e) = dec.feed(&chunk, &mut *on_tuple)
        {
            refused = Some(e);
        }
    }
    match refused {
        Some(e) => Err(e),
        None => dec.finish(),
    }
}

/// The machine's compacted spans inside `[from, to)`, in time order.
async fn read_spans(
    conn: &mut PgConnection,
    tenant: TenantId,
    machine: MachineId,
    (from_ms, to_ms): (i64, i64),
) -> Result<Vec<compute::Span>> {
    let rows: Vec<(i64, i64, i32)> = sqlx::query_as(
        "SELECT first_ms, last_ms, row_count FROM block_spans WHERE tenant_id = $1 \
         AND machine_id = $2 AND last_ms >= $3 AND last_ms < $4 AND first_ms >= $3 \
         ORDER BY last_ms",
    )
    .bind(tenant.0)
    .bind(machine.0)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db("reading summary spans"))?;
    Ok(rows
        .into_iter()
        .map(|(first_ms, last_ms, rows)| compute::Span {
            first_ms,
            last_ms,
            rows: i64::from(rows),
        })
        .collect())
}
