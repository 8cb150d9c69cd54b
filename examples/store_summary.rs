//! A capture into the embedded store (SQLite file), then the statistics of
//! every metric over the stored rows, computed in Rust over columnar data.
//!
//! ```text
//! cargo run -p perfanalysis-examples --example store_summary -- CAPTURE [sqlite://FILE | postgres://...]
//! ```

use perfcore::capture::SampleReader;
use perfcore::metrics::MachineFacts;
use perfcore::process::{Collect, run};
use perfstore::{Labels, Store};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(input) = args.next() else {
        anyhow::bail!("usage: store_summary CAPTURE [DB_URL]");
    };
    let dir = std::env::temp_dir().join(format!("perfan-example-{}", std::process::id()));
    let url = match args.next() {
        Some(url) => url,
        None => {
            std::fs::create_dir_all(&dir)?;
            format!("sqlite://{}/example.db", dir.display())
        }
    };

    // Capture -> intervals (rows and per-device values) in memory.
    let bytes = std::fs::read(&input)?;
    let mut sink = Collect::default();
    let stats = run(SampleReader::new(bytes.as_slice()), &mut sink)?;

    let store = Store::open(&url).await?;
    let tenant = store.tenant_by_name_or_create("default").await?;
    let machine = store
        .upsert_machine(
            tenant.id,
            "example",
            None,
            &Labels::new(),
            &MachineFacts::default(),
        )
        .await?;
    // Idempotent: running this twice stores nothing twice.
    let r = store
        .ingest(tenant.id, machine.id, &sink.rows, &sink.devices)
        .await?;
    println!(
        "{} samples -> {} intervals; stored {}, already present {}",
        stats.samples, stats.intervals, r.stored, r.already_present
    );
    let (from, to) = stats.time_range_ms.unwrap_or((0, 0));
    for (metric, s) in store.summary(tenant.id, machine.id, from, to + 1).await? {
        println!(
            "{:<28} min {:>10.2} avg {:>10.2} p95 {:>10.2} max {:>10.2}",
            metric.name(),
            s.min,
            s.avg,
            s.p95,
            s.max
        );
    }
    if dir.exists() {
        store.close().await;
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
