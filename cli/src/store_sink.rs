//! The default destination of `perfan record`: the local store (SQLite by
//! default), as interval rows and per-device series, committed in batches.

use std::time::Duration;

use anyhow::{Context, Result};
use perfcore::metrics::{DeviceKind, DeviceRow, IntervalRow, MachineFacts, device_rows_into};
use perfcore::record::RecordSink;
use perfcore::{Interval, RawSample, Snapshot};
use perfstore::{Labels, MachineId, Store, TenantId};

/// Rows held while the store refuses them (e.g. the disk is full), at most;
/// past this the oldest are dropped (about 3 hours at 1 s).
const MAX_HELD_ROWS: usize = 10_000;

/// Writes intervals to the store, one transaction per batch of `commit_every`
/// worth of intervals (at least one), so a `kill -9` loses at most that much of
/// the newest data and every committed row stays.
pub struct StoreSink {
    rt: tokio::runtime::Runtime,
    store: Store,
    tenant: TenantId,
    machine_key: String,
    machine: MachineId,
    hostname: Option<String>,
    facts: MachineFacts,
    facts_stored: MachineFacts,
    rows: Vec<IntervalRow>,
    devices: Vec<DeviceRow>,
    rows_per_commit: usize,
    /// Rows dropped because the store refused them for too long.
    pub dropped_rows: u64,
    /// The machine's newest stored interval when the sink opened.
    resume_after_ms: Option<i64>,
}

impl StoreSink {
    /// Opens the store at `url` (migrating it), the tenant, and the machine.
    pub fn open(
        url: &str,
        tenant: &str,
        machine_key: &str,
        hostname: Option<String>,
        kernel: Option<String>,
        interval: Duration,
        commit_every: Duration,
    ) -> Result<StoreSink> {
        // One thread: the agent makes one call at a time.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let store = rt
            .block_on(Store::open_with(url, &perfstore::OpenOptions::small()))
            .with_context(|| format!("opening {}", perfstore::redact_url(url)))?;
        let t = rt.block_on(crate::db::tenant(&store, tenant))?;
        let m = rt.block_on(store.upsert_machine(
            t.id,
            machine_key,
            hostname.as_deref(),
            &Labels::new(),
            &MachineFacts::default(),
        ))?;
        Ok(StoreSink {
            rt,
            store,
            tenant: t.id,
            machine_key: machine_key.to_owned(),
            machine: m.id,
            hostname,
            // The kernel release is not in any sampled file: read once here.
            facts: {
                let mut f = MachineFacts::default();
                f.kernel = kernel;
                f
            },
            facts_stored: MachineFacts::default(),
            rows: Vec::new(),
            devices: Vec::new(),
            rows_per_commit: (commit_every.as_secs_f64() / interval.as_secs_f64())
                .round()
                .clamp(1.0, 100_000.0) as usize,
            dropped_rows: 0,
            resume_after_ms: m.last_seen_ms,
        })
    }

    fn commit(&mut self) -> perfcore::Result<()> {
        if self.rows.is_empty() && self.devices.is_empty() {
            return Ok(());
        }
        let r = self.rt.block_on(self.store.ingest(
            self.tenant,
            self.machine,
            &self.rows,
            &self.devices,
        ));
        match r {
            Ok(_) => {
                self.rows.clear();
                self.devices.clear();
                Ok(())
            }
            Err(e) => {
                // Keep them for the next commit, within a bound.
                if self.rows.len() > MAX_HELD_ROWS {
                    let n = self.rows.len() - MAX_HELD_ROWS;
                    let cut = self.rows[n].timestamp_ms;
                    self.rows.drain(..n);
                    self.devices.retain(|d| d.timestamp_ms >= cut);
                    self.dropped_rows += n as u64;
                    eprintln!(
                        "perfan: warning: the store has refused rows for too long: dropped the \
                         {n} oldest held rows ({} dropped in all, {} still held)",
                        self.dropped_rows,
                        self.rows.len()
                    );
                }
                Err(perfcore::Error::Io {
                    path: "store".into(),
                    source: std::io::Error::other(e.to_string()),
                })
            }
        }
    }
}

impl RecordSink for StoreSink {
    fn resume_after_ms(&self) -> Option<i64> {
        self.resume_after_ms
    }

    fn sample(&mut self, _raw: &RawSample, snap: &Snapshot<'_>) -> perfcore::Result<()> {
        self.facts.update(snap);
        if self.facts.hostname.is_none() {
            self.facts.hostname = self.hostname.clone();
        }
        if self.facts != self.facts_stored {
            let r = self.rt.block_on(self.store.upsert_machine(
                self.tenant,
                &self.machine_key,
                self.hostname.as_deref(),
                &Labels::new(),
                &self.facts,
            ));
            match r {
                Ok(_) => self.facts_stored = self.facts.clone(),
                Err(e) => {
                    return Err(perfcore::Error::Io {
                        path: "store".into(),
                        source: std::io::Error::other(e.to_string()),
                    });
                }
            }
        }
        Ok(())
    }

    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.rows.push(IntervalRow::from_interval(iv));
        // Like sar -d: no series for block devices that have done no I/O since boot,
        // nor for interfaces that have never moved a packet (unused loop devices,
        // zram, ifb and dummy interfaces would otherwise be most of the per-device
        // rows, and each value costs an index insert). They get series from the
        // first interval they are used in.
        let disks = cur.diskstats.as_deref().unwrap_or_default();
        let nets = cur.net_dev.as_deref().unwrap_or_default();
        device_rows_into(iv, &mut self.devices, |kind, name| match kind {
            DeviceKind::Disk => !disks.iter().any(|d| {
                d.name == name
                    && d.reads_completed + d.writes_completed + d.discards_completed.unwrap_or(0)
                        == 0
            }),
            DeviceKind::Net => !nets
                .iter()
                .any(|n| n.name == name && n.rx_packets == 0 && n.tx_packets == 0),
            _ => true,
        });
        if self.rows.len() >= self.rows_per_commit {
            self.commit()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> perfcore::Result<()> {
        self.commit()
    }

    fn finish(&mut self) -> perfcore::Result<()> {
        let r = self.commit();
        self.rt.block_on(self.store.close());
        r
    }
}
