//! perfstore: storage of PerfAnalysis data for one laptop (SQLite) or a multi-tenant
//! fleet (PostgreSQL), behind one API.
//!
//! - Tenants, users with roles (argon2id passwords), machines, API keys (256-bit,
//!   shown once, stored as SHA-256 with a visible prefix, optionally limited to a
//!   machine, revocable, last use recorded), interval metrics (one wide row per
//!   machine and timestamp, a column per [`Metric`]), per-device series, uploads and
//!   an audit log.
//! - Every call names the tenant. On PostgreSQL, row-level security is a second wall:
//!   each transaction sets `app.tenant`, and the policies match nothing without it.
//! - Ingest is idempotent on (machine, timestamp): a resend stores nothing twice. One
//!   transaction per batch; a batch with a bad row is rejected whole, naming the row.
//! - Summary statistics are computed in Rust ([`perfcore::stats::summarize`]) over
//!   columns read from the database, not with SQL percentile functions.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> perfstore::Result<()> {
//! use perfcore::metrics::{IntervalRow, MachineFacts, Metric};
//! use perfstore::{Labels, Store};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(&format!("sqlite://{}/perf.db", dir.path().display())).await?;
//! let tenant = store.tenant_by_name_or_create("default").await?;
//! let m = store
//!     .upsert_machine(tenant.id, "web-1", Some("web-1.example"), &Labels::new(), &MachineFacts::default())
//!     .await?;
//! let rows: Vec<IntervalRow> = (0..3)
//!     .map(|i| {
//!         let mut r = IntervalRow::new(1_767_813_020_000 + i * 10_000, 10.0);
//!         r.set(Metric::CpuUserPct, Some(10.0 * i as f64));
//!         r
//!     })
//!     .collect();
//! let report = store.ingest(tenant.id, m.id, &rows, &[]).await?;
//! assert_eq!((report.stored, report.already_present), (3, 0));
//! let again = store.ingest(tenant.id, m.id, &rows, &[]).await?;
//! assert_eq!((again.stored, again.already_present), (0, 3));
//! let stats = store.summary(tenant.id, m.id, i64::MIN, i64::MAX).await?;
//! assert_eq!(stats[0].0, Metric::CpuUserPct);
//! assert_eq!(stats[0].1.p50, 10.0);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod compute;
mod error;
mod migrate;
mod pgcopy;
mod postgres;
mod secret;
mod sketch;
mod sqlite;
mod sqlite_read;
mod types;
mod validate;

use std::path::PathBuf;

pub use compute::{BLOCK_ROWS, summarize_parallel};
pub use error::{Error, Result};
pub use perfcore::metrics::{DeviceRow, IntervalRow, MachineFacts, Metric};
pub use perfcore::stats::Summary;
pub use secret::KEY_SCHEME;
pub use types::{
    AuditEntry, BackendKind, Bucket, Columns, CompactReport, DeviceSample, IngestReport, KeyAuth,
    KeyId, KeyInfo, Labels, Machine, MachineId, NewKey, NewUpload, RetentionReport, Role, Tenant,
    TenantId, Upload, User, UserId,
};

/// The tenant every one-machine install uses, created on first use.
pub const DEFAULT_TENANT: &str = "default";

/// Environment variable holding the connection URL when none is given.
pub const DB_ENV: &str = "PERFAN_DB";

/// A key's last-used time is rewritten at most this often (ms), so that verifying a
/// key on every request does not turn every request into a write.
pub const LAST_USED_RESOLUTION_MS: i64 = 60_000;

const MS_PER_DAY: i64 = 86_400_000;

/// Most connections one large read is spread over.
const MAX_READ_PARTS: usize = 4;
/// Times a summary starts over when the compacted spans change under it, before it
/// reads the rows alone.
const SUMMARY_ATTEMPTS: usize = 3;

/// Ranges shorter than this are read whole (6 hours: 2,160 rows at 10 s).
const SPLIT_MIN_SPAN_MS: i64 = 6 * 3_600_000;

/// The default database: `sqlite://` file `$XDG_DATA_HOME/perfanalysis/perfanalysis.db`,
/// or `~/.local/share/perfanalysis/perfanalysis.db` without `XDG_DATA_HOME`.
pub fn default_db_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(base.join("perfanalysis").join("perfanalysis.db"))
}

/// The URL to open: `explicit`, else `$PERFAN_DB`, else the default SQLite file.
pub fn resolve_url(explicit: Option<&str>) -> Result<String> {
    if let Some(u) = explicit.filter(|u| !u.is_empty()) {
        return Ok(u.to_owned());
    }
    if let Ok(u) = std::env::var(DB_ENV)
        && !u.is_empty()
    {
        return Ok(u);
    }
    let path = default_db_path().ok_or_else(|| Error::Url {
        url: String::new(),
        message:
            "no --db, no PERFAN_DB and no HOME or XDG_DATA_HOME to put the default database in"
                .into(),
    })?;
    Ok(format!("sqlite://{}", path.display()))
}

/// A URL with its password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.split_once('@')
        && let Some((user, _)) = auth.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// Runs the same call on whichever backend the store has.
macro_rules! on {
    ($self:ident, $b:ident => $e:expr) => {
        match &$self.backend {
            Backend::Sqlite($b) => $e,
            Backend::Postgres($b) => $e,
        }
    };
}

/// A store: a pool of connections to SQLite or PostgreSQL, schema migrated.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Store {
    backend: Backend,
}

/// How many connections a store keeps and how much cache each may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Most connections at once (SQLite default 4, PostgreSQL default 10).
    pub max_connections: Option<u32>,
    /// SQLite page cache per connection, KiB (default 65,536: large reads and
    /// ingests of millions of rows).
    pub sqlite_cache_kib: Option<u32>,
    /// Prepared statements kept per connection (default 100).
    pub statement_cache: Option<u32>,
    /// SQLite: per-device values bound per INSERT statement (default 2,048). A
    /// prepared statement holds a slot per bound value, so a small process keeps
    /// its statements small.
    pub sqlite_values_per_insert: Option<usize>,
    /// SQLite: interval rows bound per INSERT statement (default 256), for the
    /// same reason.
    pub sqlite_rows_per_insert: Option<usize>,
    /// Interval rows per compacted summary block at most (default [`BLOCK_ROWS`]).
    /// Smaller blocks cost more to read; tests use them to exercise many blocks.
    pub block_rows: Option<usize>,
}

impl OpenOptions {
    /// A small footprint for a process that writes a batch now and then and
    /// stays up for months (the agent): one connection, a 512 KiB SQLite cache
    /// (appends touch only the rightmost pages of each index), statements of at
    /// most 256 device values or 8 interval rows.
    pub fn small() -> Self {
        OpenOptions {
            max_connections: Some(1),
            sqlite_cache_kib: Some(128),
            statement_cache: Some(16),
            sqlite_values_per_insert: Some(256),
            sqlite_rows_per_insert: Some(8),
            block_rows: None,
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_kind())
            .finish()
    }
}

impl Store {
    /// Opens (and creates, for SQLite) the database at `url` and applies any missing
    /// migrations. `postgres://` or `postgresql://` for PostgreSQL; `sqlite://PATH`,
    /// `sqlite::memory:` or a bare file path for SQLite.
    pub async fn open(url: &str) -> Result<Store> {
        Self::open_with(url, &OpenOptions::default()).await
    }

    /// Opens the store with explicit connection and cache settings (see
    /// [`OpenOptions::small`] for a long-running agent).
    pub async fn open_with(url: &str, options: &OpenOptions) -> Result<Store> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(postgres::PgStore::open(url, options).await?)
        } else if sqlite::is_sqlite_url(url) {
            Backend::Sqlite(sqlite::SqliteStore::open(url, options).await?)
        } else {
            return Err(Error::Url {
                url: redact_url(url),
                message: "expected postgres://..., sqlite://PATH or a file path".into(),
            });
        };
        Ok(Store { backend })
    }

    /// Which database this store runs on.
    pub fn backend_kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// True when ingest COPYs new interval rows straight into their table: PostgreSQL,
    /// with the role granted INSERT on `perfan_ingest.interval_metrics` (see
    /// perfstore/README.md); otherwise they are staged first, at about half the speed.
    pub fn copies_directly(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => false,
            Backend::Postgres(b) => b.copies_directly(),
        }
    }

    /// Closes every connection (waits for the ones in use).
    pub async fn close(&self) {
        on!(self, b => b.close().await)
    }

    // ---- tenants -------------------------------------------------------------

    /// Creates a tenant; [`Error::AlreadyExists`] if the name is taken.
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant> {
        check_name("tenant name", name)?;
        on!(self, b => b.create_tenant(name).await)
    }

    /// The tenant with this name, if any.
    pub async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        on!(self, b => b.tenant_by_name(name).await)
    }

    /// The tenant with this name, created if missing (safe under concurrent callers).
    pub async fn tenant_by_name_or_create(&self, name: &str) -> Result<Tenant> {
        if let Some(t) = self.tenant_by_name(name).await? {
            return Ok(t);
        }
        match self.create_tenant(name).await {
            Ok(t) => Ok(t),
            Err(Error::AlreadyExists { .. }) => {
                self.tenant_by_name(name)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        what: "tenant",
                        name: name.to_owned(),
                    })
            }
            Err(e) => Err(e),
        }
    }

    /// Every tenant, by id.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        on!(self, b => b.list_tenants().await)
    }

    /// Sets (or clears) how many days of data a tenant keeps; see
    /// [`Store::apply_configured_retention`].
    pub async fn set_retention(&self, tenant: TenantId, days: Option<u32>) -> Result<()> {
        if days == Some(0) {
            return Err(Error::Invalid("retention must be at least 1 day".into()));
        }
        on!(self, b => b.set_retention(tenant, days).await)
    }

    // ---- machines ------------------------------------------------------------

    /// Creates or updates a machine of the tenant, found by its stable id string.
    /// A `None` hostname, empty labels or default facts keep what is stored.
    pub async fn upsert_machine(
        &self,
        tenant: TenantId,
        machine_key: &str,
        hostname: Option<&str>,
        labels: &Labels,
        facts: &MachineFacts,
    ) -> Result<Machine> {
        check_name("machine id", machine_key)?;
        let facts = (facts != &MachineFacts::default()).then_some(facts);
        on!(self, b => b.upsert_machine(tenant, machine_key, hostname, labels, facts).await)
    }

    /// The machine of the tenant with this stable id string.
    pub async fn machine(&self, tenant: TenantId, machine_key: &str) -> Result<Option<Machine>> {
        on!(self, b => b.machine(tenant, machine_key).await)
    }

    /// The machines of a tenant, by stable id.
    pub async fn list_machines(&self, tenant: TenantId) -> Result<Vec<Machine>> {
        on!(self, b => b.list_machines(tenant).await)
    }

    // ---- ingest --------------------------------------------------------------

    /// Stores a batch of interval rows and per-device values of one machine, in one
    /// transaction. Rows whose (machine, timestamp) is already stored are skipped and
    /// counted (likewise per-device values per series and timestamp). A batch with an
    /// invalid row (a non-finite value, a timestamp out of range) is rejected whole
    /// with [`Error::BadRow`] naming it; nothing is written.
    pub async fn ingest(
        &self,
        tenant: TenantId,
        machine: MachineId,
        rows: &[IntervalRow],
        devices: &[DeviceRow],
    ) -> Result<IngestReport> {
        validate::check_batch(rows, devices)?;
        if rows.is_empty() && devices.is_empty() {
            return Ok(IngestReport::default());
        }
        on!(self, b => b.ingest(tenant, machine, rows, devices).await)
    }

    // ---- queries -------------------------------------------------------------

    /// A machine's rows with `from_ms <= timestamp < to_ms`, oldest first.
    pub async fn rows(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRow>> {
        let present = on!(self, b => b.present(tenant, machine).await)?;
        let ranges = self.split(tenant, machine, from_ms, to_ms).await?;
        let present = &present;
        let parts = join_all_reads(ranges.iter().map(|&(a, b)| async move {
            on!(self, s => s.rows(tenant, machine, present, a, b).await)
        }))
        .await?;
        Ok(parts.concat())
    }

    /// Splits `[from_ms, to_ms)` into consecutive ranges of the machine's data to read
    /// on several connections at once: each backend connection decodes rows on its
    /// own thread (an sqlx SQLite worker, a PostgreSQL server process). Small ranges
    /// stay whole.
    async fn split(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let parts = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, MAX_READ_PARTS);
        if parts == 1 {
            return Ok(vec![(from_ms, to_ms)]);
        }
        let Some((first, last)) = self.time_bounds(tenant, machine, from_ms, to_ms).await? else {
            return Ok(Vec::new());
        };
        let (lo, hi) = (from_ms.max(first), to_ms.min(last.saturating_add(1)));
        let span = hi as i128 - lo as i128;
        if span < SPLIT_MIN_SPAN_MS as i128 {
            return Ok(vec![(lo, hi)]);
        }
        let step = span / parts as i128;
        Ok((0..parts)
            .map(|i| {
                let a = lo as i128 + step * i as i128;
                let b = if i + 1 == parts { hi as i128 } else { a + step };
                (a as i64, b as i64)
            })
            .collect())
    }

    /// A machine's per-device values with `from_ms <= timestamp < to_ms`, ordered by
    /// time, kind, device and metric.
    pub async fn devices(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DeviceSample>> {
        on!(self, b => b.devices(tenant, machine, from_ms, to_ms).await)
    }

    /// Some metrics of a machine as columns (with `None` where a row had no value).
    pub async fn columns(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Columns> {
        on!(self, b => b.columns(tenant, machine, metrics, from_ms, to_ms).await)
    }

    /// Timestamps of the first and last row in `[from_ms, to_ms)`, if any.
    pub async fn time_bounds(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Option<(i64, i64)>> {
        on!(self, b => b.time_bounds(tenant, machine, from_ms, to_ms).await)
    }

    /// One metric of a machine in at most `points` buckets of equal width over the
    /// data in `[from_ms, to_ms)` (the range is first narrowed to the data), each with
    /// min, avg and max. Buckets without values are left out.
    pub async fn downsample(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        points: u32,
    ) -> Result<Vec<Bucket>> {
        compute::check_points(points)?;
        let Some((first, last)) = self.time_bounds(tenant, machine, from_ms, to_ms).await? else {
            return Ok(Vec::new());
        };
        let Some((from, to, width)) = compute::bucket_plan(from_ms, to_ms, first, last, points)
        else {
            return Ok(Vec::new());
        };
        on!(self, b => b.buckets(tenant, machine, metric, from, to, width).await)
    }

    /// Statistics (min, max, avg, stddev, p50 … p100) of every metric of a machine
    /// with values in `[from_ms, to_ms)`, in [`Metric::ALL`] order, computed in Rust.
    pub async fn summary(
        &self,
        tenant: TenantId,
        machine: MachineId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(Metric, Summary)>> {
        let present = on!(self, b => b.present(tenant, machine).await)?;
        if present.is_empty() {
            return Ok(Vec::new());
        }
        self.summarize_metrics(tenant, machine, &present, from_ms, to_ms)
            .await
    }

    /// Statistics of `metrics` of a machine in `[from_ms, to_ms)`: compacted spans
    /// from their sorted blocks, the rows outside them from the table.
    ///
    /// The spans are listed first and the rows outside them read for every metric;
    /// then workers (one per core) take the metrics in turn, each reading one
    /// metric's blocks into a buffer it reuses, so that memory holds one metric's
    /// values per worker. Each metric's read lists the spans again: if they changed
    /// (an ingest or retention ran meanwhile), the summary starts over.
    async fn summarize_metrics(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(Metric, Summary)>> {
        let range = (from_ms, to_ms);
        let lite = match &self.backend {
            Backend::Postgres(pg) => {
                if let Some(out) =
                    Self::pg_sketch_summaries(pg, tenant, machine, metrics, range).await?
                {
                    return Ok(out);
                }
                return self
                    .summarize_rows(tenant, machine, metrics, from_ms, to_ms)
                    .await;
            }
            Backend::Sqlite(s) => s,
        };
        for _ in 0..SUMMARY_ATTEMPTS {
            let (spans, _) = lite
                .block_runs(tenant, machine, &[], range, Vec::new())
                .await?;
            if spans.is_empty() {
                break;
            }
            if let Some(out) = self
                .summarize_spans(lite, tenant, machine, metrics, range, &spans)
                .await?
            {
                return Ok(out);
            }
        }
        self.summarize_rows(tenant, machine, metrics, from_ms, to_ms)
            .await
    }

    /// [`Store::summarize_metrics`] on PostgreSQL: sending every value is the whole
    /// cost over a network, so connections (one per core), all on one snapshot,
    /// share out the rows outside the spans, then each reads the blocks' sketches
    /// and slices of a share of the metrics (the server cuts the slices). `None` when
    /// no span lies in the range: the rows alone are read then.
    async fn pg_sketch_summaries(
        pg: &postgres::PgStore,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        range: (i64, i64),
    ) -> Result<Option<Vec<(Metric, Summary)>>> {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, MAX_READ_PARTS)
            .min(metrics.len().max(1));
        let shares: Vec<Vec<Metric>> = (0..workers)
            .map(|w| metrics.iter().copied().skip(w).step_by(workers).collect())
            .collect();
        let Some(results) = pg.sketch_summaries(tenant, machine, &shares, range).await? else {
            return Ok(None);
        };
        let mut all: Vec<(Metric, Summary)> = Vec::with_capacity(metrics.len());
        for (ms, sums) in shares.iter().zip(results) {
            all.extend(ms.iter().zip(sums).filter_map(|(m, s)| s.map(|s| (*m, s))));
        }
        all.sort_unstable_by_key(|(m, _)| m.index());
        Ok(Some(all))
    }

    /// [`Store::summarize_metrics`] over these `spans` (SQLite); `None` when a
    /// metric's read found other spans.
    async fn summarize_spans(
        &self,
        lite: &sqlite::SqliteStore,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        range: (i64, i64),
        spans: &[compute::Span],
    ) -> Result<Option<Vec<(Metric, Summary)>>> {
        // The rows outside the spans (before, between and after them; up to two
        // blocks' worth when the range cuts blocks), in parts on several connections.
        let mut ranges = Vec::new();
        for (a, b) in compute::gaps(spans, range.0, range.1) {
            ranges.extend(self.split(tenant, machine, a, b).await?);
        }
        let parts = join_all_reads(
            ranges
                .iter()
                .map(|&(a, b)| lite.dense_columns(tenant, machine, metrics, a, b)),
        )
        .await?;
        let mut loose: Vec<Vec<f64>> = vec![Vec::new(); metrics.len()];
        for part in parts {
            append_columns(loose.iter_mut(), part);
        }
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, MAX_READ_PARTS)
            .min(metrics.len().max(1));
        // Worker w takes metrics w, w + workers, ... with their loose values.
        let mut shares: Vec<Vec<(usize, Vec<f64>)>> = vec![Vec::new(); workers];
        for (i, l) in loose.into_iter().enumerate() {
            shares[i % workers].push((i, l));
        }
        let results = join_all_reads(shares.into_iter().map(|share| async move {
            let mut buf = compute::FlatRuns::default();
            let mut out = Vec::with_capacity(share.len());
            for (i, mut l) in share {
                let one = &metrics[i..=i];
                let (seen, mut bufs) = lite
                    .block_runs(tenant, machine, one, range, vec![buf])
                    .await?;
                if seen != spans {
                    return Ok::<_, Error>(None);
                }
                let runs = bufs.pop().unwrap_or_default();
                let (runs, s) = tokio::task::spawn_blocking(move || {
                    let s = runs.summarize_with(&mut l);
                    (runs, s)
                })
                .await
                .map_err(|e| Error::Task(e.to_string()))?;
                buf = runs;
                out.push((i, s));
            }
            Ok(Some(out))
        }))
        .await?;
        let mut all: Vec<(usize, Summary)> = Vec::with_capacity(metrics.len());
        for r in results {
            let Some(part) = r else { return Ok(None) };
            all.extend(part.into_iter().filter_map(|(i, s)| s.map(|s| (i, s))));
        }
        all.sort_unstable_by_key(|(i, _)| *i);
        Ok(Some(
            all.into_iter().map(|(i, s)| (metrics[i], s)).collect(),
        ))
    }

    /// Statistics of `metrics` from the rows alone, read in parts on several
    /// connections.
    async fn summarize_rows(
        &self,
        tenant: TenantId,
        machine: MachineId,
        metrics: &[Metric],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(Metric, Summary)>> {
        let ranges = self.split(tenant, machine, from_ms, to_ms).await?;
        let parts = join_all_reads(ranges.iter().map(|&(a, b)| async move {
            on!(self, s => s.dense_columns(tenant, machine, metrics, a, b).await)
        }))
        .await?;
        let mut cols: Vec<(Metric, Vec<f64>)> = metrics.iter().map(|m| (*m, Vec::new())).collect();
        for part in parts {
            append_columns(cols.iter_mut().map(|(_, all)| all), part);
        }
        compute::summarize_columns(cols).await
    }

    /// Compacts a machine's rows into sorted blocks of [`BLOCK_ROWS`] rows, which
    /// [`Store::summary`] and [`Store::fleet`] then read instead of the rows: run it
    /// after a bulk import and periodically (`perfan admin compact`). Rows stored
    /// later inside a block's time span, and retention, drop that block again.
    pub async fn compact(&self, tenant: TenantId, machine: MachineId) -> Result<CompactReport> {
        on!(self, b => b.compact(tenant, machine).await)
    }

    /// [`Store::compact`] for every machine of the tenant, the reports added up.
    pub async fn compact_tenant(&self, tenant: TenantId) -> Result<CompactReport> {
        let mut total = CompactReport::default();
        for m in self.list_machines(tenant).await? {
            let r = self.compact(tenant, m.id).await?;
            total.blocks += r.blocks;
            total.rows += r.rows;
        }
        Ok(total)
    }

    /// Statistics of one metric for every machine of the tenant with values in
    /// `[from_ms, to_ms)`, by machine id string.
    pub async fn fleet(
        &self,
        tenant: TenantId,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(Machine, Summary)>> {
        let machines = self.list_machines(tenant).await?;
        let mut out = Vec::with_capacity(machines.len());
        for m in machines {
            let stats = self
                .summarize_metrics(tenant, m.id, &[metric], from_ms, to_ms)
                .await?;
            if let Some((_, s)) = stats.into_iter().next() {
                out.push((m, s));
            }
        }
        Ok(out)
    }

    /// Deletes the tenant's data older than `days` days (from now).
    pub async fn apply_retention(&self, tenant: TenantId, days: u32) -> Result<RetentionReport> {
        if days == 0 {
            return Err(Error::Invalid("retention must be at least 1 day".into()));
        }
        let cutoff = types::now_ms().saturating_sub(i64::from(days) * MS_PER_DAY);
        self.delete_before(tenant, cutoff).await
    }

    /// Deletes the tenant's interval rows and device values with timestamp < `cutoff_ms`.
    pub async fn delete_before(&self, tenant: TenantId, cutoff_ms: i64) -> Result<RetentionReport> {
        on!(self, b => b.delete_before(tenant, cutoff_ms).await)
    }

    /// Applies every tenant's configured retention ([`Store::set_retention`]);
    /// returns what was deleted per tenant.
    pub async fn apply_configured_retention(&self) -> Result<Vec<(TenantId, RetentionReport)>> {
        let mut out = Vec::new();
        for t in self.list_tenants().await? {
            if let Some(days) = t.retention_days {
                out.push((t.id, self.apply_retention(t.id, days).await?));
            }
        }
        Ok(out)
    }

    // ---- keys ----------------------------------------------------------------

    /// Creates an API key for the tenant, optionally limited to one machine. The
    /// returned secret is not stored and cannot be shown again.
    pub async fn create_key(
        &self,
        tenant: TenantId,
        machine: Option<MachineId>,
        label: &str,
    ) -> Result<NewKey> {
        on!(self, b => b.create_key(tenant, machine, label).await)
    }

    /// The tenant's keys (prefixes and metadata, never secrets).
    pub async fn list_keys(&self, tenant: TenantId) -> Result<Vec<KeyInfo>> {
        on!(self, b => b.list_keys(tenant).await)
    }

    /// Revokes a key of the tenant; false if there is no such live key.
    pub async fn revoke_key(&self, tenant: TenantId, key: KeyId) -> Result<bool> {
        on!(self, b => b.revoke_key(tenant, key).await)
    }

    /// Who a presented key speaks for: `None` for an unknown, malformed or revoked key.
    /// The hash comparison takes constant time; the key's last-used time is recorded.
    pub async fn verify_key(&self, presented: &str) -> Result<Option<KeyAuth>> {
        on!(self, b => b.verify_key(presented).await)
    }

    // ---- users ---------------------------------------------------------------

    /// Creates a user of the tenant with an argon2id hash of `password`.
    pub async fn create_user(
        &self,
        tenant: TenantId,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User> {
        let email = email.trim();
        if email.is_empty() || !email.contains('@') || email.len() > 320 {
            return Err(Error::Invalid(format!("not an e-mail address: {email:?}")));
        }
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || secret::hash_password(&password))
            .await
            .map_err(|e| Error::Task(e.to_string()))??;
        on!(self, b => b.create_user(tenant, email, &hash, role).await)
    }

    /// The user if `password` is theirs; `None` otherwise (the same time is spent
    /// whether or not the user exists).
    pub async fn verify_password(
        &self,
        tenant: TenantId,
        email: &str,
        password: &str,
    ) -> Result<Option<User>> {
        let found = on!(self, b => b.user_with_hash(tenant, email.trim()).await)?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || match found {
            Some((user, hash)) => secret::verify_password(&password, &hash).then_some(user),
            None => {
                secret::dummy_verify(&password);
                None
            }
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))
    }

    /// The tenant's users, by e-mail.
    pub async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>> {
        on!(self, b => b.list_users(tenant).await)
    }

    // ---- uploads and audit ---------------------------------------------------

    /// Records an upload; returns its id.
    pub async fn record_upload(&self, tenant: TenantId, upload: &NewUpload) -> Result<i64> {
        on!(self, b => b.record_upload(tenant, upload).await)
    }

    /// The tenant's latest uploads, newest first.
    pub async fn list_uploads(&self, tenant: TenantId, limit: u32) -> Result<Vec<Upload>> {
        on!(self, b => b.list_uploads(tenant, limit).await)
    }

    /// Appends to the tenant's audit log. Never put a secret in `detail`.
    pub async fn audit(
        &self,
        tenant: TenantId,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        on!(self, b => b.audit(tenant, actor, action, detail).await)
    }

    /// The tenant's latest audit entries, newest first.
    pub async fn list_audit(&self, tenant: TenantId, limit: u32) -> Result<Vec<AuditEntry>> {
        on!(self, b => b.list_audit(tenant, limit).await)
    }

    /// Bytes the data takes: the SQLite file's pages in use, or the PostgreSQL tables
    /// with their indexes and TOAST (`pg_total_relation_size`).
    pub async fn size_bytes(&self) -> Result<u64> {
        on!(self, b => b.size_bytes().await)
    }
}

/// Runs reads on several connections to the end, then returns their results or the
/// first error. Unlike `try_join_all`, a failed read does not drop the others
/// midway: a COPY or query abandoned mid-stream leaves its connection
/// mid-protocol for the pool's next user.
async fn join_all_reads<T>(
    reads: impl IntoIterator<Item = impl std::future::Future<Output = Result<T>>>,
) -> Result<Vec<T>> {
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect()
}

fn check_name(what: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "{what} must be 1 to 255 printable characters: {name:?}"
        )));
    }
    Ok(())
}

/// Appends each part column to its column ([`compute::append_column`]).
fn append_columns<'a>(cols: impl Iterator<Item = &'a mut Vec<f64>>, part: Vec<(Metric, Vec<f64>)>) {
    for (all, (_, v)) in cols.zip(part) {
        compute::append_column(all, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}

    /// The server calls the store from axum handlers: the futures must be `Send`.
    #[allow(dead_code)]
    fn futures_are_send(s: &Store, rows: &[IntervalRow], devices: &[DeviceRow]) {
        send_sync::<Store>();
        let (t, m) = (TenantId(1), MachineId(1));
        send(&s.ingest(t, m, rows, devices));
        send(&s.rows(t, m, 0, 1));
        send(&s.summary(t, m, 0, 1));
        send(&s.fleet(t, Metric::Load1, 0, 1));
        send(&s.downsample(t, m, Metric::Load1, 0, 1, 10));
        send(&s.verify_key("k"));
        send(&s.verify_password(t, "e", "p"));
        send(&s.create_key(t, None, ""));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/perf"),
            "postgres://app:***@db:5432/perf"
        );
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
