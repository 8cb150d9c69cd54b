//! `perfan`: the PerfAnalysis command line.
//!
//! Every subcommand is a thin wiring of the library crates; errors print as one
//! line on stderr. Exit codes: 0 success, 1 failure, 2 usage error.

mod admin;
mod config;
mod db;
mod export;
mod import;
mod process;
mod record;
mod report;
mod ship;
mod snapshot;
mod store_sink;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Linux performance data: sample /proc, turn captures into CSV, store, report.
#[derive(Debug, Parser)]
#[command(
    name = "perfan",
    version,
    about = "Linux performance monitoring: sample /proc, process captures, store and report",
    long_about = "perfan samples Linux /proc (CPU, memory, disks, network, load, PSI, \
filesystems), turns captures of the older PerfAnalysis collector into CSV files, \
and computes sysstat-compatible rates.\n\n\
Start with:\n  perfan snapshot --format table     one parsed sample of this machine\n  \
perfan process --input capture.json --output out/   capture -> CSV\n  \
perfan report --input capture.json -o report.html   capture -> HTML report",
    arg_required_else_help = true,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print one parsed sample of /proc (kernel units and names).
    Snapshot(snapshot::Args),
    /// Turn a capture (the older collector's NDJSON) into CSV files.
    Process(process::Args),
    /// The agent: sample this machine every interval into a file or to a server.
    Record(Box<record::Args>),
    /// A sar-like line per interval (cpu, mem, disk, net), or NDJSON.
    Watch(watch::Args),
    /// Write the report: one self-contained HTML page (+ PNG charts, JSON summary).
    Report(report::Args),
    /// Load captures, our CSV and portal CSVs into the store.
    Import(import::Args),
    /// Write a machine's stored data as our CSV, JSON or portal CSV.
    Export(export::Args),
    /// Manage the store: tenants, users, machines, API keys, retention.
    Admin(admin::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                // Help and version go to stdout as clap writes them (exit 0); so does
                // the help shown for a bare `perfan` (exit 2).
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                }
                // A usage error is one line on stderr, like every other error.
                _ => eprintln!("{}", usage_error_line(&e)),
            }
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let result = match cli.command {
        Some(Command::Snapshot(a)) => snapshot::run(a),
        Some(Command::Process(a)) => process::run(a),
        Some(Command::Record(a)) => record::run(*a),
        Some(Command::Watch(a)) => watch::run(a),
        Some(Command::Report(a)) => report::run(a),
        Some(Command::Import(a)) => import::run(a),
        Some(Command::Export(a)) => export::run(a),
        Some(Command::Admin(a)) => admin::run(a),
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`perfan snapshot | head`) is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perfan: error: {}", one_line(&e));
            // A bad setting (flag, environment, config file) is a usage error.
            if e.downcast_ref::<config::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// A clap usage error on one line: the message (with its detail lines, e.g. the
/// missing arguments or the possible values), the usage, and the pointer to `--help`.
fn usage_error_line(e: &clap::Error) -> String {
    // `render()` as plain text (no colour codes: we print it ourselves).
    let rendered = e.render().to_string();
    let mut message: Vec<&str> = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u);
        } else if line.starts_with("For more information") {
            // Replaced by our own pointer below.
        } else {
            message.push(line);
        }
    }
    // "not provided:" is followed by its list (one item a line); a tip or the possible
    // values are clauses of their own.
    let mut out = String::new();
    let mut in_list = false;
    for part in message {
        let sep = if out.is_empty() {
            ""
        } else if part.starts_with("tip:") || part.starts_with('[') {
            in_list = false;
            "; "
        } else if out.ends_with(':') {
            in_list = true;
            " "
        } else if in_list {
            ", "
        } else {
            "; "
        };
        out.push_str(sep);
        out.push_str(part);
    }
    if !out.starts_with("error:") {
        out.insert_str(0, "error: ");
    }
    if let Some(u) = usage {
        out.push_str(" (usage: ");
        out.push_str(u);
        out.push(')');
    }
    out.push_str("; for more information, try '--help'");
    out
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, without repeating a cause already in the message.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if out.contains(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    out.replace('\n', " ")
}
