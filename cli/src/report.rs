//! `perfan report`: series -> one self-contained HTML page (+ PNG charts, JSON summary).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use perfreport::{MachineSeries, ReportOptions};

/// Arguments of `perfan report`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
perfan report --input pcc_collection.json -o report.html\n  \
perfan report --input out/intervals.csv --input out/devices.csv -o report.html --png charts/ --json summary.json\n  \
perfan report --input web1.json --input web2.json -o fleet.html      (several machines: a comparison page)")]
pub struct Args {
    /// A capture (NDJSON), a CSV file (ours wide or long, portal) or a directory
    /// (our CSV output, or the older per-subsystem CSV files). Repeat for several
    /// machines; parts with the same machine id are merged. `-` reads stdin.
    #[arg(long, short, value_name = "FILE_OR_DIR")]
    input: Vec<String>,
    /// The HTML file to write.
    #[arg(long, short, value_name = "FILE", default_value = "report.html")]
    output: PathBuf,
    /// Also write one PNG per chart into this directory.
    #[arg(long, value_name = "DIR")]
    png: Option<PathBuf>,
    /// Also write the JSON summary (every statistic and finding) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Machine ids, one per --input in order (default: from the data, else the
    /// file name). With --db: the machines to report on.
    #[arg(long, value_name = "ID")]
    machine: Vec<String>,
    /// Only intervals at or after this time (RFC 3339 or unix seconds).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Only intervals at or before this time (RFC 3339 or unix seconds).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Read from the store (SQLite path, `sqlite://PATH` or `postgres://` URL) instead
    /// of files. This is the default when no --input is given: $PERFAN_DB, else the
    /// embedded store in the user's data directory.
    #[arg(long, value_name = "URL", env = perfstore::DB_ENV, hide_env_values = true)]
    db: Option<String>,
    /// Tenant of the machines in the store.
    #[arg(long, value_name = "TENANT", env = "PERFAN_TENANT", default_value = perfstore::DEFAULT_TENANT)]
    tenant: String,
    /// Title of the page.
    #[arg(long)]
    title: Option<String>,
    /// At most this many disks or interfaces per chart (all are in the tables).
    #[arg(long, value_name = "N", default_value_t = 6)]
    max_devices: usize,
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let from = args
        .from
        .as_deref()
        .map(perfcore::time::parse_time_ms)
        .transpose()
        .context("--from")?;
    let to = args
        .to
        .as_deref()
        .map(perfcore::time::parse_time_ms)
        .transpose()
        .context("--to")?;
    let mut machines = if args.input.is_empty() {
        from_store(&args, from, to)?
    } else {
        if !args.machine.is_empty() && args.machine.len() != args.input.len() {
            bail!(
                "--machine given {} times for {} --input: give one id per input, in order",
                args.machine.len(),
                args.input.len()
            );
        }
        let mut parts = Vec::new();
        let mut default_ids = default_ids(&args.input);
        for (i, input) in args.input.iter().enumerate() {
            let id = args
                .machine
                .get(i)
                .cloned()
                .unwrap_or_else(|| std::mem::take(&mut default_ids[i]));
            let mut got = read_input(input, &id).with_context(|| format!("reading {input}"))?;
            if let Some(name) = args.machine.get(i) {
                for m in &mut got {
                    m.machine_id = name.clone();
                }
            }
            parts.extend(got);
        }
        perfreport::input::merge(parts)
    };
    for m in &mut machines {
        if from.is_some() || to.is_some() {
            m.retain_range(from, to);
        }
    }
    let mut opts = ReportOptions::default();
    opts.title = args.title.clone();
    opts.max_devices_charted = args.max_devices;
    // Statistics of device series the page does not show only matter for --json.
    opts.all_device_statistics = args.json.is_some();
    opts.generated_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as i64);
    let report = perfreport::build(&machines, &opts)?;
    let html = report.html();
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&args.output, &html)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.json())?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    let mut pngs = 0;
    if let Some(dir) = &args.png {
        pngs = report.pngs(dir)?.len();
    }
    let findings = report.findings();
    let rows: u64 = report.machines().iter().map(|m| m.quality.intervals).sum();
    eprintln!(
        "perfan: {} machine{}, {rows} intervals, {} finding{} -> {} ({} KiB){}{} in {:.2} s",
        machines.len(),
        if machines.len() == 1 { "" } else { "s" },
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        args.output.display(),
        html.len() / 1024,
        args.json
            .as_ref()
            .map(|p| format!(", {}", p.display()))
            .unwrap_or_default(),
        args.png
            .as_ref()
            .map(|p| format!(", {pngs} PNG in {}", p.display()))
            .unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    for f in findings {
        eprintln!("  [{}] {}: {}", f.severity.as_str(), f.machine_id, f.title);
    }
    Ok(())
}

/// Reads the machines' series from the store: the `--machine` ids given, else
/// every machine of the tenant with data in the range.
fn from_store(args: &Args, from: Option<i64>, to: Option<i64>) -> Result<Vec<MachineSeries>> {
    use std::collections::HashMap;

    let rt = crate::db::runtime()?;
    rt.block_on(async {
        let db = crate::db::DbArgs {
            db: args.db.clone(),
        };
        let store = crate::db::open(&db).await?;
        let tenant = crate::db::tenant(&store, &args.tenant).await?;
        let all = store.list_machines(tenant.id).await?;
        let chosen: Vec<_> = if args.machine.is_empty() {
            all
        } else {
            let mut v = Vec::new();
            for id in &args.machine {
                match all.iter().find(|m| &m.machine_key == id) {
                    Some(m) => v.push(m.clone()),
                    None => bail!(
                        "no machine {id:?} in tenant {:?} (perfan admin machine list shows them)",
                        args.tenant
                    ),
                }
            }
            v
        };
        let (lo, hi) = (
            from.unwrap_or(i64::MIN),
            to.map(|t| t.saturating_add(1)).unwrap_or(i64::MAX),
        );
        let source = format!(
            "store ({})",
            perfstore::redact_url(&perfstore::resolve_url(args.db.as_deref())?)
        );
        let mut out = Vec::new();
        for m in chosen {
            let rows = store.rows(tenant.id, m.id, lo, hi).await?;
            if rows.is_empty() {
                continue;
            }
            let mut series = MachineSeries::new(m.machine_key.clone());
            // The store keeps rates, not the raw counters: reboots and counter resets
            // were handled at ingest (no rate across them) and are not listed again.
            series.events.sources.push(source.clone());
            series.facts = m.facts.clone();
            if series.facts.hostname.is_none() {
                series.facts.hostname = m.hostname.clone();
            }
            series.rows = rows;
            // Group the long device values into one series per (kind, device, metric).
            let mut index: HashMap<(perfcore::metrics::DeviceKind, String, String), usize> =
                HashMap::new();
            for d in store.devices(tenant.id, m.id, lo, hi).await? {
                let key = (d.kind, d.device, d.metric);
                let i = match index.get(&key) {
                    Some(&i) => i,
                    None => {
                        let (kind, device, metric) = key.clone();
                        series
                            .devices
                            .push(perfreport::DeviceSeries::new(kind, device, metric));
                        index.insert(key, series.devices.len() - 1);
                        series.devices.len() - 1
                    }
                };
                series.devices[i].push(d.timestamp_ms, d.value);
            }
            out.push(series);
        }
        if out.is_empty() {
            bail!(
                "no data in the store for tenant {:?}{} (record some with `perfan record`, \
                 or give --input FILE_OR_DIR)",
                args.tenant,
                if args.machine.is_empty() {
                    String::new()
                } else {
                    format!(" and machine(s) {}", args.machine.join(", "))
                }
            );
        }
        Ok(out)
    })
}

/// A machine id per input: the file name without extension, or the directory
/// name; names alike (`pcc_collection` in two folders) get their folder's name.
fn default_ids(inputs: &[String]) -> Vec<String> {
    let stem = |s: &str| -> String {
        let p = Path::new(s);
        if s == "-" {
            return "stdin".into();
        }
        let name = if p.is_dir() {
            p.file_name()
        } else {
            p.file_stem()
        };
        name.map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "machine".into())
    };
    let parent = |s: &str| -> Option<String> {
        let abs = std::fs::canonicalize(s).ok()?;
        abs.parent()?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    };
    let stems: Vec<String> = inputs.iter().map(|s| stem(s)).collect();
    stems
        .iter()
        .zip(inputs)
        .map(|(st, input)| {
            let generic = [
                "pcc_collection",
                "host_collection",
                "collection",
                "capture",
                "processed",
                "csv",
                "out",
            ]
            .contains(&st.as_str());
            let clash = stems.iter().filter(|x| *x == st).count() > 1;
            match parent(input) {
                Some(p) if generic || clash => {
                    if generic {
                        p
                    } else {
                        format!("{p}/{st}")
                    }
                }
                _ => st.clone(),
            }
        })
        .collect()
}

fn read_input(input: &str, id: &str) -> Result<Vec<MachineSeries>> {
    if input == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .context("reading stdin")?;
        return Ok(perfreport::input::from_bytes(id, &buf)?);
    }
    let path = Path::new(input);
    if path.is_dir() {
        return read_dir(path, id);
    }
    let bytes = std::fs::read(path).with_context(|| format!("opening {input}"))?;
    let mut got = perfreport::input::from_bytes(id, &bytes)?;
    if let Some(dir) = path.parent() {
        run_folder_extras(dir, &mut got)?;
    }
    Ok(got)
}

/// What the older tools kept beside a capture in a run folder: container names
/// (`container_names.json`, else `system_info/docker_ps.txt`) and the host name
/// and kernel (`system_info/uname.txt`).
fn run_folder_extras(dir: &Path, machines: &mut [MachineSeries]) -> Result<()> {
    let uname = dir.join("system_info/uname.txt");
    if let Ok(text) = std::fs::read_to_string(&uname) {
        for m in machines.iter_mut() {
            perfreport::input::facts_from_uname(&mut m.facts, &text);
        }
    }
    let has_containers = machines.iter().any(|m| {
        m.devices
            .iter()
            .any(|d| d.kind == perfcore::metrics::DeviceKind::Container)
    });
    if !has_containers {
        return Ok(());
    }
    let Some(names) = perfcore::container::names_in_dir(dir)? else {
        return Ok(());
    };
    for m in machines {
        perfreport::input::name_containers(m, &names);
    }
    Ok(())
}

/// A directory: our CSV output (intervals.csv + devices.csv), or the older
/// per-subsystem files (proc/stat, ...).
fn read_dir(dir: &Path, id: &str) -> Result<Vec<MachineSeries>> {
    let wide = dir.join("intervals.csv");
    let long = dir.join("devices.csv");
    if wide.is_file() || long.is_file() {
        let mut parts = Vec::new();
        for p in [wide, long] {
            if p.is_file() {
                let bytes =
                    std::fs::read(&p).with_context(|| format!("opening {}", p.display()))?;
                parts.extend(
                    perfreport::input::from_bytes(id, &bytes)
                        .with_context(|| format!("reading {}", p.display()))?,
                );
            }
        }
        return Ok(perfreport::input::merge(parts));
    }
    let pcprocess = perfcore::csv::pcprocess::File::ALL
        .iter()
        .any(|f| dir.join(f.path()).is_file());
    if pcprocess {
        return Ok(vec![perfreport::input::from_pcprocess_dir(id, dir)?]);
    }
    let portal = dir.join("portal.csv");
    if portal.is_file() {
        let bytes =
            std::fs::read(&portal).with_context(|| format!("opening {}", portal.display()))?;
        return Ok(perfreport::input::from_bytes(id, &bytes)?);
    }
    // Captures of one machine side by side: the older collectors wrote the host's
    // and its containers' records to separate files of one run directory.
    let mut captures: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    captures.sort();
    let mut parts = Vec::new();
    for p in &captures {
        let bytes = std::fs::read(p).with_context(|| format!("opening {}", p.display()))?;
        if perfreport::input::detect(&bytes) == Some(perfreport::input::InputKind::Capture) {
            parts.push(
                perfreport::input::from_capture(id, bytes.as_slice())
                    .with_context(|| format!("reading {}", p.display()))?,
            );
        }
    }
    if !parts.is_empty() {
        let mut merged = perfreport::input::merge(parts);
        run_folder_extras(dir, &mut merged)?;
        return Ok(merged);
    }
    bail!(
        "{}: no intervals.csv/devices.csv, per-subsystem files (proc/stat ...), portal.csv or captures (*.json) in this directory",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_ids_from_file_names() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/upstream");
        let p = |rel: &str| root.join(rel).to_string_lossy().into_owned();
        // A generic capture name takes its folder's name.
        assert_eq!(
            default_ids(&[p("azure-b1s-ubuntu/pcc_collection.json")]),
            vec!["azure-b1s-ubuntu"]
        );
        // A telling name stays; a directory is named by itself, or its parent when generic.
        assert_eq!(
            default_ids(&[
                p("oci-e5-oraclelinux8/vm01_pcc_collection.json"),
                p("oci-e5-oraclelinux8/vm01_processed"),
                p("azure-b1s-ubuntu/processed"),
            ]),
            vec!["vm01_pcc_collection", "vm01_processed", "azure-b1s-ubuntu"]
        );
        assert_eq!(default_ids(&["-".to_owned()]), vec!["stdin"]);
    }
}
