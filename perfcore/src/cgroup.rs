//! Live per-container figures from cgroup v2: the containers of docker, podman,
//! containerd and CRI-O found under a cgroup root (`/sys/fs/cgroup`), read each
//! sample into capture records of the older container collector's form
//! (`container/<runtime>/<short id>`, a JSON object with its keys), so captures,
//! the store and reports treat them like the older tool's `container_collection.json`.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let c = dir.path().join("system.slice/docker-942b476921d8001bc53b35e48954a3a280e4a4cdceee8f13dc9396caf72de7f7.scope");
//! std::fs::create_dir_all(&c)?;
//! std::fs::write(c.join("cpu.stat"), "usage_usec 2923730\nuser_usec 2477237\nsystem_usec 446493\n")?;
//! std::fs::write(c.join("memory.current"), "58802176\n")?;
//! std::fs::write(c.join("memory.max"), "max\n")?;
//! let mut cg = perfcore::cgroup::Containers::new(dir.path());
//! let mut raw = perfcore::RawSample::new(0);
//! cg.read_into(&mut raw);
//! assert_eq!(raw.other[0].subsystem, "container/docker/942b476921d8");
//! let stat = perfcore::container::parse(&raw.other[0].subsystem, &raw.other[0].measurement)?;
//! assert_eq!((stat.cpu_usage_usec, stat.memory_max), (Some(2923730), None));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::snapshot::{OtherRecord, RawSample};

/// How deep under the root container cgroups are looked for (kubepods nest four levels).
const MAX_DEPTH: usize = 5;

/// One container cgroup found under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `docker`, `podman`, `containerd` or `crio`.
    pub runtime: &'static str,
    /// The full container id (64 hex digits).
    pub id: String,
    /// Its cgroup directory.
    pub dir: PathBuf,
}

/// The runtime and id of a cgroup directory named like a container's, if it is one.
///
/// Named as the runtimes name them: `docker-<id>.scope` (systemd driver) or
/// `<id>` under a `docker` directory (cgroupfs driver), `libpod-<id>.scope`,
/// `cri-containerd-<id>.scope`, `crio-<id>.scope`.
pub fn container_of(parent: &str, name: &str) -> Option<(&'static str, String)> {
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if parent == "docker" && hex64(name) {
        return Some(("docker", name.to_owned()));
    }
    let stem = name.strip_suffix(".scope")?;
    for (prefix, runtime) in [
        ("docker-", "docker"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-", "crio"),
    ] {
        if let Some(id) = stem.strip_prefix(prefix)
            && hex64(id)
        {
            return Some((runtime, id.to_owned()));
        }
    }
    None
}

/// Every container cgroup under `root`, in path order.
pub fn discover(root: &Path) -> Vec<Found> {
    let mut out = Vec::new();
    walk(root, "", 0, &mut out);
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

fn walk(dir: &Path, dir_name: &str, depth: usize, out: &mut Vec<Found>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        match container_of(dir_name, name) {
            // A container's own sub-cgroups (init.scope, ...) belong to it.
            Some((runtime, id)) => out.push(Found {
                runtime,
                id,
                dir: e.path(),
            }),
            None => walk(&e.path(), name, depth + 1, out),
        }
    }
}

/// Reads the cgroup files of one container into the older collector's record
/// keys; `None` when the cgroup is gone (the container stopped meanwhile).
///
/// Unlimited values are written as the container runtimes' APIs write them:
/// `cpu_quota` -1, `memory_max` and `pids_max` 0.
pub fn read_record(found: &Found) -> Option<Map<String, Value>> {
    let read = |f: &str| std::fs::read_to_string(found.dir.join(f)).ok();
    // cpu.stat exists in every cgroup v2 directory: without it the cgroup is gone.
    let cpu_stat = read("cpu.stat")?;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("container_id", Value::from(found.id.clone()));
    put("container_name", Value::from(""));
    put("runtime", Value::from(found.runtime));
    for (key, name) in [
        ("usage_usec", "cpu_usage_usec"),
        ("user_usec", "cpu_user_usec"),
        ("system_usec", "cpu_system_usec"),
        ("nr_periods", "cpu_periods"),
        ("nr_throttled", "cpu_throttled"),
        ("throttled_usec", "cpu_throttled_usec"),
    ] {
        if let Some(v) = keyed(&cpu_stat, key) {
            put(name, Value::from(v));
        }
    }
    if let Some(text) = read("cpu.max") {
        let mut it = text.split_whitespace();
        let quota = it.next().and_then(|q| q.parse::<i64>().ok()).unwrap_or(-1);
        put("cpu_quota", Value::from(quota));
        if let Some(p) = it.next().and_then(|p| p.parse::<u64>().ok()) {
            put("cpu_period", Value::from(p));
        }
    }
    let number = |t: Option<String>| t.and_then(|t| t.trim().parse::<u64>().ok());
    if let Some(v) = number(read("memory.current")) {
        put("memory_current", Value::from(v));
    }
    if let Some(t) = read("memory.max") {
        put(
            "memory_max",
            Value::from(t.trim().parse::<u64>().unwrap_or(0)),
        );
    }
    if let Some(t) = read("memory.stat") {
        for (key, name) in [
            ("anon", "memory_anon"),
            ("file", "memory_file"),
            ("kernel", "memory_kernel"),
            ("slab", "memory_slab"),
        ] {
            if let Some(v) = keyed(&t, key) {
                put(name, Value::from(v));
            }
        }
    }
    if let Some(t) = read("io.stat") {
        let mut sums = [0u64; 4];
        for line in t.lines() {
            for field in line.split_whitespace().skip(1) {
                let Some((k, v)) = field.split_once('=') else {
                    continue;
                };
                let i = match k {
                    "rbytes" => 0,
                    "wbytes" => 1,
                    "rios" => 2,
                    "wios" => 3,
                    _ => continue,
                };
                if let (Ok(v), Some(s)) = (v.parse::<u64>(), sums.get_mut(i)) {
                    *s = s.saturating_add(v);
                }
            }
        }
        for (name, v) in [
            "io_read_bytes",
            "io_write_bytes",
            "io_read_ops",
            "io_write_ops",
        ]
        .into_iter()
        .zip(sums)
        {
            put(name, Value::from(v));
        }
    }
    if let Some(v) = number(read("pids.current")) {
        put("pids_current", Value::from(v));
    }
    if let Some(t) = read("pids.max") {
        put(
            "pids_max",
            Value::from(t.trim().parse::<u64>().unwrap_or(0)),
        );
    }
    Some(m)
}

/// The value of `key` in a `key value` per line file (`cpu.stat`, `memory.stat`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The name docker or podman gave container `id`, read from their state under
/// `rootfs` (`var/lib/docker/containers/<id>/config.v2.json`, podman's
/// `var/lib/containers/storage/overlay-containers/containers.json`); `None` when
/// not readable (the agent is not root, another runtime).
pub fn runtime_name(rootfs: &Path, runtime: &str, id: &str) -> Option<String> {
    match runtime {
        "docker" => {
            let path = rootfs
                .join("var/lib/docker/containers")
                .join(id)
                .join("config.v2.json");
            let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
            let name = v.get("Name")?.as_str()?.trim_start_matches('/');
            (!name.is_empty()).then(|| name.to_owned())
        }
        "podman" => {
            let path = rootfs.join("var/lib/containers/storage/overlay-containers/containers.json");
            let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
            v.as_array()?
                .iter()
                .find(|c| c.get("id").and_then(Value::as_str) == Some(id))?
                .get("names")?
                .as_array()?
                .first()?
                .as_str()
                .map(str::to_owned)
        }
        _ => None,
    }
}

/// The containers under a cgroup root, looked for again every few samples
/// (containers come and go) and read every sample.
#[derive(Debug)]
pub struct Containers {
    root: PathBuf,
    found: Vec<Found>,
    /// Names by id, looked up once per container (with [`Containers::names_from`]).
    names: Vec<(String, String)>,
    rootfs: Option<PathBuf>,
    rescan_every: u64,
    reads: u64,
}

impl Containers {
    /// Containers under `root` (usually `/sys/fs/cgroup`), looked for every 10 samples.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Containers {
            root: root.into(),
            found: Vec::new(),
            names: Vec::new(),
            rootfs: None,
            rescan_every: 10,
            reads: 0,
        }
    }

    /// Names containers from the runtimes' state under `rootfs` (see [`runtime_name`]).
    pub fn names_from(mut self, rootfs: impl Into<PathBuf>) -> Self {
        self.rootfs = Some(rootfs.into());
        self
    }

    /// Looks for containers again every `n` samples (at least 1).
    pub fn rescan_every(mut self, n: u64) -> Self {
        self.rescan_every = n.max(1);
        self
    }

    /// The containers found by the last scan.
    pub fn found(&self) -> &[Found] {
        &self.found
    }

    /// Appends one record per running container to `raw.other`.
    pub fn read_into(&mut self, raw: &mut RawSample) {
        if self.reads.is_multiple_of(self.rescan_every) {
            self.found = discover(&self.root);
            if let Some(rootfs) = &self.rootfs {
                for f in &self.found {
                    if !self.names.iter().any(|(id, _)| *id == f.id)
                        && let Some(n) = runtime_name(rootfs, f.runtime, &f.id)
                    {
                        self.names.push((f.id.clone(), n));
                    }
                }
            }
        }
        self.reads += 1;
        let mut gone = false;
        for f in &self.found {
            match read_record(f) {
                Some(mut m) => {
                    if let Some((_, n)) = self.names.iter().find(|(id, _)| *id == f.id) {
                        m.insert("container_name".into(), Value::from(n.clone()));
                    }
                    let short: String = f.id.chars().take(12).collect();
                    raw.other.push(OtherRecord {
                        subsystem: format!("container/{}/{short}", f.runtime),
                        measurement: Value::Object(m).to_string().into_bytes(),
                    });
                }
                None => gone = true,
            }
        }
        if gone {
            // Look again next time rather than at the next scheduled scan.
            self.reads = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "942b476921d8001bc53b35e48954a3a280e4a4cdceee8f13dc9396caf72de7f7";

    #[test]
    fn names_of_container_cgroups() {
        assert_eq!(
            container_of("system.slice", &format!("docker-{ID}.scope")),
            Some(("docker", ID.to_owned()))
        );
        assert_eq!(container_of("docker", ID), Some(("docker", ID.to_owned())));
        assert_eq!(
            container_of("machine.slice", &format!("libpod-{ID}.scope")).map(|c| c.0),
            Some("podman")
        );
        assert_eq!(
            container_of("x", &format!("cri-containerd-{ID}.scope")).map(|c| c.0),
            Some("containerd")
        );
        assert_eq!(
            container_of("x", &format!("libpod-conmon-{ID}.scope")),
            None
        );
        assert_eq!(container_of("system.slice", "docker.service"), None);
        assert_eq!(
            container_of("system.slice", ID),
            None,
            "a bare id outside docker/"
        );
        assert_eq!(container_of("docker", &ID[..63]), None);
    }

    /// A cgroup directory holding what the older collector saw of container
    /// 942b476921d8 at its first tick (upstream container_collection.json).
    fn fixture_cgroup(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        let w = |f: &str, t: &str| std::fs::write(dir.join(f), t).unwrap();
        w(
            "cpu.stat",
            "usage_usec 2923730\nuser_usec 2477237\nsystem_usec 446493\ncore_sched.force_idle_usec 0\n\
             nr_periods 83\nnr_throttled 52\nthrottled_usec 2326325\nnr_bursts 0\nburst_usec 0\n",
        );
        w("cpu.max", "50000 100000\n");
        w("memory.current", "58802176\n");
        w("memory.max", "536870912\n");
        w(
            "memory.stat",
            "anon 110592\nfile 57663488\nkernel 1028096\nkernel_stack 16384\nslab 939776\nsock 0\n",
        );
        // Two devices: the record holds their sums.
        w(
            "io.stat",
            "8:0 rbytes=50000000 wbytes=11239424 rios=90 wios=15 dbytes=0 dios=0\n\
             253:0 rbytes=896896 wbytes=0 rios=5 wios=0 dbytes=0 dios=0\n",
        );
        w("pids.current", "1\n");
        w("pids.max", "4580\n");
    }

    #[test]
    fn a_record_is_the_older_collectors_byte_for_byte() {
        let root = tempfile::tempdir().unwrap();
        fixture_cgroup(&root.path().join(format!("system.slice/docker-{ID}.scope")));
        let found = discover(root.path());
        assert_eq!(found.len(), 1);
        let m = read_record(&found[0]).unwrap();
        let ours = Value::Object(m).to_string();
        let theirs = r#"{"container_id":"942b476921d8001bc53b35e48954a3a280e4a4cdceee8f13dc9396caf72de7f7","container_name":"","cpu_period":100000,"cpu_periods":83,"cpu_quota":50000,"cpu_system_usec":446493,"cpu_throttled":52,"cpu_throttled_usec":2326325,"cpu_usage_usec":2923730,"cpu_user_usec":2477237,"io_read_bytes":50896896,"io_read_ops":95,"io_write_bytes":11239424,"io_write_ops":15,"memory_anon":110592,"memory_current":58802176,"memory_file":57663488,"memory_kernel":1028096,"memory_max":536870912,"memory_slab":939776,"pids_current":1,"pids_max":4580,"runtime":"docker"}"#;
        assert_eq!(ours, theirs);
    }

    #[test]
    fn every_layout_is_found_and_unlimited_is_written_as_runtimes_do() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let other = ID.replace('9', "a");
        let third = ID.replace('4', "b");
        fixture_cgroup(&r.join(format!("system.slice/docker-{ID}.scope")));
        fixture_cgroup(&r.join(format!("docker/{other}")));
        let pod = r.join(format!(
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{third}.scope"
        ));
        fixture_cgroup(&pod);
        std::fs::write(pod.join("cpu.max"), "max 100000\n").unwrap();
        std::fs::write(pod.join("memory.max"), "max\n").unwrap();
        std::fs::write(pod.join("pids.max"), "max\n").unwrap();
        // Not containers: a service, and a container's own sub-cgroup is not another.
        std::fs::create_dir_all(r.join("system.slice/docker.service")).unwrap();
        std::fs::create_dir_all(r.join(format!("system.slice/docker-{ID}.scope/init.scope")))
            .unwrap();
        let found = discover(r);
        let mut got: Vec<(&str, &str)> = found.iter().map(|f| (f.runtime, f.id.as_str())).collect();
        got.sort();
        let mut want = vec![
            ("containerd", third.as_str()),
            ("docker", ID),
            ("docker", other.as_str()),
        ];
        want.sort();
        assert_eq!(got, want);
        let f = found.iter().find(|f| f.runtime == "containerd").unwrap();
        let m = read_record(f).unwrap();
        assert_eq!(m["cpu_quota"], -1);
        assert_eq!(m["memory_max"], 0);
        assert_eq!(m["pids_max"], 0);
        let stat = crate::container::parse(
            "container/containerd/x",
            Value::Object(m).to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (stat.cpu_quota, stat.memory_max, stat.pids_max),
            (None, None, None)
        );
    }

    #[test]
    fn samples_give_rates_and_a_stopped_container_drops_out() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(format!("system.slice/docker-{ID}.scope"));
        fixture_cgroup(&dir);
        let mut cg = Containers::new(root.path());
        let mut a = RawSample::new(1_000_000);
        cg.read_into(&mut a);
        // 5 s later: +1,627,500 µs of CPU = 32.55 % of one CPU; 50 more periods,
        // 20 throttled = 40 %.
        std::fs::write(
            dir.join("cpu.stat"),
            "usage_usec 4551230\nuser_usec 4096237\nsystem_usec 454993\nnr_periods 133\nnr_throttled 72\nthrottled_usec 2400000\n",
        )
        .unwrap();
        let mut b = RawSample::new(1_005_000);
        cg.read_into(&mut b);
        let iv = crate::Interval::between(&a.parse().unwrap(), &b.parse().unwrap()).unwrap();
        assert_eq!(iv.containers.len(), 1);
        let c = &iv.containers[0];
        assert_eq!(c.label, "942b476921d8");
        assert!((c.cpu_pct.unwrap() - 32.55).abs() < 1e-9);
        assert!((c.cpu_user_pct.unwrap() - 32.38).abs() < 1e-9);
        assert!((c.throttled_pct.unwrap() - 40.0).abs() < 1e-9);
        assert_eq!(c.cpu_limit_cores, Some(0.5));
        // The container stops: its cgroup goes, and so do its records.
        std::fs::remove_dir_all(&dir).unwrap();
        let mut c3 = RawSample::new(1_010_000);
        cg.read_into(&mut c3);
        assert!(c3.other.is_empty());
    }

    #[test]
    fn names_from_the_runtimes_state() {
        let root = tempfile::tempdir().unwrap();
        let rootfs = tempfile::tempdir().unwrap();
        fixture_cgroup(&root.path().join(format!("system.slice/docker-{ID}.scope")));
        let pod_id = ID.replace('9', "c");
        fixture_cgroup(
            &root
                .path()
                .join(format!("machine.slice/libpod-{pod_id}.scope")),
        );
        let cfg = rootfs.path().join("var/lib/docker/containers").join(ID);
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(
            cfg.join("config.v2.json"),
            r#"{"ID":"x","Name":"/web-1","State":{}}"#,
        )
        .unwrap();
        let pods = rootfs
            .path()
            .join("var/lib/containers/storage/overlay-containers");
        std::fs::create_dir_all(&pods).unwrap();
        std::fs::write(
            pods.join("containers.json"),
            format!(r#"[{{"id":"other","names":["x"]}},{{"id":"{pod_id}","names":["db"]}}]"#),
        )
        .unwrap();
        let mut cg = Containers::new(root.path()).names_from(rootfs.path());
        let mut raw = RawSample::new(0);
        cg.read_into(&mut raw);
        let mut names: Vec<String> = raw
            .other
            .iter()
            .map(|o| {
                crate::container::parse(&o.subsystem, &o.measurement)
                    .unwrap()
                    .name
            })
            .collect();
        names.sort();
        assert_eq!(names, ["db", "web-1"]);
        // Unreadable state: no name, no error.
        assert_eq!(runtime_name(Path::new("/nonexistent"), "docker", ID), None);
    }

    #[test]
    fn keyed_files() {
        let t = "usage_usec 10\nuser_usec 7\nsystem_usec 3\nnr_periods 5\n";
        assert_eq!(keyed(t, "user_usec"), Some(7));
        assert_eq!(keyed(t, "nr_throttled"), None);
        assert_eq!(keyed("usage_usecx 1\n", "usage_usec"), None);
    }
}
