//! Bulk reads of a SQLite store through rusqlite: interval rows and metric columns.
//!
//! sqlx's SQLite driver steps statements on a worker thread, copies every value out
//! of the statement (`sqlite3_value_dup`) and hands rows to the async side one by one:
//! about 4 µs per 30-value row, which bounds a 7-day export (60,480 rows) to 0.4 s
//! and a million-row summary to seconds. These reads instead run a plain step loop
//! on a read-only connection to the same file (WAL: it sees every committed
//! transaction, like another pool connection would), on a blocking thread. The SQLite
//! library is the one sqlx links (the same `libsqlite3-sys`).
//!
//! In-memory databases have no file to open a second connection on; they keep the
//! sqlx path.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use perfcore::metrics::{IntervalRow, Metric};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::compute;
use crate::error::{Error, Result};
use crate::types::{Columns, MachineId, TenantId};

/// Read connections kept open between reads at most (one per part of a split read).
const IDLE_MAX: usize = 4;
/// Bytes of the store file a read connection maps at most.
const MMAP_BYTES: i64 = 1 << 31;
/// Prepared statements kept per read connection.
const STATEMENTS: usize = 32;

/// Read-only rusqlite connections to one store file, opened on demand and reused.
pub(crate) struct BulkReader {
    path: PathBuf,
    cache_kib: u32,
    idle: Mutex<Vec<Connection>>,
}

fn err(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| Error::Read { context, source }
}

/// A REAL column's value (an integer stored in it is read as a float).
fn opt_f64(v: ValueRef<'_>, what: &'static str) -> Result<Option<f64>> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Real(f) => Ok(Some(f)),
        ValueRef::Integer(i) => Ok(Some(i as f64)),
        ValueRef::Text(_) | ValueRef::Blob(_) => {
            Err(Error::Invalid(format!("stored {what} is not a number")))
        }
    }
}

fn int(v: ValueRef<'_>, what: &'static str) -> Result<i64> {
    match v {
        ValueRef::Integer(i) => Ok(i),
        _ => Err(Error::Invalid(format!("stored {what} is not an integer"))),
    }
}

/// `SELECT <lead><columns> FROM interval_metrics WHERE <machine and range>`, the
/// parameters numbered ?1 to ?4 (tenant, machine, from, to); used by the sqlx
/// path of in-memory stores too.
pub(crate) fn select(lead: &str, metrics: &[Metric], order: bool) -> String {
    let sep = if lead.is_empty() || metrics.is_empty() {
        ""
    } else {
        ", "
    };
    format!(
        "SELECT {lead}{sep}{} FROM interval_metrics \
         WHERE tenant_id = ?1 AND machine_id = ?2 AND ts_ms >= ?3 AND ts_ms < ?4{}",
        compute::column_list(metrics),
        if order { " ORDER BY ts_ms" } else { "" }
    )
}

impl BulkReader {
    /// A reader of the store file at `path`.
    pub(crate) fn new(path: PathBuf, cache_kib: u32) -> BulkReader {
        BulkReader {
            path,
            cache_kib,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Result<Connection> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err("opening the store file for reading"))?;
        c.busy_timeout(Duration::from_secs(30))
            .map_err(err("setting the busy timeout"))?;
        c.pragma_update(None, "cache_size", format!("-{}", self.cache_kib))
            .map_err(err("setting the page cache"))?;
        // Memory-mapped reads: a summary reads hundreds of MB of blocks, and mapped
        // pages need no read() per page. SQLite caps the mapping at its compile-time
        // maximum (2 GB); pages beyond it, and pages still in the WAL, are read as
        // before. These connections never write, so no mapped page is ever changed
        // through them.
        c.pragma_update(None, "mmap_size", MMAP_BYTES)
            .map_err(err("mapping the store file"))?;
        c.set_prepared_statement_cache_capacity(STATEMENTS);
        Ok(c)
    }

    /// Closes the idle connections (one in use closes when its read ends).
    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    fn put(&self, c: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_MAX
        {
            idle.push(c);
        }
    }
}

/// A shared reader, cloned into blocking tasks.
pub(crate) type SharedReader = std::sync::Arc<BulkReader>;

/// Runs `f` with one of the reader's connections on a blocking thread.
async fn run<T, F>(reader: &SharedReader, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    let reader = reader.clone();
    tokio::task::spawn_blocking(move || {
        let c = reader.take()?;
        let out = f(&c);
        // A connection whose read failed may be mid-statement: drop it.
        if out.is_ok() {
            reader.put(c);
        }
        out
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
}

/// Runs `text` for the machine and range, calling `each` on every row.
fn each_row(
    c: &Connection,
    text: &str,
    (tenant, machine, from_ms, to_ms): (TenantId, MachineId, i64, i64),
    what: &'static str,
    mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<()>,
) -> Result<()> {
    let mut stmt = c.prepare_cached(text).map_err(err(what))?;
    let mut q = stmt
        .query((tenant.0, machine.0, from_ms, to_ms))
        .map_err(err(what))?;
    while let Some(r) = q.next().map_err(err(what))? {
        each(r)?;
    }
    Ok(())
}

/// Rows in `[from_ms, to_ms)` with the `present` metrics read (the others `None`).
pub(crate) async fn rows(
    reader: &SharedReader,
    tenant: TenantId,
    machine: MachineId,
    present: &[Metric],
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<IntervalRow>> {
    let present = present.to_vec();
    run(reader, move |c| {
        let mut out = Vec::new();
        let text = select("ts_ms, interval_s", &present, true);
        let range = (tenant, machine, from_ms, to_ms);
        each_row(c, &text, range, "reading interval rows", |r| {
            let ts = int(r.get_ref(0).map_err(err("ts_ms"))?, "ts_ms")?;
            let elapsed = opt_f64(r.get_ref(1).map_err(err("interval_s"))?, "interval_s")?
                .ok_or_else(|| Error::Invalid("stored interval_s is NULL".into()))?;
            let mut row = IntervalRow::new(ts, elapsed);
            for (i, m) in present.iter().enumerate() {
                row.values[m.index()] =
                    opt_f64(r.get_ref(i + 2).map_err(err("a metric column"))?, m.name())?;
            }
            out.push(row);
            Ok(())
        })?;
        Ok(out)
    })
    .await
}

/// Some metrics of a machine as columns (with `None` where a row had no value).
pub(crate) async fn columns(
    reader: &SharedReader,
    tenant: TenantId,
    machine: MachineId,
    metrics: &[Metric],
    from_ms: i64,
    to_ms: i64,
) -> Result<Columns> {
    let metrics = metrics.to_vec();
    run(reader, move |c| {
        let mut out = Columns {
            timestamps_ms: Vec::new(),
            values: vec![Vec::new(); metrics.len()],
        };
        let text = select("ts_ms", &metrics, true);
        let range = (tenant, machine, from_ms, to_ms);
        each_row(c, &text, range, "reading columns", |r| {
            out.timestamps_ms
                .push(int(r.get_ref(0).map_err(err("ts_ms"))?, "ts_ms")?);
            for (i, (col, m)) in out.values.iter_mut().zip(&metrics).enumerate() {
                col.push(opt_f64(
                    r.get_ref(i + 1).map_err(err("a metric column"))?,
                    m.name(),
                )?);
            }
            Ok(())
        })?;
        Ok(out)
    })
    .await
}

/// Non-null values of each metric, for statistics.
pub(crate) async fn dense_columns(
    reader: &SharedReader,
    tenant: TenantId,
    machine: MachineId,
    metrics: &[Metric],
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(Metric, Vec<f64>)>> {
    if metrics.is_empty() {
        return Ok(Vec::new());
    }
    let metrics = metrics.to_vec();
    run(reader, move |c| {
        let mut out: Vec<(Metric, Vec<f64>)> = metrics.iter().map(|m| (*m, Vec::new())).collect();
        let text = select("", &metrics, false);
        let range = (tenant, machine, from_ms, to_ms);
        each_row(c, &text, range, "reading columns", |r| {
            for (i, (m, col)) in out.iter_mut().enumerate() {
                if let Some(v) = opt_f64(r.get_ref(i).map_err(err("a metric column"))?, m.name())? {
                    col.push(v);
                }
            }
            Ok(())
        })?;
        Ok(out)
    })
    .await
}

/// `SELECT` of the spans inside `[?3, ?4)` joined with the blocks of `metrics`, the
/// parameters numbered like [`select`]'s; shared with the sqlx path.
pub(crate) fn select_blocks(metrics: &[Metric]) -> String {
    let names: Vec<String> = metrics.iter().map(|m| format!("'{}'", m.name())).collect();
    format!(
        "SELECT s.first_ms, s.last_ms, s.row_count, b.metric, b.value_count, b.sorted_values \
         FROM block_spans s LEFT JOIN metric_blocks b ON b.tenant_id = s.tenant_id \
         AND b.machine_id = s.machine_id AND b.last_ms = s.last_ms AND b.metric IN ({}) \
         WHERE s.tenant_id = ?1 AND s.machine_id = ?2 AND s.last_ms >= ?3 AND s.last_ms < ?4 \
         AND s.first_ms >= ?3 ORDER BY s.last_ms",
        if names.is_empty() {
            "''".to_owned()
        } else {
            names.join(", ")
        }
    )
}

/// Adds one row of [`select_blocks`] to the spans and runs: the span when it is new,
/// the metric's sorted values to that metric's runs.
pub(crate) fn add_block(
    spans: &mut Vec<compute::Span>,
    runs: &mut [compute::FlatRuns],
    metrics: &[Metric],
    span: compute::Span,
    block: Option<(&str, i64, &[u8])>,
) -> Result<()> {
    if spans.last() != Some(&span) {
        spans.push(span);
    }
    if let Some((name, count, bytes)) = block
        && let Some(i) = metrics.iter().position(|m| m.name() == name)
    {
        runs[i].push(bytes, count)?;
    }
    Ok(())
}

/// The compacted spans of a machine inside `[from_ms, to_ms)` and, per metric, the
/// sorted values of those spans, decoded into `bufs` (reused).
pub(crate) async fn block_runs(
    reader: &SharedReader,
    tenant: TenantId,
    machine: MachineId,
    metrics: &[Metric],
    (from_ms, to_ms): (i64, i64),
    bufs: Vec<compute::FlatRuns>,
) -> Result<compute::BlockRuns> {
    let metrics = metrics.to_vec();
    run(reader, move |c| {
        let mut spans = Vec::new();
        let mut runs = compute::reuse(bufs, metrics.len());
        let text = select_blocks(&metrics);
        let range = (tenant, machine, from_ms, to_ms);
        each_row(c, &text, range, "reading summary blocks", |r| {
            let span = compute::Span {
                first_ms: int(r.get_ref(0).map_err(err("first_ms"))?, "first_ms")?,
                last_ms: int(r.get_ref(1).map_err(err("last_ms"))?, "last_ms")?,
                rows: int(r.get_ref(2).map_err(err("row_count"))?, "row_count")?,
            };
            let block = match r.get_ref(3).map_err(err("metric"))? {
                ValueRef::Null => None,
                ValueRef::Text(name) => Some((
                    std::str::from_utf8(name)
                        .map_err(|_| Error::Invalid("stored block metric is not text".into()))?,
                    int(r.get_ref(4).map_err(err("value_count"))?, "value_count")?,
                    match r.get_ref(5).map_err(err("sorted_values"))? {
                        ValueRef::Blob(b) => b,
                        _ => {
                            return Err(Error::Invalid(
                                "stored block values are not a blob".into(),
                            ));
                        }
                    },
                )),
                _ => return Err(Error::Invalid("stored block metric is not text".into())),
            };
            add_block(&mut spans, &mut runs, &metrics, span, block)
        })?;
        Ok((spans, runs))
    })
    .await
}

/// The timestamps of a machine's rows in `[from_ms, to_ms)`, ascending.
pub(crate) async fn timestamps(
    reader: &SharedReader,
    tenant: TenantId,
    machine: MachineId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<i64>> {
    run(reader, move |c| {
        let mut out = Vec::new();
        let text = select("ts_ms", &[], true);
        let range = (tenant, machine, from_ms, to_ms);
        each_row(c, &text, range, "reading timestamps", |r| {
            out.push(int(r.get_ref(0).map_err(err("ts_ms"))?, "ts_ms")?);
            Ok(())
        })?;
        Ok(out)
    })
    .await
}
