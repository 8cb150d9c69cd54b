//! The input of a report: plain series of one machine, from any source (a
//! capture, CSV files, the store).

use std::collections::HashMap;

use perfcore::metrics::{DeviceKind, DeviceRow, IntervalRow, MachineFacts};
use serde::Serialize;

/// Everything a report knows about one machine over a time range.
///
/// Build one with [`MachineSeries::new`] and fill its fields, or read one with
/// the functions of [`crate::input`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MachineSeries {
    /// The machine's id, as the report shows it.
    pub machine_id: String,
    /// What is known about the machine (CPU model, memory, boot time, ...).
    pub facts: MachineFacts,
    /// One wide row per interval. Any order; they are sorted by time for the report.
    pub rows: Vec<IntervalRow>,
    /// Per-device series (CPUs, disks, interfaces, filesystems).
    pub devices: Vec<DeviceSeries>,
    /// What the source saw beyond the rows: reboots, counter resets, dropped samples.
    pub events: SeriesEvents,
}

impl MachineSeries {
    /// An empty series for `machine_id`.
    pub fn new(machine_id: impl Into<String>) -> Self {
        MachineSeries {
            machine_id: machine_id.into(),
            ..Default::default()
        }
    }

    /// The series of what perfcore's [`Collect`](perfcore::process::Collect) sink
    /// gathered: rows, per-device rows and gaps (reboots, samples whose time did
    /// not increase). `Collect` does not keep counter resets: they are unknown
    /// here (use [`crate::input::from_capture`] to keep them).
    pub fn from_collect(machine_id: impl Into<String>, c: perfcore::process::Collect) -> Self {
        let mut m = MachineSeries::new(machine_id);
        m.rows = c.rows;
        m.add_device_rows(c.devices);
        for (at, why) in c.gaps {
            match why {
                perfcore::rates::Break::Reboot { .. } => m.events.reboots.push(at),
                _ => m.events.time_not_increasing.push(at),
            }
        }
        m
    }

    /// Adds per-device rows (the long series of perfcore), grouping them into
    /// one [`DeviceSeries`] per kind, device and metric.
    pub fn add_device_rows<I>(&mut self, rows: I)
    where
        I: IntoIterator<Item = DeviceRow>,
    {
        let mut grouper = Grouper::new(&self.devices);
        for r in rows {
            let i = grouper.index(&mut self.devices, r.kind, &r.device, r.metric);
            self.devices[i].push(r.timestamp_ms, r.value);
        }
    }

    /// Adds one device value.
    pub fn push_device_value(
        &mut self,
        kind: DeviceKind,
        device: &str,
        metric: &str,
        timestamp_ms: i64,
        value: f64,
    ) {
        let i = match self
            .devices
            .iter()
            .position(|d| d.kind == kind && d.device == device && d.metric == metric)
        {
            Some(i) => i,
            None => {
                self.devices.push(DeviceSeries::new(
                    kind,
                    device.to_owned(),
                    metric.to_owned(),
                ));
                self.devices.len() - 1
            }
        };
        self.devices[i].push(timestamp_ms, value);
    }

    /// Keeps only rows, device values and events with `from_ms <= t <= to_ms`.
    pub fn retain_range(&mut self, from_ms: Option<i64>, to_ms: Option<i64>) {
        let inside = |t: i64| from_ms.is_none_or(|f| t >= f) && to_ms.is_none_or(|e| t <= e);
        self.rows.retain(|r| inside(r.timestamp_ms));
        for d in &mut self.devices {
            let mut keep = Vec::with_capacity(d.values.len());
            let mut ts = Vec::with_capacity(d.values.len());
            for (t, v) in d.timestamps_ms.iter().zip(&d.values) {
                if inside(*t) {
                    ts.push(*t);
                    keep.push(*v);
                }
            }
            d.timestamps_ms = ts;
            d.values = keep;
        }
        self.devices.retain(|d| !d.values.is_empty());
        self.events.reboots.retain(|t| inside(*t));
        self.events.time_not_increasing.retain(|t| inside(*t));
        if let Some(r) = &mut self.events.counter_resets {
            r.retain(|c| inside(c.timestamp_ms));
        }
    }

    /// Appends another part of the same machine (rows, devices, events; facts
    /// fill what is still unknown).
    pub fn merge(&mut self, other: MachineSeries) {
        self.rows.extend(other.rows);
        // A part with only per-device data (a container capture) has rows with
        // nothing but a timestamp; beside another part's rows they would only
        // look like duplicate timestamps.
        if self.rows.iter().any(|r| !r.is_empty()) {
            self.rows.retain(|r| !r.is_empty());
        }
        for d in other.devices {
            match self
                .devices
                .iter_mut()
                .find(|x| x.kind == d.kind && x.device == d.device && x.metric == d.metric)
            {
                Some(x) => {
                    x.timestamps_ms.extend(d.timestamps_ms);
                    x.values.extend(d.values);
                }
                None => self.devices.push(d),
            }
        }
        let f = &mut self.facts;
        let o = other.facts;
        f.cpu_model = f.cpu_model.take().or(o.cpu_model);
        f.cpu_count = f.cpu_count.or(o.cpu_count);
        f.cpu_sockets = f.cpu_sockets.or(o.cpu_sockets);
        f.mem_total_bytes = f.mem_total_bytes.or(o.mem_total_bytes);
        f.swap_total_bytes = f.swap_total_bytes.or(o.swap_total_bytes);
        f.boot_time_s = f.boot_time_s.or(o.boot_time_s);
        f.kernel = f.kernel.take().or(o.kernel);
        f.hostname = f.hostname.take().or(o.hostname);
        let e = &mut self.events;
        e.reboots.extend(other.events.reboots);
        e.time_not_increasing
            .extend(other.events.time_not_increasing);
        e.counter_resets = match (e.counter_resets.take(), other.events.counter_resets) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            (a, b) => a.or(b),
        };
        e.skipped_lines += other.events.skipped_lines;
        for s in other.events.sources {
            if !e.sources.contains(&s) {
                e.sources.push(s);
            }
        }
    }
}

/// One metric of one device over time (the long series, stored by column).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeviceSeries {
    /// CPU, disk, interface or filesystem.
    pub kind: DeviceKind,
    /// Its name (`3`, `sda`, `eth0`, `/var`).
    pub device: String,
    /// Metric name as perfcore names it (`util_pct`, `rx_bytes_per_s`, ...).
    pub metric: String,
    /// End of each interval, ms since the epoch.
    pub timestamps_ms: Vec<i64>,
    /// The values, one per timestamp.
    pub values: Vec<f64>,
}

impl DeviceSeries {
    /// An empty series.
    pub fn new(kind: DeviceKind, device: String, metric: String) -> Self {
        DeviceSeries {
            kind,
            device,
            metric,
            timestamps_ms: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Appends a value.
    pub fn push(&mut self, timestamp_ms: i64, value: f64) {
        self.timestamps_ms.push(timestamp_ms);
        self.values.push(value);
    }
}

/// What the source of a series saw beyond its rows; the data-quality section
/// reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SeriesEvents {
    /// Reboots (boot time changed between two samples): time of the first sample after it.
    pub reboots: Vec<i64>,
    /// Samples dropped because their time was not later than the previous one.
    pub time_not_increasing: Vec<i64>,
    /// Counters that went down and were taken as resets; `None` when the source
    /// cannot tell (CSV files carry rates, not counters).
    pub counter_resets: Option<Vec<CounterReset>>,
    /// Unreadable input lines that were skipped.
    pub skipped_lines: u64,
    /// Where the data came from (`capture pcc_collection.json`, ...).
    pub sources: Vec<String>,
}

/// One counter that went down between two samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CounterReset {
    /// End of the interval it happened in, ms since the epoch.
    pub timestamp_ms: i64,
    /// Which counter (`disk:sda`, `net:eth0`, `cpu:3`).
    pub counter: String,
}

impl CounterReset {
    /// A reset of `counter` at `timestamp_ms`.
    pub fn new(timestamp_ms: i64, counter: impl Into<String>) -> Self {
        CounterReset {
            timestamp_ms,
            counter: counter.into(),
        }
    }
}

/// Times further than this from 1970 (about ±31,700 years, in ms) are not
/// times: such rows and points are left out and counted, so that no time
/// arithmetic can overflow.
pub(crate) const MAX_ABS_TIME_MS: i64 = 1_000_000_000_000_000;

fn time_ok(t: i64) -> bool {
    t.unsigned_abs() <= MAX_ABS_TIME_MS as u64
}

/// The series as the report reads it: times in range, device series with as
/// many values as times, in time order. Borrowed when the input already is (the
/// usual case). Also returns how many rows and points were left out for their time.
pub(crate) fn prepared(m: &MachineSeries) -> (std::borrow::Cow<'_, MachineSeries>, u64) {
    let ok = m.rows.iter().all(|r| time_ok(r.timestamp_ms))
        && m.devices.iter().all(|d| {
            d.timestamps_ms.len() == d.values.len()
                && d.timestamps_ms.windows(2).all(|w| w[0] <= w[1])
                && d.timestamps_ms.iter().all(|t| time_ok(*t))
        });
    if ok {
        return (std::borrow::Cow::Borrowed(m), 0);
    }
    let mut c = m.clone();
    let before = c.rows.len();
    c.rows.retain(|r| time_ok(r.timestamp_ms));
    let mut dropped = (before - c.rows.len()) as u64;
    for d in &mut c.devices {
        let n = d.timestamps_ms.len().min(d.values.len());
        d.timestamps_ms.truncate(n);
        d.values.truncate(n);
        let mut idx: Vec<usize> = (0..n).filter(|&i| time_ok(d.timestamps_ms[i])).collect();
        dropped += (n - idx.len()) as u64;
        idx.sort_by_key(|&i| d.timestamps_ms[i]);
        d.timestamps_ms = idx.iter().map(|&i| d.timestamps_ms[i]).collect();
        d.values = idx.iter().map(|&i| d.values[i]).collect();
    }
    (std::borrow::Cow::Owned(c), dropped)
}

/// Finds the series of a (kind, device, metric), fast when rows come in the
/// same order every interval (they do: perfcore writes them that way).
pub(crate) struct Grouper {
    map: HashMap<(DeviceKind, String, String), usize>,
    next: usize,
}

impl Grouper {
    pub(crate) fn new(existing: &[DeviceSeries]) -> Self {
        let map = existing
            .iter()
            .enumerate()
            .map(|(i, d)| ((d.kind, d.device.clone(), d.metric.clone()), i))
            .collect();
        Grouper { map, next: 0 }
    }

    pub(crate) fn index(
        &mut self,
        devices: &mut Vec<DeviceSeries>,
        kind: DeviceKind,
        device: &str,
        metric: &str,
    ) -> usize {
        if let Some(d) = devices.get(self.next)
            && d.kind == kind
            && d.device == device
            && d.metric == metric
        {
            self.next += 1;
            return self.next - 1;
        }
        let key = (kind, device.to_owned(), metric.to_owned());
        let i = match self.map.get(&key) {
            Some(&i) => i,
            None => {
                devices.push(DeviceSeries::new(kind, key.1.clone(), key.2.clone()));
                let i = devices.len() - 1;
                self.map.insert(key, i);
                i
            }
        };
        self.next = i + 1;
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: i64, device: &str, metric: &'static str, value: f64) -> DeviceRow {
        DeviceRow {
            timestamp_ms: ts,
            kind: DeviceKind::Disk,
            device: device.into(),
            metric,
            value,
        }
    }

    #[test]
    fn device_rows_group_by_device_and_metric() {
        let mut m = MachineSeries::new("m");
        m.add_device_rows([
            row(1, "sda", "util_pct", 1.0),
            row(1, "sdb", "util_pct", 2.0),
            row(2, "sda", "util_pct", 3.0),
            row(2, "sdb", "util_pct", 4.0),
            row(3, "sdb", "util_pct", 5.0),
        ]);
        assert_eq!(m.devices.len(), 2);
        assert_eq!(m.devices[0].values, vec![1.0, 3.0]);
        assert_eq!(m.devices[1].values, vec![2.0, 4.0, 5.0]);
        assert_eq!(m.devices[1].timestamps_ms, vec![1, 2, 3]);
    }

    #[test]
    fn from_collect_keeps_rows_devices_and_reboots() {
        let capture = concat!(
            "{\"timestamp\":100,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  10 0 10 80 0 0 0 0 0 0\\ncpu0 10 0 10 80 0 0 0 0 0 0\\nbtime 1000\\n\"}\n",
            "{\"timestamp\":105,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  20 0 20 160 0 0 0 0 0 0\\ncpu0 20 0 20 160 0 0 0 0 0 0\\nbtime 1000\\n\"}\n",
            "{\"timestamp\":110,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  1 0 1 8 0 0 0 0 0 0\\ncpu0 1 0 1 8 0 0 0 0 0 0\\nbtime 5000\\n\"}\n",
        );
        let mut sink = perfcore::process::Collect::default();
        perfcore::process::run(
            perfcore::capture::SampleReader::new(capture.as_bytes()),
            &mut sink,
        )
        .unwrap();
        let m = MachineSeries::from_collect("c", sink);
        assert_eq!(m.rows.len(), 1);
        assert_eq!(m.events.reboots, vec![110_000]);
        assert_eq!(m.events.counter_resets, None);
        assert!(
            m.devices
                .iter()
                .any(|d| d.kind == DeviceKind::Cpu && d.metric == "idle_pct")
        );
    }

    #[test]
    fn retain_range_cuts_rows_devices_and_events() {
        let mut m = MachineSeries::new("m");
        for t in 0..10 {
            m.rows.push(IntervalRow::new(t * 1000, 1.0));
        }
        m.add_device_rows((0..10).map(|t| row(t * 1000, "sda", "util_pct", t as f64)));
        m.events.reboots = vec![500, 5500];
        m.retain_range(Some(2000), Some(4000));
        assert_eq!(m.rows.len(), 3);
        assert_eq!(m.devices[0].values, vec![2.0, 3.0, 4.0]);
        assert!(m.events.reboots.is_empty());
    }
}
