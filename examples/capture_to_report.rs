//! A capture (the older collector's NDJSON, or `perfan record --format pcc`)
//! to a self-contained HTML report and its JSON summary, with no store.
//!
//! ```text
//! cargo run -p perfanalysis-examples --example capture_to_report -- CAPTURE OUT.html
//! ```

use std::io::BufReader;

use perfreport::ReportOptions;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: capture_to_report CAPTURE OUT.html");
    };
    let file = std::fs::File::open(&input)?;
    let machine = perfreport::input::from_capture("example", BufReader::new(file))?;
    println!("{} intervals read from {input}", machine.rows.len());
    let report = perfreport::build(&[machine], &ReportOptions::default())?;
    std::fs::write(&output, report.html())?;
    for f in report.findings() {
        println!("[{}] {}", f.severity.as_str(), f.title);
    }
    let summary = report.json();
    let cpu = &summary["machines"][0]["metrics"]["cpu_user_pct"];
    println!(
        "cpu_user_pct: avg {} p95 {} max {}",
        cpu["avg"], cpu["p95"], cpu["max"]
    );
    println!("wrote {output}");
    Ok(())
}
