//! `perfan import`: captures (the older collector's NDJSON), our CSV and portal CSV
//! into the store, in batches of one transaction each.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use perfcore::capture::SampleReader;
use perfcore::csv::{Layout, ours, portal};
use perfcore::metrics::{DeviceRow, IntervalRow, MachineFacts, device_rows};
use perfcore::process::{IntervalSink, run as run_pipeline};
use perfcore::rates::Interval;
use perfcore::snapshot::Snapshot;
use perfstore::{IngestReport, Labels, MachineId, NewUpload, Store, TenantId};
use serde_json::json;
use tokio::runtime::Runtime;

use crate::db::{self, DbArgs, TenantArg};

/// Arguments of `perfan import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    tenant: TenantArg,
    /// The machine's id string (registered if new). Required, except for our wide
    /// CSV, whose machine_id column is used when it is not given.
    #[arg(long, value_name = "MACHINE")]
    machine: Option<String>,
    /// Host name to record for the machine.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// What the files are (`auto` looks at the first line).
    #[arg(long, value_enum, default_value_t = Kind::Auto)]
    format: Kind,
    /// Interval rows per transaction.
    #[arg(long, value_name = "ROWS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Files to import.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// Tell from the first line.
    Auto,
    /// The older collector's NDJSON capture.
    Capture,
    /// Our CSV (wide intervals or long per-device file).
    Csv,
    /// The portal upload CSV.
    Portal,
}

/// What one file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Capture,
    Wide,
    Long,
    Portal,
}

impl FileKind {
    fn name(self) -> &'static str {
        match self {
            FileKind::Capture => "capture",
            FileKind::Wide => "csv",
            FileKind::Long => "csv-devices",
            FileKind::Portal => "portal",
        }
    }
}

fn first_line(path: &Path) -> Result<String> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = BufReader::new(f);
    let mut line = String::new();
    loop {
        line.clear();
        let n = r
            .read_line(&mut line)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 || !line.trim().is_empty() {
            return Ok(line.trim().trim_start_matches('\u{feff}').to_owned());
        }
    }
}

fn detect(path: &Path, asked: Kind) -> Result<FileKind> {
    let line = first_line(path)?;
    let layout = perfcore::csv::detect(&line);
    let kind = match (asked, layout) {
        (Kind::Auto | Kind::Capture, _) if perfcore::capture::looks_like_record(&line) => {
            FileKind::Capture
        }
        (Kind::Capture, _) => bail!(
            "{}: not a capture (the first line is not a capture record)",
            path.display()
        ),
        (Kind::Auto | Kind::Csv, Some(Layout::OursWide)) => FileKind::Wide,
        (Kind::Auto | Kind::Csv, Some(Layout::OursLong)) => FileKind::Long,
        (Kind::Auto | Kind::Portal, Some(Layout::Portal)) => FileKind::Portal,
        (_, Some(Layout::Pcprocess(_))) => bail!(
            "{}: a per-subsystem file of the older processor; import the capture it was made from instead",
            path.display()
        ),
        (Kind::Auto, _) if line.is_empty() => bail!("{}: empty file", path.display()),
        _ => bail!(
            "{}: not a capture, our CSV or a portal CSV (first line: {:?})",
            path.display(),
            line.chars().take(80).collect::<String>()
        ),
    };
    Ok(kind)
}

/// Per-device values stored per transaction at most.
const MAX_DEVICE_BATCH: usize = 200_000;

/// Counts bytes read into a progress bar.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn progress(len: u64, what: &str) -> ProgressBar {
    if !db::interactive() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Everything one import run needs.
struct Ctx<'a> {
    rt: &'a Runtime,
    store: &'a Store,
    tenant: TenantId,
    batch: usize,
    hostname: Option<String>,
}

impl Ctx<'_> {
    fn machine(&self, key: &str, facts: &MachineFacts) -> Result<MachineId> {
        let m = self
            .rt
            .block_on(self.store.upsert_machine(
                self.tenant,
                key,
                self.hostname.as_deref().or(facts.hostname.as_deref()),
                &Labels::new(),
                facts,
            ))
            .with_context(|| format!("registering machine {key:?}"))?;
        Ok(m.id)
    }

    fn ingest(
        &self,
        machine: MachineId,
        rows: &[IntervalRow],
        devices: &[DeviceRow],
    ) -> Result<IngestReport> {
        Ok(self
            .rt
            .block_on(self.store.ingest(self.tenant, machine, rows, devices))?)
    }
}

/// Batches a capture's intervals into the store.
struct StoreSink<'a, 'b> {
    ctx: &'b Ctx<'a>,
    machine: MachineId,
    rows: Vec<IntervalRow>,
    devices: Vec<DeviceRow>,
    facts: MachineFacts,
    report: IngestReport,
    range: Option<(i64, i64)>,
    failed: Option<anyhow::Error>,
    /// Names of containers by id (`container_names.json` beside the capture).
    container_names: Option<perfcore::container::Names>,
}

impl StoreSink<'_, '_> {
    fn flush(&mut self) -> perfcore::Result<()> {
        if self.rows.is_empty() && self.devices.is_empty() {
            return Ok(());
        }
        match self.ctx.ingest(self.machine, &self.rows, &self.devices) {
            Ok(r) => {
                self.report.add(&r);
                self.rows.clear();
                self.devices.clear();
                Ok(())
            }
            Err(e) => {
                self.failed = Some(e);
                // Stops the pipeline; the store's error is reported instead.
                Err(perfcore::Error::Interval("storing a batch failed".into()))
            }
        }
    }
}

impl IntervalSink for StoreSink<'_, '_> {
    fn sample(&mut self, snap: &Snapshot<'_>) -> perfcore::Result<()> {
        self.facts.update(snap);
        Ok(())
    }

    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> perfcore::Result<()> {
        let row = IntervalRow::from_interval(iv);
        let ts = row.timestamp_ms;
        self.range = Some(self.range.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
        // A row with no value (a container-only capture) would take the
        // (machine, timestamp) slot of the host's row imported later.
        if !row.is_empty() {
            self.rows.push(row);
        }
        let start = self.devices.len();
        self.devices.extend(device_rows(iv));
        if let Some(names) = &self.container_names {
            perfcore::container::name_rows(&mut self.devices[start..], names);
        }
        // Per-device values are ~100 per interval: bound the memory they take too.
        if self.rows.len() >= self.ctx.batch || self.devices.len() >= MAX_DEVICE_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> perfcore::Result<()> {
        self.flush()
    }
}

/// One machine of a file: its id string, id, what was stored and the time range.
type MachineImport = (String, MachineId, IngestReport, Option<(i64, i64)>);

/// The result of one file.
struct Imported {
    /// Each machine of the file and what was stored for it.
    machines: Vec<MachineImport>,
    report: IngestReport,
    range: Option<(i64, i64)>,
}

fn import_capture(ctx: &Ctx<'_>, path: &Path, machine: &str) -> Result<Imported> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress(len, &path.display().to_string());
    let reader = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: f,
            bar: bar.clone(),
        },
    );
    let id = ctx.machine(machine, &MachineFacts::default())?;
    let mut sink = StoreSink {
        ctx,
        machine: id,
        rows: Vec::with_capacity(ctx.batch),
        devices: Vec::new(),
        facts: MachineFacts::default(),
        report: IngestReport::default(),
        range: None,
        failed: None,
        container_names: container_names_beside(path)?,
    };
    let result = run_pipeline(SampleReader::new(reader), &mut sink);
    bar.finish_and_clear();
    if let Some(e) = sink.failed.take() {
        return Err(e.context(format!("importing {}", path.display())));
    }
    result.with_context(|| format!("reading {}", path.display()))?;
    ctx.machine(machine, &sink.facts)?;
    Ok(Imported {
        machines: vec![(machine.to_owned(), id, sink.report, sink.range)],
        report: sink.report,
        range: sink.range,
    })
}

/// The container names the older tools kept beside a capture, if any
/// (`container_names.json`, else `system_info/docker_ps.txt`).
pub(crate) fn container_names_beside(path: &Path) -> Result<Option<perfcore::container::Names>> {
    match path.parent() {
        Some(dir) => perfcore::container::names_in_dir(dir)
            .with_context(|| format!("reading the container names beside {}", path.display())),
        None => Ok(None),
    }
}

fn range_of(rows: &[IntervalRow]) -> Option<(i64, i64)> {
    let lo = rows.iter().map(|r| r.timestamp_ms).min()?;
    let hi = rows.iter().map(|r| r.timestamp_ms).max()?;
    Some((lo, hi))
}

fn ingest_rows(
    ctx: &Ctx<'_>,
    machine: &str,
    rows: &[IntervalRow],
    devices: &[DeviceRow],
    bar: &ProgressBar,
) -> Result<(MachineId, IngestReport)> {
    let id = ctx.machine(machine, &MachineFacts::default())?;
    let mut report = IngestReport::default();
    for chunk in rows.chunks(ctx.batch) {
        report.add(&ctx.ingest(id, chunk, &[])?);
        bar.inc(chunk.len() as u64);
    }
    for chunk in devices.chunks(MAX_DEVICE_BATCH) {
        report.add(&ctx.ingest(id, &[], chunk)?);
        bar.inc(chunk.len() as u64);
    }
    Ok((id, report))
}

fn row_bar(n: usize, path: &Path) -> ProgressBar {
    if !db::interactive() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30.cyan/blue}] {pos}/{len} rows eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(path.display().to_string());
    bar
}

fn import_wide(ctx: &Ctx<'_>, path: &Path, machine: Option<&str>) -> Result<Imported> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let records = ours::read_wide(BufReader::with_capacity(1 << 20, f))
        .with_context(|| format!("reading {}", path.display()))?;
    // Rows per machine, in file order.
    let mut by_machine: Vec<(String, Vec<IntervalRow>)> = Vec::new();
    for (i, rec) in records.into_iter().enumerate() {
        let key = match machine {
            Some(m) => m.to_owned(),
            None if rec.machine_id.is_empty() => bail!(
                "{}: line {}: empty machine_id; pass --machine",
                path.display(),
                i + 2
            ),
            None => rec.machine_id,
        };
        match by_machine.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(rec.row),
            None => by_machine.push((key, vec![rec.row])),
        }
    }
    let total: usize = by_machine.iter().map(|(_, r)| r.len()).sum();
    let bar = row_bar(total, path);
    let mut out = Imported {
        machines: Vec::new(),
        report: IngestReport::default(),
        range: None,
    };
    for (key, rows) in &by_machine {
        let (id, r) = ingest_rows(ctx, key, rows, &[], &bar)
            .with_context(|| format!("importing {}", path.display()))?;
        out.report.add(&r);
        out.machines.push((key.clone(), id, r, range_of(rows)));
        out.range = merge(out.range, range_of(rows));
    }
    bar.finish_and_clear();
    Ok(out)
}

fn merge(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Turns the records of our long CSV into [`DeviceRow`]s, which name their metric
/// with a `&'static str`: each distinct name is interned (leaked) once, and a
/// process reads only a few.
#[derive(Default)]
pub(crate) struct MetricNames(HashMap<String, &'static str>);

impl MetricNames {
    /// The device row of a record.
    pub(crate) fn row(&mut self, r: ours::LongRecord) -> DeviceRow {
        let metric = match self.0.get(&r.metric) {
            Some(m) => *m,
            None => {
                let m: &'static str = Box::leak(r.metric.clone().into_boxed_str());
                self.0.insert(r.metric, m);
                m
            }
        };
        DeviceRow {
            timestamp_ms: r.timestamp_ms,
            kind: r.kind,
            device: r.device,
            metric,
            value: r.value,
        }
    }
}

fn import_long(ctx: &Ctx<'_>, path: &Path, machine: Option<&str>) -> Result<Imported> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let records = ours::read_long(BufReader::with_capacity(1 << 20, f))
        .with_context(|| format!("reading {}", path.display()))?;
    let mut names = MetricNames::default();
    let mut by_machine: Vec<(String, Vec<DeviceRow>)> = Vec::new();
    for (i, mut rec) in records.into_iter().enumerate() {
        let key = match machine {
            Some(m) => m.to_owned(),
            None if rec.machine_id.is_empty() => bail!(
                "{}: line {}: empty machine_id; pass --machine",
                path.display(),
                i + 2
            ),
            None => std::mem::take(&mut rec.machine_id),
        };
        let row = names.row(rec);
        match by_machine.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(row),
            None => by_machine.push((key, vec![row])),
        }
    }
    let total: usize = by_machine.iter().map(|(_, r)| r.len()).sum();
    let bar = row_bar(total, path);
    let mut out = Imported {
        machines: Vec::new(),
        report: IngestReport::default(),
        range: None,
    };
    for (key, devices) in &by_machine {
        let (id, r) = ingest_rows(ctx, key, &[], devices, &bar)
            .with_context(|| format!("importing {}", path.display()))?;
        out.report.add(&r);
        let lo = devices.iter().map(|d| d.timestamp_ms).min();
        let hi = devices.iter().map(|d| d.timestamp_ms).max();
        out.machines.push((key.clone(), id, r, lo.zip(hi)));
        out.range = merge(out.range, lo.zip(hi));
    }
    bar.finish_and_clear();
    Ok(out)
}

fn import_portal(ctx: &Ctx<'_>, path: &Path, machine: &str) -> Result<Imported> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let records = portal::read(BufReader::with_capacity(1 << 20, f))
        .with_context(|| format!("reading {}", path.display()))?;
    let mut rows: Vec<IntervalRow> = records.iter().map(portal::PortalRow::to_row).collect();
    // The portal file has no interval length: take it from the spacing of the rows
    // (the first row gets its successor's).
    for i in 0..rows.len() {
        let gap = if i > 0 {
            rows[i].timestamp_ms - rows[i - 1].timestamp_ms
        } else if rows.len() > 1 {
            rows[1].timestamp_ms - rows[0].timestamp_ms
        } else {
            0
        };
        rows[i].elapsed_s = if gap > 0 { gap as f64 / 1000.0 } else { 0.0 };
    }
    let bar = row_bar(rows.len(), path);
    let (id, report) = ingest_rows(ctx, machine, &rows, &[], &bar)
        .with_context(|| format!("importing {}", path.display()))?;
    bar.finish_and_clear();
    Ok(Imported {
        machines: vec![(machine.to_owned(), id, report, range_of(&rows))],
        report,
        range: range_of(&rows),
    })
}

pub fn run(args: Args) -> Result<()> {
    let rt = db::runtime()?;
    let store = rt.block_on(db::open(&args.db))?;
    let result = run_with(&rt, &store, &args);
    rt.block_on(store.close());
    result
}

fn run_with(rt: &Runtime, store: &Store, args: &Args) -> Result<()> {
    let tenant = rt.block_on(db::tenant(store, &args.tenant.tenant))?;
    // Check every file's kind (and the --machine it needs) before storing anything.
    let mut plan = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let kind = detect(path, args.format)?;
        if args.machine.is_none() && matches!(kind, FileKind::Capture | FileKind::Portal) {
            bail!(
                "{}: a {} names no machine: pass --machine MACHINE",
                path.display(),
                kind.name()
            );
        }
        plan.push((path, kind));
    }
    let ctx = Ctx {
        rt,
        store,
        tenant: tenant.id,
        batch: args.batch as usize,
        hostname: args.hostname.clone(),
    };
    let machine = args.machine.as_deref();
    let mut total = IngestReport::default();
    let actor = db::actor();
    let mut stored_to: Vec<perfstore::MachineId> = Vec::new();
    for (path, kind) in plan {
        let done = match kind {
            FileKind::Capture => import_capture(&ctx, path, need(machine)?)?,
            FileKind::Wide => import_wide(&ctx, path, machine)?,
            FileKind::Long => import_long(&ctx, path, machine)?,
            FileKind::Portal => import_portal(&ctx, path, need(machine)?)?,
        };
        let r = done.report;
        total.add(&r);
        let source = path.display().to_string();
        // One upload record per machine of the file, with that machine's counts.
        for (key, id, mr, range) in &done.machines {
            if mr.stored > 0 && !stored_to.contains(id) {
                stored_to.push(*id);
            }
            let mut u = NewUpload::new(source.clone(), kind.name());
            u.machine = Some(*id);
            u.rows_stored = mr.stored;
            u.rows_present = mr.already_present;
            u.time_range_ms = *range;
            rt.block_on(store.record_upload(tenant.id, &u))?;
            rt.block_on(store.audit(
                tenant.id,
                &actor,
                "import",
                &json!({ "file": source, "format": kind.name(), "machine": key,
                         "rows_stored": mr.stored, "rows_present": mr.already_present }),
            ))?;
        }
        let devices = if r.devices_stored + r.devices_already_present > 0 {
            format!(
                " ({} device values stored, {} already present)",
                r.devices_stored, r.devices_already_present
            )
        } else {
            String::new()
        };
        eprintln!(
            "perfan: {source} ({}): stored {} rows, {} already present{devices}",
            kind.name(),
            r.stored,
            r.already_present
        );
    }
    // The imported rows in the sorted blocks summaries read (each machine's last
    // block may be short; the next compaction with newer rows builds it again).
    let mut blocks = 0;
    for id in stored_to {
        blocks += rt
            .block_on(store.compact(tenant.id, id))
            .context("compacting the imported rows")?
            .blocks;
    }
    if blocks > 0 {
        eprintln!("perfan: compacted the rows into {blocks} summary blocks");
    }
    eprintln!(
        "perfan: stored {} rows, {} already present",
        total.stored, total.already_present
    );
    Ok(())
}

fn need(machine: Option<&str>) -> Result<&str> {
    machine.ok_or_else(|| anyhow!("--machine is required"))
}
