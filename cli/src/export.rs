//! `perfan export`: a machine's stored intervals as our CSV, JSON or portal CSV.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use perfcore::csv::ours::WideWriter;
use perfcore::csv::portal::{PortalRow, PortalWriter};
use perfcore::metrics::{IntervalRow, Metric};
use perfcore::time::{format_rfc3339_ms, parse_time_ms};
use serde_json::json;

use crate::db::{self, DbArgs, TenantArg};

/// Arguments of `perfan export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    tenant: TenantArg,
    /// The machine's id string.
    #[arg(long, value_name = "MACHINE")]
    machine: String,
    /// First time to export (inclusive): RFC 3339 (`2026-01-07T19:10:21Z`) or unix seconds.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// End of the export (exclusive): RFC 3339 or unix seconds.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// `csv`: our wide CSV; `json`: a JSON array of row objects; `portal`: the portal
    /// upload CSV, exactly (unix-second timestamps).
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Our wide CSV (docs/csv-schema.md).
    Csv,
    /// A JSON array, one object per row.
    Json,
    /// The portal upload CSV.
    Portal,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Portal => "portal",
        }
    }
}

fn time_arg(s: Option<&str>, flag: &str, default: i64) -> Result<i64> {
    match s {
        None => Ok(default),
        Some(t) => parse_time_ms(t).with_context(|| format!("--{flag}")),
    }
}

pub fn run(args: Args) -> Result<()> {
    let from = time_arg(args.from.as_deref(), "from", i64::MIN)?;
    let to = time_arg(args.to.as_deref(), "to", i64::MAX)?;
    if from >= to {
        bail!("--from must be before --to");
    }
    let rt = db::runtime()?;
    let rows = rt.block_on(async {
        let store = db::open(&args.db).await?;
        let result = async {
            let t = db::tenant(&store, &args.tenant.tenant).await?;
            let Some(m) = store.machine(t.id, &args.machine).await? else {
                bail!(
                    "no machine {:?} in tenant {:?} (see: perfan admin machine list)",
                    args.machine,
                    t.name
                );
            };
            let rows = store.rows(t.id, m.id, from, to).await?;
            store
                .audit(
                    t.id,
                    &db::actor(),
                    "export",
                    &json!({ "machine": args.machine, "format": args.format.name(),
                             "from_ms": (from != i64::MIN).then_some(from),
                             "to_ms": (to != i64::MAX).then_some(to), "rows": rows.len() }),
                )
                .await?;
            Ok(rows)
        }
        .await;
        store.close().await;
        result
    })?;
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let out = BufWriter::with_capacity(1 << 20, out);
    let what = args
        .output
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "standard output".into());
    match write(out, &rows, &args.machine, args.format) {
        // `perfan export ... | head`: the reader left; not an error.
        Err(e) if broken_pipe(&e) => return Ok(()),
        r => r.with_context(|| format!("writing {what}"))?,
    }
    if args.output.is_some() {
        eprintln!("perfan: exported {} rows to {what}", rows.len());
    }
    Ok(())
}

fn write(out: impl Write, rows: &[IntervalRow], machine: &str, format: Format) -> Result<()> {
    match format {
        Format::Csv => {
            let mut w = WideWriter::new(out)?;
            for r in rows {
                w.write(machine, r)?;
            }
            w.finish()?;
        }
        Format::Portal => {
            let mut w = PortalWriter::new(out)?;
            for r in rows {
                w.write(&PortalRow::from_row(r))?;
            }
            w.finish()?;
        }
        Format::Json => {
            // Written by hand to keep the columns in schema order (a serde_json map
            // would sort them).
            let mut out = out;
            let machine = serde_json::to_string(machine)?;
            out.write_all(b"[")?;
            let mut line = String::with_capacity(2048);
            for (i, r) in rows.iter().enumerate() {
                line.clear();
                line.push_str(if i == 0 { "\n{" } else { ",\n{" });
                line.push_str("\"timestamp\":\"");
                line.push_str(&format_rfc3339_ms(r.timestamp_ms));
                line.push_str("\",\"timestamp_ms\":");
                line.push_str(&r.timestamp_ms.to_string());
                line.push_str(",\"machine_id\":");
                line.push_str(&machine);
                line.push_str(",\"interval_s\":");
                push_json_number(&mut line, Some(r.elapsed_s));
                for m in Metric::ALL {
                    line.push_str(",\"");
                    line.push_str(m.name());
                    line.push_str("\":");
                    push_json_number(&mut line, r.get(*m));
                }
                line.push('}');
                out.write_all(line.as_bytes())?;
            }
            out.write_all(if rows.is_empty() { b"]\n" } else { b"\n]\n" })?;
            out.flush()?;
        }
    }
    Ok(())
}

/// A JSON number (shortest round-trip digits) or `null`.
fn push_json_number(out: &mut String, v: Option<f64>) {
    match v {
        Some(v) if v.is_finite() => perfcore::csv::push_number(out, v),
        _ => out.push_str("null"),
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
