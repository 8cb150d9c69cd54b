//! `perfan process`: capture -> CSV files.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use perfcore::capture::SampleReader;
use perfcore::csv::ours::{LongWriter, WideWriter};
use perfcore::csv::pcprocess::{PcprocessOptions, PcprocessWriter};
use perfcore::csv::portal::{PortalRow, PortalWriter};
use perfcore::metrics::{IntervalRow, device_rows};
use perfcore::process::{IntervalSink, run as run_pipeline};
use perfcore::rates::Interval;
use perfcore::snapshot::Snapshot;

/// Arguments of `perfan process`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The capture to read (NDJSON as the older collector wrote it); `-` for stdin.
    #[arg(long, short, value_name = "CAPTURE")]
    input: String,
    /// Directory to write the CSV files into (created if missing).
    #[arg(long, short, value_name = "DIR")]
    output: PathBuf,
    /// Which CSV files to write.
    #[arg(long, value_enum, default_value_t = Format::Pcprocess)]
    format: Format,
    /// Machine id written in our CSV (default: the capture's file name without extension).
    #[arg(long, value_name = "ID")]
    machine: Option<String>,
    /// With `--format pcprocess`: prefix rows with `site,host` (the R report's variant).
    #[arg(long, value_name = "SITE", requires = "host")]
    site: Option<String>,
    /// With `--format pcprocess`: the host for the `site,host` prefix.
    #[arg(long, value_name = "HOST", requires = "site")]
    host: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// The older processor's per-subsystem files (proc/stat, proc/meminfo, ...).
    Pcprocess,
    /// One portal upload CSV (portal.csv).
    Portal,
    /// Our schema: intervals.csv (wide) and devices.csv (per device).
    Csv,
}

pub fn run(args: Args) -> Result<()> {
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let input: Box<dyn BufRead> = if args.input == "-" {
        Box::new(BufReader::with_capacity(1 << 20, std::io::stdin().lock()))
    } else {
        let f = File::open(&args.input).with_context(|| format!("opening {}", args.input))?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let machine = args.machine.clone().unwrap_or_else(|| {
        Path::new(&args.input)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| s != "-")
            .unwrap_or_else(|| "stdin".into())
    });
    let samples = SampleReader::new(input);
    let what = format!("processing {}", args.input);
    // The older container collector names containers in a file beside its capture.
    let container_names = if args.input == "-" {
        None
    } else {
        crate::import::container_names_beside(Path::new(&args.input))?
    };
    let stats = match args.format {
        Format::Pcprocess => {
            let mut opts = PcprocessOptions::default();
            opts.site_host = args.site.clone().zip(args.host.clone());
            opts.container_names = container_names;
            let mut sink = PcprocessWriter::create(&args.output, opts)?;
            run_pipeline(samples, &mut sink).context(what)?
        }
        Format::Portal => {
            let f = create(&args.output.join("portal.csv"))?;
            let mut sink = PortalSink(PortalWriter::new(f)?);
            run_pipeline(samples, &mut sink).context(what)?
        }
        Format::Csv => {
            let mut sink = OursSink {
                machine,
                container_names,
                wide: WideWriter::new(create(&args.output.join("intervals.csv"))?)?,
                long: LongWriter::new(create(&args.output.join("devices.csv"))?)?,
            };
            run_pipeline(samples, &mut sink).context(what)?
        }
    };
    eprintln!(
        "perfan: {} samples, {} intervals written to {}{}{}",
        stats.samples,
        stats.intervals,
        args.output.display(),
        if stats.reboots > 0 {
            format!(", {} reboot(s) skipped", stats.reboots)
        } else {
            String::new()
        },
        if stats.resets > 0 {
            format!(", {} counter reset(s)", stats.resets)
        } else {
            String::new()
        }
    );
    Ok(())
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 16, f))
}

struct PortalSink(PortalWriter<BufWriter<File>>);

impl IntervalSink for PortalSink {
    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.0
            .write(&PortalRow::from_interval(iv))
            .map_err(|e| perfcore::Error::io("portal.csv", e))
    }

    fn finish(&mut self) -> perfcore::Result<()> {
        use std::io::Write;
        self.0
            .get_mut()
            .flush()
            .map_err(|e| perfcore::Error::io("portal.csv", e))
    }
}

struct OursSink {
    machine: String,
    container_names: Option<perfcore::container::Names>,
    wide: WideWriter<BufWriter<File>>,
    long: LongWriter<BufWriter<File>>,
}

impl IntervalSink for OursSink {
    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.wide
            .write(&self.machine, &IntervalRow::from_interval(iv))
            .map_err(|e| perfcore::Error::io("intervals.csv", e))?;
        let mut rows = device_rows(iv);
        if let Some(names) = &self.container_names {
            perfcore::container::name_rows(&mut rows, names);
        }
        self.long
            .write(&self.machine, &rows)
            .map_err(|e| perfcore::Error::io("devices.csv", e))
    }

    fn finish(&mut self) -> perfcore::Result<()> {
        use std::io::Write;
        self.wide
            .get_mut()
            .flush()
            .map_err(|e| perfcore::Error::io("intervals.csv", e))?;
        self.long
            .get_mut()
            .flush()
            .map_err(|e| perfcore::Error::io("devices.csv", e))
    }
}
