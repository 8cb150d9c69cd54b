//! Per-container records of the older container collector: capture records whose
//! subsystem is `container/<runtime>/<short id>` and whose measurement is a JSON
//! object of cgroup v2 counters (`cpu.stat`, `io.stat`) and gauges
//! (`memory.current`, `memory.max`, `pids.current`).
//!
//! ```
//! let m = br#"{"container_id":"942b476921d8aa","container_name":"web","runtime":"docker","cpu_usage_usec":2923730,"memory_current":58802176,"memory_max":536870912}"#;
//! let c = perfcore::container::parse("container/docker/942b476921d8", m)?;
//! assert_eq!(c.name, "web");
//! assert_eq!(c.cpu_usage_usec, Some(2_923_730));
//! assert_eq!(c.memory_max, Some(536_870_912));
//! # Ok::<(), perfcore::Error>(())
//! ```

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::rates::counter::{Width, delta_opt};

/// The subsystem prefix of container records in a capture.
pub const SUBSYSTEM_PREFIX: &str = "container/";

/// Whether a capture subsystem holds a container record.
pub fn is_container_subsystem(subsystem: &str) -> bool {
    subsystem.starts_with(SUBSYSTEM_PREFIX)
}

/// One container's cgroup counters and gauges at one tick, as the collector wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ContainerStat {
    /// Full container id (`container_id`; from the subsystem when absent).
    #[serde(rename = "container_id", default)]
    pub id: String,
    /// Container name (`container_name`; often empty, see `container_names.json`).
    #[serde(rename = "container_name", default)]
    pub name: String,
    /// Runtime: `docker`, `containerd`, `podman`, ...
    #[serde(default)]
    pub runtime: String,
    /// CPU time used, user + system (µs, counter).
    #[serde(default, deserialize_with = "counter")]
    pub cpu_usage_usec: Option<u64>,
    /// CPU time in user mode (µs, counter).
    #[serde(default, deserialize_with = "counter")]
    pub cpu_user_usec: Option<u64>,
    /// CPU time in kernel mode (µs, counter).
    #[serde(default, deserialize_with = "counter")]
    pub cpu_system_usec: Option<u64>,
    /// CFS enforcement periods elapsed (counter).
    #[serde(default, deserialize_with = "counter")]
    pub cpu_periods: Option<u64>,
    /// Periods in which the container was throttled (counter).
    #[serde(default, deserialize_with = "counter")]
    pub cpu_throttled: Option<u64>,
    /// Time throttled (µs, counter).
    #[serde(default, deserialize_with = "counter")]
    pub cpu_throttled_usec: Option<u64>,
    /// CFS quota per period (µs); `None` when unlimited.
    #[serde(default, deserialize_with = "limit")]
    pub cpu_quota: Option<u64>,
    /// CFS period (µs).
    #[serde(default, deserialize_with = "limit")]
    pub cpu_period: Option<u64>,
    /// Memory charged to the cgroup (bytes, gauge).
    #[serde(default, deserialize_with = "counter")]
    pub memory_current: Option<u64>,
    /// Memory limit (bytes); `None` when unlimited.
    #[serde(default, deserialize_with = "limit")]
    pub memory_max: Option<u64>,
    /// Anonymous memory (bytes, gauge).
    #[serde(default, deserialize_with = "counter")]
    pub memory_anon: Option<u64>,
    /// Page cache (bytes, gauge).
    #[serde(default, deserialize_with = "counter")]
    pub memory_file: Option<u64>,
    /// Kernel memory (bytes, gauge).
    #[serde(default, deserialize_with = "counter")]
    pub memory_kernel: Option<u64>,
    /// Slab memory (bytes, gauge).
    #[serde(default, deserialize_with = "counter")]
    pub memory_slab: Option<u64>,
    /// Bytes read from block devices (counter).
    #[serde(default, deserialize_with = "counter")]
    pub io_read_bytes: Option<u64>,
    /// Bytes written to block devices (counter).
    #[serde(default, deserialize_with = "counter")]
    pub io_write_bytes: Option<u64>,
    /// Read operations (counter).
    #[serde(default, deserialize_with = "counter")]
    pub io_read_ops: Option<u64>,
    /// Write operations (counter).
    #[serde(default, deserialize_with = "counter")]
    pub io_write_ops: Option<u64>,
    /// Tasks in the cgroup (gauge).
    #[serde(default, deserialize_with = "counter")]
    pub pids_current: Option<u64>,
    /// Task limit; `None` when unlimited.
    #[serde(default, deserialize_with = "limit")]
    pub pids_max: Option<u64>,
}

/// A number as JSON may carry it: integer, float or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    U(u64),
    I(i64),
    F(f64),
    S(String),
}

fn counter<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    use serde::de::Error as _;
    match Option::<Num>::deserialize(d)? {
        None => Ok(None),
        Some(Num::U(v)) => Ok(Some(v)),
        Some(Num::I(v)) => u64::try_from(v)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("negative value {v}"))),
        Some(Num::F(v)) if (0.0..1.8e19).contains(&v) => Ok(Some(v as u64)),
        Some(Num::F(v)) => Err(D::Error::custom(format!("value {v} out of range"))),
        Some(Num::S(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{s:?} is not a number"))),
    }
}

/// A cgroup limit: `max`, a negative number, 0 or 2^63 and above mean "no limit".
fn limit<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    use serde::de::Error as _;
    match Option::<Num>::deserialize(d)? {
        None | Some(Num::I(_)) => Ok(None),
        Some(Num::U(v)) => Ok((v > 0 && v < (1 << 63)).then_some(v)),
        Some(Num::F(v)) => Ok((1.0..9.2e18).contains(&v).then_some(v as u64)),
        Some(Num::S(s)) if s.trim() == "max" => Ok(None),
        Some(Num::S(s)) => match s.trim().parse::<u64>() {
            Ok(v) => Ok((v > 0 && v < (1 << 63)).then_some(v)),
            Err(_) => Err(D::Error::custom(format!("{s:?} is not a limit"))),
        },
    }
}

/// Container names by full id, as the older collector's `container_names.json` holds them.
pub type Names = std::collections::HashMap<String, String>;

/// Reads a `container_names.json`: a JSON object from full container id to name.
pub fn names_from_json(bytes: &[u8]) -> Result<Names> {
    serde_json::from_slice(bytes).map_err(|e| Error::Parse {
        file: "container_names.json",
        line: 1,
        message: format!("not an object of container id to name: {e}"),
    })
}

/// Container names from `docker ps` output (the older tools kept it as
/// `system_info/docker_ps.txt`): short id (first column) to name (last column).
pub fn docker_ps_names(text: &str) -> Names {
    let mut lines = text.lines();
    let header_ok = lines
        .next()
        .is_some_and(|h| h.starts_with("CONTAINER ID") && h.trim_end().ends_with("NAMES"));
    if !header_ok {
        return Names::new();
    }
    lines
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let id = f.next()?;
            let name = f.next_back()?;
            (id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (id.to_owned(), name.to_owned()))
        })
        .collect()
}

/// The container names the older tools kept beside a capture in `dir`:
/// `container_names.json`, else `system_info/docker_ps.txt`; `None` without either.
pub fn names_in_dir(dir: &std::path::Path) -> Result<Option<Names>> {
    let json = dir.join("container_names.json");
    if json.is_file() {
        let bytes = std::fs::read(&json).map_err(|e| Error::io(&json, e))?;
        return names_from_json(&bytes).map(Some);
    }
    match std::fs::read_to_string(dir.join("system_info/docker_ps.txt")) {
        Ok(text) => Ok(Some(docker_ps_names(&text))),
        Err(_) => Ok(None),
    }
}

/// The name of the container labelled `label` (its id, or the first 12 or more
/// characters of it), if `names` has one.
pub fn name_for<'a>(names: &'a Names, label: &str) -> Option<&'a str> {
    if label.len() < 12 {
        return None;
    }
    names
        .iter()
        .find(|(id, name)| id.starts_with(label) && !name.is_empty())
        .map(|(_, name)| name.as_str())
}

/// Renames the container rows among `rows` (labelled by id) after `names`.
pub fn name_rows(rows: &mut [crate::metrics::DeviceRow], names: &Names) {
    for d in rows {
        if d.kind == crate::metrics::DeviceKind::Container
            && let Some(n) = name_for(names, &d.device)
        {
            d.device = n.to_owned();
        }
    }
}

/// Parses one container record (`subsystem` names it in errors and gives the id
/// and runtime when the measurement leaves them out).
pub fn parse(subsystem: &str, measurement: &[u8]) -> Result<ContainerStat> {
    let mut c: ContainerStat = serde_json::from_slice(measurement).map_err(|e| Error::Parse {
        file: "container record",
        line: 1,
        message: format!("{subsystem}: {e}"),
    })?;
    let mut parts = subsystem.splitn(3, '/').skip(1);
    let runtime = parts.next().unwrap_or_default();
    let short_id = parts.next().unwrap_or_default();
    if c.id.is_empty() {
        c.id = short_id.to_owned();
    }
    if c.runtime.is_empty() {
        c.runtime = runtime.to_owned();
    }
    if c.id.is_empty() {
        return Err(Error::Parse {
            file: "container record",
            line: 1,
            message: format!("{subsystem}: no container id"),
        });
    }
    Ok(c)
}

impl ContainerStat {
    /// The name shown in reports: the container's name, else its id cut to 12
    /// characters as `docker ps` shows it.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.id.chars().take(12).collect()
        } else {
            self.name.clone()
        }
    }
}

/// One container over one interval: CPU and I/O rates from its counters,
/// memory and tasks at the end.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ContainerRates {
    /// Name shown in reports ([`ContainerStat::label`]).
    pub label: String,
    /// Full container id.
    pub id: String,
    /// Runtime (`docker`, ...).
    pub runtime: String,
    /// CPU used, % of one CPU (100 = one core busy; `docker stats` convention).
    pub cpu_pct: Option<f64>,
    /// User-mode part of `cpu_pct`.
    pub cpu_user_pct: Option<f64>,
    /// Kernel-mode part of `cpu_pct`.
    pub cpu_system_pct: Option<f64>,
    /// CPU limit in cores (quota / period), when limited.
    pub cpu_limit_cores: Option<f64>,
    /// Share of the interval's CFS periods in which the container was throttled (%).
    pub throttled_pct: Option<f64>,
    /// Memory charged at the end (bytes).
    pub mem_bytes: Option<f64>,
    /// Memory limit (bytes), when limited.
    pub mem_limit_bytes: Option<f64>,
    /// `mem_bytes` as % of the limit.
    pub mem_pct: Option<f64>,
    /// Anonymous memory at the end (bytes).
    pub mem_anon_bytes: Option<f64>,
    /// Page cache at the end (bytes).
    pub mem_file_bytes: Option<f64>,
    /// Bytes read per second.
    pub read_bytes_per_s: Option<f64>,
    /// Bytes written per second.
    pub write_bytes_per_s: Option<f64>,
    /// Read operations per second.
    pub reads_per_s: Option<f64>,
    /// Write operations per second.
    pub writes_per_s: Option<f64>,
    /// Tasks at the end.
    pub pids: Option<f64>,
}

impl ContainerRates {
    /// Rates of one container from `prev` to `cur`, `elapsed_s` apart; `None`
    /// when its CPU counter went down (the container restarted: no rates).
    pub fn between(prev: &ContainerStat, cur: &ContainerStat, elapsed_s: f64) -> Option<Self> {
        if let (Some(p), Some(c)) = (prev.cpu_usage_usec, cur.cpu_usage_usec)
            && c < p
        {
            return None;
        }
        let us = elapsed_s * 1e6;
        let cpu = |p: Option<u64>, c: Option<u64>| {
            delta_opt(p, c, Width::U64).map(|d| d as f64 / us * 100.0)
        };
        let rate = |p: Option<u64>, c: Option<u64>| {
            delta_opt(p, c, Width::U64).map(|d| d as f64 / elapsed_s)
        };
        let throttled_pct = match (
            delta_opt(prev.cpu_periods, cur.cpu_periods, Width::U64),
            delta_opt(prev.cpu_throttled, cur.cpu_throttled, Width::U64),
        ) {
            (Some(n), Some(t)) if n > 0 => Some((t as f64 / n as f64 * 100.0).min(100.0)),
            (Some(0), Some(_)) => Some(0.0),
            _ => None,
        };
        let mem = cur.memory_current.map(|v| v as f64);
        let limit = cur.memory_max.map(|v| v as f64);
        Some(ContainerRates {
            label: cur.label(),
            id: cur.id.clone(),
            runtime: cur.runtime.clone(),
            cpu_pct: cpu(prev.cpu_usage_usec, cur.cpu_usage_usec),
            cpu_user_pct: cpu(prev.cpu_user_usec, cur.cpu_user_usec),
            cpu_system_pct: cpu(prev.cpu_system_usec, cur.cpu_system_usec),
            cpu_limit_cores: match (cur.cpu_quota, cur.cpu_period) {
                (Some(q), Some(p)) if p > 0 => Some(q as f64 / p as f64),
                _ => None,
            },
            throttled_pct,
            mem_bytes: mem,
            mem_limit_bytes: limit,
            mem_pct: match (mem, limit) {
                (Some(m), Some(l)) => Some(m / l * 100.0),
                _ => None,
            },
            mem_anon_bytes: cur.memory_anon.map(|v| v as f64),
            mem_file_bytes: cur.memory_file.map(|v| v as f64),
            read_bytes_per_s: rate(prev.io_read_bytes, cur.io_read_bytes),
            write_bytes_per_s: rate(prev.io_write_bytes, cur.io_write_bytes),
            reads_per_s: rate(prev.io_read_ops, cur.io_read_ops),
            writes_per_s: rate(prev.io_write_ops, cur.io_write_ops),
            pids: cur.pids_current.map(|v| v as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = br#"{"container_id":"942b476921d8001b","container_name":"","cpu_period":100000,"cpu_periods":83,"cpu_quota":50000,"cpu_system_usec":446493,"cpu_throttled":52,"cpu_throttled_usec":2326325,"cpu_usage_usec":2923730,"cpu_user_usec":2477237,"io_read_bytes":50896896,"io_read_ops":95,"io_write_bytes":11239424,"io_write_ops":15,"memory_anon":110592,"memory_current":58802176,"memory_file":57663488,"memory_max":536870912,"pids_current":1,"pids_max":4580,"runtime":"docker"}"#;

    #[test]
    fn parses_a_real_record() {
        let c = parse("container/docker/942b476921d8", A).unwrap();
        assert_eq!(c.id, "942b476921d8001b");
        assert_eq!(c.label(), "942b476921d8");
        assert_eq!(c.runtime, "docker");
        assert_eq!(c.cpu_usage_usec, Some(2_923_730));
        assert_eq!(c.cpu_quota, Some(50_000));
        assert_eq!(c.pids_max, Some(4580));
        assert_eq!(c.memory_slab, None);
    }

    #[test]
    fn unlimited_limits_are_none() {
        let c = parse(
            "container/podman/abc",
            br#"{"cpu_quota":-1,"memory_max":"max","pids_max":18446744073709551615}"#,
        )
        .unwrap();
        assert_eq!((c.cpu_quota, c.memory_max, c.pids_max), (None, None, None));
        // id and runtime come from the subsystem when the record leaves them out.
        assert_eq!((c.id.as_str(), c.runtime.as_str()), ("abc", "podman"));
    }

    #[test]
    fn malformed_records_are_errors_naming_the_subsystem() {
        for bad in [
            &b"{"[..],
            b"[1,2]",
            br#"{"cpu_usage_usec":-5}"#,
            br#"{"memory_max":"lots"}"#,
        ] {
            let e = parse("container/docker/x1", bad).unwrap_err().to_string();
            assert!(e.contains("container/docker/x1"), "{e}");
        }
        assert!(parse("container/", b"{}").is_err(), "no id anywhere");
    }

    #[test]
    fn rates_over_five_seconds() {
        let p = parse("container/docker/a", A).unwrap();
        let mut c = p.clone();
        // +1,627,500 µs of CPU in 5 s = 1.6275 s / 5 s = 32.55 % of one core
        // (the older tool's containers.csv row at 1768021428 says 32.55).
        c.cpu_usage_usec = Some(2_923_730 + 1_627_500);
        c.cpu_user_usec = Some(2_477_237 + 1_619_000); // 32.38 %
        c.cpu_system_usec = Some(446_493 + 8_500); // 0.17 %
        c.cpu_periods = Some(83 + 50); // 50 periods, 20 throttled: 40 %
        c.cpu_throttled = Some(52 + 20);
        c.io_read_bytes = Some(50_896_896 + 8_978_432); // 8,978,432 B / 5 s = 1,795,686.4 B/s
        c.io_read_ops = Some(95 + 32); // 6.4 /s
        c.memory_current = Some(70_606_848); // / 536,870,912 = 13.1516... %
        let r = ContainerRates::between(&p, &c, 5.0).unwrap();
        assert!((r.cpu_pct.unwrap() - 32.55).abs() < 1e-9);
        assert!((r.cpu_user_pct.unwrap() - 32.38).abs() < 1e-9);
        assert!((r.cpu_system_pct.unwrap() - 0.17).abs() < 1e-9);
        assert_eq!(r.cpu_limit_cores, Some(0.5));
        assert!((r.throttled_pct.unwrap() - 40.0).abs() < 1e-9);
        assert!((r.read_bytes_per_s.unwrap() - 1_795_686.4).abs() < 1e-6);
        assert!((r.reads_per_s.unwrap() - 6.4).abs() < 1e-12);
        assert_eq!(r.write_bytes_per_s, Some(0.0));
        assert!((r.mem_pct.unwrap() - 13.151_550_292_968_75).abs() < 1e-9);
        assert_eq!(r.pids, Some(1.0));
    }

    #[test]
    fn names_by_id_prefix() {
        let names =
            names_from_json(br#"{"942b476921d8001bc53b": "web", "c699f0b00fb8aa": ""}"#).unwrap();
        assert_eq!(name_for(&names, "942b476921d8"), Some("web"));
        assert_eq!(name_for(&names, "942b476921d8001bc53b"), Some("web"));
        assert_eq!(name_for(&names, "942b47"), None, "too short to be an id");
        assert_eq!(name_for(&names, "c699f0b00fb8"), None, "empty name");
        assert!(names_from_json(b"[1]").is_err());
    }

    #[test]
    fn names_from_docker_ps() {
        let ps = "CONTAINER ID   IMAGE          COMMAND                  CREATED       STATUS          PORTS     NAMES\n\
                  c699f0b00fb8   ubuntu:24.04   \"/bin/bash -c 'apt-g…\"   6 hours ago   Up 13 minutes             loadtest-container-3\n";
        let names = docker_ps_names(ps);
        assert_eq!(
            name_for(&names, "c699f0b00fb8"),
            Some("loadtest-container-3")
        );
        assert!(
            docker_ps_names("NAME IMAGE\nx y\n").is_empty(),
            "not docker ps"
        );
    }

    #[test]
    fn a_restarted_container_gives_no_rates() {
        let p = parse("container/docker/a", A).unwrap();
        let mut c = p.clone();
        c.cpu_usage_usec = Some(10);
        assert_eq!(ContainerRates::between(&p, &c, 5.0), None);
    }
}
