//! Settings of `perfan record`: flags > environment (`PERFAN_*`, then the older
//! collector's `PCC_*`) > config file (`--config`, TOML) > defaults.
//!
//! Every value is checked here; a bad or unknown one is a [`UsageError`]
//! naming where it came from (exit code 2).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use perfcore::time::parse_go_duration;
use serde::Deserialize;

/// A setting that cannot be used; printed as one line, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// Shortest and longest sampling interval.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Longest sampling interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The config file (`--config`, TOML). Every key is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub interval: Option<String>,
    pub duration: Option<String>,
    pub output: Option<PathBuf>,
    pub format: Option<String>,
    pub db: Option<String>,
    pub tenant: Option<String>,
    pub commit_every: Option<String>,
    pub machine: Option<String>,
    pub server: Option<String>,
    pub api_key: Option<String>,
    pub protocol: Option<String>,
    pub spool_dir: Option<PathBuf>,
    pub spool_max: Option<String>,
    pub batch: Option<String>,
    pub timeout: Option<String>,
    pub retry_max: Option<String>,
    pub proc_root: Option<PathBuf>,
    pub rootfs: Option<PathBuf>,
    pub quiet: Option<bool>,
    pub containers: Option<bool>,
    pub cgroup_root: Option<PathBuf>,
}

impl FileConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<FileConfig, UsageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("config file {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| {
            UsageError(format!(
                "config file {}: {}",
                path.display(),
                e.to_string().replace('\n', " ").trim_end()
            ))
        })
    }
}

/// Output file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// The older collector's NDJSON capture.
    Pcc,
    /// Our CSV schema (wide file + devices file).
    Csv,
    /// The portal upload CSV.
    Portal,
}

impl OutputFormat {
    fn parse(s: &str, from: &str) -> Result<Self, UsageError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pcc" | "capture" | "ndjson" => Ok(OutputFormat::Pcc),
            "csv" => Ok(OutputFormat::Csv),
            "portal" => Ok(OutputFormat::Portal),
            _ => usage(format!("{from}: unknown format {s:?} (pcc, csv or portal)")),
        }
    }

    /// The format a file name suggests (`.csv` is our CSV, anything else a capture).
    fn from_path(p: &Path) -> Self {
        match p.extension().and_then(|e| e.to_str()) {
            Some("csv") => OutputFormat::Csv,
            _ => OutputFormat::Pcc,
        }
    }
}

/// How batches reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /api/v1/performance/upload`, gzipped capture chunks (multipart).
    Upload,
    /// The older collector's `POST /v1/trickle`, one tick per request.
    Trickle,
}

/// Where the samples go to a server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub url: String,
    pub api_key: String,
    pub protocol: Protocol,
    pub spool_dir: PathBuf,
    pub spool_max: u64,
    pub batch: Duration,
    pub timeout: Duration,
    pub retry_max: Duration,
}

/// Everything `perfan record` needs, resolved.
#[derive(Debug, Clone)]
pub struct RecordSettings {
    pub interval: Duration,
    pub duration: Option<Duration>,
    pub output: Option<(PathBuf, OutputFormat)>,
    pub db: Option<String>,
    pub tenant: String,
    /// `None`: the store sink's default (60 intervals, at most 60 s, on SQLite,
    /// whose uncommitted rows are journaled; 10 s on PostgreSQL).
    pub commit_every: Option<Duration>,
    pub machine: Option<String>,
    pub server: Option<ServerSettings>,
    pub proc_root: PathBuf,
    pub rootfs: PathBuf,
    pub quiet: bool,
    /// The cgroup v2 root whose containers are read each sample, when asked for.
    pub containers: Option<PathBuf>,
}

/// What the flags said (all optional: absent flags fall through to the next layer).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub interval: Option<String>,
    pub duration: Option<String>,
    pub output: Option<PathBuf>,
    pub format: Option<String>,
    pub db: Option<String>,
    pub tenant: Option<String>,
    pub commit_every: Option<String>,
    pub machine: Option<String>,
    pub server: Option<String>,
    pub api_key: Option<String>,
    pub protocol: Option<String>,
    pub spool_dir: Option<PathBuf>,
    pub spool_max: Option<String>,
    pub batch: Option<String>,
    pub timeout: Option<String>,
    pub retry_max: Option<String>,
    pub proc_root: Option<PathBuf>,
    pub rootfs: Option<PathBuf>,
    pub quiet: bool,
    pub containers: bool,
    pub cgroup_root: Option<PathBuf>,
}

/// A value and where it came from (for error messages).
#[derive(Debug, Clone)]
struct Val<T> {
    v: T,
    from: String,
}

fn pick<T: Clone>(layers: &[(Option<T>, String)]) -> Option<Val<T>> {
    layers.iter().find_map(|(v, from)| {
        v.clone().map(|v| Val {
            v,
            from: from.clone(),
        })
    })
}

/// Parses a sampling interval or duration: a Go duration (`10s`, `1h30m`,
/// `100ms`), or a bare number of seconds.
pub fn parse_duration(s: &str, from: &str) -> Result<Duration, UsageError> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(Duration::from_secs_f64(secs));
    }
    parse_go_duration(t).map_err(|e| UsageError(format!("{from}: {e}")))
}

/// Parses a strict Go duration (the older collector's `PCC_*` values).
fn parse_go(s: &str, from: &str) -> Result<Duration, UsageError> {
    parse_go_duration(s).map_err(|e| UsageError(format!("{from}: {e}")))
}

/// Parses a size: `100MB`, `512KiB`, `1G`, `4096` (bytes; K, M, G are powers of 1024).
pub fn parse_size(s: &str, from: &str) -> Result<u64, UsageError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => {
            return usage(format!(
                "{from}: unknown size unit in {s:?} (use B, KiB, MiB, GiB)"
            ));
        }
    };
    match num.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok((n * mult as f64) as u64),
        _ => usage(format!("{from}: not a size: {s:?} (like 100MiB)")),
    }
}

fn check_interval(d: Duration, from: &str) -> Result<Duration, UsageError> {
    if d < MIN_INTERVAL {
        return usage(format!(
            "{from}: interval {} is below the shortest, 100ms",
            perfcore::time::format_go_duration(d)
        ));
    }
    if d > MAX_INTERVAL {
        return usage(format!(
            "{from}: interval {} is above the longest, 24h",
            perfcore::time::format_go_duration(d)
        ));
    }
    Ok(d)
}

fn check_url(u: &str, from: &str) -> Result<String, UsageError> {
    let t = u.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(t.to_owned()),
        _ => usage(format!(
            "{from}: not a server URL: {u:?} (like https://perf.example.com)"
        )),
    }
}

/// Where the spool lives when not told: `$STATE_DIRECTORY/spool` (systemd's
/// `StateDirectory=`), `/var/lib/perfan/spool` for root, else
/// `$XDG_STATE_HOME/perfan/spool` or `~/.local/state/perfan/spool`.
pub fn default_spool_dir(env: &HashMap<String, String>) -> PathBuf {
    if let Some(d) = env.get("STATE_DIRECTORY").and_then(|s| s.split(':').next())
        && !d.is_empty()
    {
        return PathBuf::from(d).join("spool");
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/perfan/spool");
    }
    if let Some(x) = env.get("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(x).join("perfan/spool");
    }
    match env.get("HOME").filter(|s| !s.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/state/perfan/spool"),
        None => PathBuf::from("perfan-spool"),
    }
}

/// Resolves the layers into settings.
pub fn resolve(flags: &Flags, env: &HashMap<String, String>) -> Result<RecordSettings, UsageError> {
    let e = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
    let config_path = flags
        .config
        .clone()
        .or_else(|| e("PERFAN_CONFIG").map(PathBuf::from));
    let file = match &config_path {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let file_from = |key: &str| match &config_path {
        Some(p) => format!("{key} in {}", p.display()),
        None => key.to_owned(),
    };
    let flag = |name: &str| format!("--{name}");
    let envn = |name: &str| name.to_owned();

    // The older collector's mode decides what its other variables mean.
    let pcc_mode = e("PCC_MODE").map(|m| m.trim().to_ascii_lowercase());
    if let Some(m) = &pcc_mode
        && m != "local"
        && m != "trickle"
    {
        return usage(format!(
            "PCC_MODE: unknown mode {m:?} (local writes PCC_COLLECTION, trickle ships to PCC_SERVER_URL)"
        ));
    }
    let pcc_local = pcc_mode.as_deref() == Some("local");
    let pcc_trickle = pcc_mode.as_deref() == Some("trickle");
    if let Some(level) = e("PCC_LOGLEVEL") {
        let ok = [
            "debug", "info", "warn", "warning", "error", "trace", "fatal", "panic",
        ];
        if !ok.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return usage(format!("PCC_LOGLEVEL: unknown level {level:?}"));
        }
    }

    let interval = match pick(&[
        (flags.interval.clone(), flag("interval")),
        (e("PERFAN_INTERVAL"), envn("PERFAN_INTERVAL")),
        (e("PCC_FREQUENCY"), envn("PCC_FREQUENCY")),
        (file.interval.clone(), file_from("interval")),
    ]) {
        Some(v) => {
            let d = if v.from == "PCC_FREQUENCY" {
                parse_go(&v.v, &v.from)?
            } else {
                parse_duration(&v.v, &v.from)?
            };
            check_interval(d, &v.from)?
        }
        None => Duration::from_secs(10),
    };
    let duration = match pick(&[
        (flags.duration.clone(), flag("duration")),
        (e("PERFAN_DURATION"), envn("PERFAN_DURATION")),
        (e("PCC_DURATION"), envn("PCC_DURATION")),
        (file.duration.clone(), file_from("duration")),
    ]) {
        Some(v) => {
            let d = if v.from == "PCC_DURATION" {
                parse_go(&v.v, &v.from)?
            } else {
                parse_duration(&v.v, &v.from)?
            };
            // Zero means "until stopped", as for the older collector.
            (!d.is_zero()).then_some(d)
        }
        None => None,
    };

    let pcc_collection = if pcc_local {
        match e("PCC_COLLECTION") {
            Some(p) => Some(PathBuf::from(p)),
            None => {
                return usage("PCC_MODE=local needs PCC_COLLECTION (the capture file to write)");
            }
        }
    } else {
        None
    };
    let output = pick(&[
        (flags.output.clone(), flag("output")),
        (e("PERFAN_OUTPUT").map(PathBuf::from), envn("PERFAN_OUTPUT")),
        (pcc_collection, envn("PCC_COLLECTION")),
        (file.output.clone(), file_from("output")),
    ]);
    let format = match pick(&[
        (flags.format.clone(), flag("format")),
        (e("PERFAN_FORMAT"), envn("PERFAN_FORMAT")),
        (pcc_local.then(|| "pcc".to_owned()), envn("PCC_MODE")),
        (file.format.clone(), file_from("format")),
    ]) {
        Some(v) => Some(OutputFormat::parse(&v.v, &v.from)?),
        None => None,
    };
    let output = match (output, format) {
        (Some(o), f) => Some((
            o.v.clone(),
            f.unwrap_or_else(|| OutputFormat::from_path(&o.v)),
        )),
        (None, Some(_)) => return usage("--format needs --output FILE (where to write)"),
        (None, None) => None,
    };

    let server_default = pcc_trickle.then(|| "http://localhost:8080".to_owned());
    let server = pick(&[
        (flags.server.clone(), flag("server")),
        (e("PERFAN_SERVER"), envn("PERFAN_SERVER")),
        (e("PCC_SERVER_URL"), envn("PCC_SERVER_URL")),
        (file.server.clone(), file_from("server")),
        (server_default, envn("PCC_MODE")),
    ]);
    let api_key = pick(&[
        (flags.api_key.clone(), flag("api-key")),
        (e("PERFAN_API_KEY"), envn("PERFAN_API_KEY")),
        (e("PCC_APIKEY"), envn("PCC_APIKEY")),
        (file.api_key.clone(), file_from("api-key")),
    ]);
    let protocol = match pick(&[
        (flags.protocol.clone(), flag("protocol")),
        (e("PERFAN_PROTOCOL"), envn("PERFAN_PROTOCOL")),
        (pcc_trickle.then(|| "trickle".to_owned()), envn("PCC_MODE")),
        (file.protocol.clone(), file_from("protocol")),
    ]) {
        None => Protocol::Upload,
        Some(v) => match v.v.trim().to_ascii_lowercase().as_str() {
            "upload" => Protocol::Upload,
            "trickle" => Protocol::Trickle,
            _ => {
                return usage(format!(
                    "{}: unknown protocol {:?} (upload or trickle)",
                    v.from, v.v
                ));
            }
        },
    };
    let spool_max = match pick(&[
        (flags.spool_max.clone(), flag("spool-max")),
        (e("PERFAN_SPOOL_MAX"), envn("PERFAN_SPOOL_MAX")),
        (file.spool_max.clone(), file_from("spool-max")),
    ]) {
        Some(v) => parse_size(&v.v, &v.from)?,
        None => 100 << 20,
    };
    if spool_max < 64 << 10 {
        return usage("--spool-max: at least 64KiB");
    }
    let batch = match pick(&[
        (flags.batch.clone(), flag("batch")),
        (e("PERFAN_BATCH"), envn("PERFAN_BATCH")),
        (file.batch.clone(), file_from("batch")),
    ]) {
        Some(v) => parse_duration(&v.v, &v.from)?,
        None => Duration::from_secs(60),
    };
    let timeout = match pick(&[
        (flags.timeout.clone(), flag("timeout")),
        (e("PERFAN_TIMEOUT"), envn("PERFAN_TIMEOUT")),
        (file.timeout.clone(), file_from("timeout")),
    ]) {
        Some(v) => {
            let d = parse_duration(&v.v, &v.from)?;
            if d.is_zero() {
                return usage(format!("{}: the timeout must be longer than zero", v.from));
            }
            d
        }
        None => Duration::from_secs(10),
    };
    let retry_max = match pick(&[
        (flags.retry_max.clone(), flag("retry-max")),
        (e("PERFAN_RETRY_MAX"), envn("PERFAN_RETRY_MAX")),
        (file.retry_max.clone(), file_from("retry-max")),
    ]) {
        Some(v) => {
            let d = parse_duration(&v.v, &v.from)?;
            if d < Duration::from_millis(10) {
                return usage(format!("{}: at least 10ms", v.from));
            }
            d
        }
        None => Duration::from_secs(300),
    };
    let spool_dir = pick(&[
        (flags.spool_dir.clone(), flag("spool-dir")),
        (
            e("PERFAN_SPOOL_DIR").map(PathBuf::from),
            envn("PERFAN_SPOOL_DIR"),
        ),
        (file.spool_dir.clone(), file_from("spool-dir")),
    ])
    .map(|v| v.v)
    .unwrap_or_else(|| default_spool_dir(env));

    let server = match server {
        None => {
            if api_key.is_some() && flags.api_key.is_some() {
                return usage("--api-key needs --server URL");
            }
            None
        }
        Some(url) => {
            let url_s = check_url(&url.v, &url.from)?;
            let Some(key) = api_key else {
                return usage(format!(
                    "{} needs an API key: --api-key KEY, or PERFAN_API_KEY (PCC_APIKEY)",
                    url.from
                ));
            };
            if key.v.trim().is_empty() || key.v.contains(['\n', '\r']) {
                return usage(format!("{}: not a usable API key", key.from));
            }
            if interval < Duration::from_secs(1) {
                return usage(format!(
                    "shipping to a server needs --interval 1s or more (captures have one-second timestamps), not {}",
                    perfcore::time::format_go_duration(interval)
                ));
            }
            Some(ServerSettings {
                url: url_s,
                api_key: key.v.trim().to_owned(),
                protocol,
                spool_dir,
                spool_max,
                batch,
                timeout,
                retry_max,
            })
        }
    };
    if let Some((path, OutputFormat::Pcc)) = &output
        && interval < Duration::from_secs(1)
    {
        return usage(format!(
            "--format pcc needs --interval 1s or more (capture timestamps are whole seconds); {} would write several samples per second under one timestamp",
            path.display()
        ));
    }

    let machine = pick(&[
        (flags.machine.clone(), flag("machine")),
        (e("PERFAN_MACHINE"), envn("PERFAN_MACHINE")),
        (e("PCC_IDENTIFIER"), envn("PCC_IDENTIFIER")),
        (file.machine.clone(), file_from("machine")),
    ]);
    if let Some(m) = &machine
        && (m.v.trim().is_empty() || m.v.len() > 256 || m.v.contains(['\n', '\r', '\0']))
    {
        return usage(format!("{}: not a usable machine id: {:?}", m.from, m.v));
    }
    let db = pick(&[
        (flags.db.clone(), flag("db")),
        (e("PERFAN_DB"), envn("PERFAN_DB")),
        (file.db.clone(), file_from("db")),
    ])
    .map(|v| v.v);
    let tenant = pick(&[
        (flags.tenant.clone(), flag("tenant")),
        (e("PERFAN_TENANT"), envn("PERFAN_TENANT")),
        (file.tenant.clone(), file_from("tenant")),
    ])
    .map(|v| v.v)
    .unwrap_or_else(|| "default".to_owned());
    let commit_every = match pick(&[
        (flags.commit_every.clone(), flag("commit-every")),
        (e("PERFAN_COMMIT_EVERY"), envn("PERFAN_COMMIT_EVERY")),
        (file.commit_every.clone(), file_from("commit-every")),
    ]) {
        Some(v) => Some(parse_duration(&v.v, &v.from)?),
        None => None,
    };
    let proc_root = pick(&[
        (flags.proc_root.clone(), flag("proc-root")),
        (
            e("PERFAN_PROC_ROOT").map(PathBuf::from),
            envn("PERFAN_PROC_ROOT"),
        ),
        (file.proc_root.clone(), file_from("proc-root")),
    ])
    .map(|v| v.v)
    .unwrap_or_else(|| PathBuf::from("/proc"));
    let rootfs = pick(&[
        (flags.rootfs.clone(), flag("rootfs")),
        (e("PERFAN_ROOTFS").map(PathBuf::from), envn("PERFAN_ROOTFS")),
        (file.rootfs.clone(), file_from("rootfs")),
    ])
    .map(|v| v.v)
    .unwrap_or_else(|| PathBuf::from("/"));
    // A switch: the flag, else the environment (a boolean word), else the file.
    let switch = |flag: bool, name: &str, file: Option<bool>| -> Result<bool, UsageError> {
        if flag {
            return Ok(true);
        }
        match e(name) {
            Some(q) => match q.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(UsageError(format!("{name}: not a boolean: {q:?}"))),
            },
            None => Ok(file.unwrap_or(false)),
        }
    };
    let quiet = switch(flags.quiet, "PERFAN_QUIET", file.quiet)?;
    let want_containers = switch(flags.containers, "PERFAN_CONTAINERS", file.containers)?;
    let cgroup_root = pick(&[
        (flags.cgroup_root.clone(), flag("cgroup-root")),
        (
            e("PERFAN_CGROUP_ROOT").map(PathBuf::from),
            envn("PERFAN_CGROUP_ROOT"),
        ),
        (file.cgroup_root.clone(), file_from("cgroup-root")),
    ])
    .map(|v| v.v)
    .unwrap_or_else(|| rootfs.join("sys/fs/cgroup"));
    let containers = want_containers.then_some(cgroup_root);
    Ok(RecordSettings {
        interval,
        duration,
        output,
        db,
        tenant,
        commit_every,
        machine: machine.map(|m| m.v.trim().to_owned()),
        server,
        proc_root,
        rootfs,
        quiet,
        containers,
    })
}

/// The kernel release of the machine whose procfs is at `proc_root`
/// (`sys/kernel/osrelease`, what `uname -r` prints).
pub fn kernel_release(proc_root: &Path) -> Option<String> {
    let s = std::fs::read_to_string(proc_root.join("sys/kernel/osrelease")).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The machine id when none is given: `/etc/machine-id` (of the host root, then
/// our own), else the host name.
pub fn detect_machine_id(rootfs: &Path, proc_root: &Path) -> String {
    let candidates = [
        rootfs.join("etc/machine-id"),
        PathBuf::from("/etc/machine-id"),
    ];
    for p in candidates {
        if let Ok(s) = std::fs::read_to_string(&p) {
            let t = s.trim();
            if !t.is_empty() {
                return t.to_owned();
            }
        }
    }
    hostname(proc_root).unwrap_or_else(|| "unknown".to_owned())
}

/// The host name, from the proc root (the host's, in a container).
pub fn hostname(proc_root: &Path) -> Option<String> {
    let s = std::fs::read_to_string(proc_root.join("sys/kernel/hostname")).ok()?;
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m.insert("HOME".into(), "/home/u".into());
        m
    }

    fn err(flags: &Flags, e: &[(&str, &str)]) -> String {
        resolve(flags, &env(e)).unwrap_err().0
    }

    #[test]
    fn defaults() {
        let s = resolve(&Flags::default(), &env(&[])).unwrap();
        assert_eq!(s.interval, Duration::from_secs(10));
        assert_eq!(s.duration, None);
        assert!(s.output.is_none() && s.server.is_none());
        assert_eq!(s.proc_root, PathBuf::from("/proc"));
    }

    #[test]
    fn flags_beat_env_beat_pcc_beat_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("perfan.toml");
        std::fs::write(
            &cfg,
            "interval = \"30s\"\nduration = \"1h\"\nmachine = \"from-file\"\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[])).unwrap();
        assert_eq!(s.interval, Duration::from_secs(30));
        assert_eq!(s.machine.as_deref(), Some("from-file"));
        let s = resolve(
            &flags,
            &env(&[("PCC_FREQUENCY", "5s"), ("PCC_IDENTIFIER", "pcc-id")]),
        )
        .unwrap();
        assert_eq!(s.interval, Duration::from_secs(5));
        assert_eq!(s.machine.as_deref(), Some("pcc-id"));
        let s = resolve(
            &flags,
            &env(&[("PCC_FREQUENCY", "5s"), ("PERFAN_INTERVAL", "2s")]),
        )
        .unwrap();
        assert_eq!(s.interval, Duration::from_secs(2));
        let f2 = Flags {
            interval: Some("1s".into()),
            ..flags
        };
        let s = resolve(&f2, &env(&[("PERFAN_INTERVAL", "2s")])).unwrap();
        assert_eq!(s.interval, Duration::from_secs(1));
        assert_eq!(s.duration, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn pcc_local_and_trickle_modes() {
        let s = resolve(
            &Flags::default(),
            &env(&[
                ("PCC_MODE", "local"),
                ("PCC_COLLECTION", "/tmp/c.json"),
                ("PCC_FREQUENCY", "5s"),
                ("PCC_DURATION", "630s"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.output,
            Some((PathBuf::from("/tmp/c.json"), OutputFormat::Pcc))
        );
        assert_eq!(s.duration, Some(Duration::from_secs(630)));
        let s = resolve(
            &Flags::default(),
            &env(&[("PCC_MODE", "trickle"), ("PCC_APIKEY", "k1")]),
        )
        .unwrap();
        let srv = s.server.unwrap();
        assert_eq!(srv.url, "http://localhost:8080");
        assert_eq!(srv.protocol, Protocol::Trickle);
        assert_eq!(srv.api_key, "k1");
    }

    #[test]
    fn bad_values_name_their_source() {
        let d = Flags::default();
        assert_eq!(
            err(&d, &[("PCC_FREQUENCY", "5")]),
            "PCC_FREQUENCY: duration \"5\": missing unit (ns, us, ms, s, m, h)"
        );
        assert_eq!(
            err(&d, &[("PCC_MODE", "remote")]),
            "PCC_MODE: unknown mode \"remote\" (local writes PCC_COLLECTION, trickle ships to PCC_SERVER_URL)"
        );
        assert_eq!(
            err(&d, &[("PCC_MODE", "local")]),
            "PCC_MODE=local needs PCC_COLLECTION (the capture file to write)"
        );
        let f = Flags {
            interval: Some("50ms".into()),
            ..Default::default()
        };
        assert_eq!(
            err(&f, &[]),
            "--interval: interval 50ms is below the shortest, 100ms"
        );
        let f = Flags {
            interval: Some("25h".into()),
            ..Default::default()
        };
        assert!(err(&f, &[]).contains("above the longest"));
        let f = Flags {
            server: Some("perf.example.com".into()),
            api_key: Some("k".into()),
            ..Default::default()
        };
        assert!(err(&f, &[]).starts_with("--server: not a server URL"));
        let f = Flags {
            server: Some("http://127.0.0.1:1".into()),
            ..Default::default()
        };
        assert!(err(&f, &[]).contains("needs an API key"));
        let f = Flags {
            format: Some("xml".into()),
            output: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(
            err(&f, &[]),
            "--format: unknown format \"xml\" (pcc, csv or portal)"
        );
        assert_eq!(
            err(&d, &[("PERFAN_SPOOL_MAX", "12 parsecs")]),
            "PERFAN_SPOOL_MAX: unknown size unit in \"12 parsecs\" (use B, KiB, MiB, GiB)"
        );
        assert_eq!(
            err(&d, &[("PERFAN_QUIET", "maybe")]),
            "PERFAN_QUIET: not a boolean: \"maybe\""
        );
    }

    #[test]
    fn unknown_config_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, "intervall = \"5s\"\n").unwrap();
        let f = Flags {
            config: Some(cfg),
            ..Default::default()
        };
        let e = err(&f, &[]);
        assert!(e.contains("unknown field `intervall`"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn sub_second_captures_and_shipping_are_refused() {
        let f = Flags {
            interval: Some("100ms".into()),
            output: Some("c.json".into()),
            ..Default::default()
        };
        assert!(err(&f, &[]).starts_with("--format pcc needs --interval 1s or more"));
        let f = Flags {
            interval: Some("100ms".into()),
            output: Some("c.csv".into()),
            ..Default::default()
        };
        let s = resolve(&f, &env(&[])).unwrap();
        assert_eq!(s.output.unwrap().1, OutputFormat::Csv);
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("100MB", "x").unwrap(), 100 << 20);
        assert_eq!(parse_size("512KiB", "x").unwrap(), 512 << 10);
        assert_eq!(parse_size("4096", "x").unwrap(), 4096);
        assert_eq!(parse_size("1.5G", "x").unwrap(), 3 << 29);
        assert_eq!(parse_duration("10", "x").unwrap(), Duration::from_secs(10));
        assert_eq!(
            parse_duration("0.5", "x").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_duration("1h30m", "x").unwrap(),
            Duration::from_secs(5400)
        );
    }

    #[test]
    fn spool_dir_defaults() {
        let e = env(&[("STATE_DIRECTORY", "/var/lib/perfan")]);
        assert_eq!(
            default_spool_dir(&e),
            PathBuf::from("/var/lib/perfan/spool")
        );
    }
}
