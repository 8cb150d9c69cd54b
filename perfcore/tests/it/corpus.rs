//! Every value stated in the corpus `expected.json` files, checked through the
//! snapshot JSON (the names `perfan snapshot` prints) or, for per-line inputs,
//! the parser of that file.

use std::path::{Path, PathBuf};

use perfcore::parse::{diskstats, loadavg, net_dev, pressure, stat};
use perfcore::reader::{LiveReader, ReaderConfig};
use perfcore::{RawSample, Source};
use serde_json::Value;

fn corpus() -> PathBuf {
    crate::fixtures().join("corpus")
}

fn cases() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for src in std::fs::read_dir(corpus()).unwrap() {
        let src = src.unwrap().path();
        if !src.is_dir() || src.ends_with("LICENSES") {
            continue;
        }
        for case in std::fs::read_dir(&src).unwrap() {
            let case = case.unwrap().path();
            if case.join("expected.json").exists() {
                v.push(case);
            }
        }
    }
    v.sort();
    v
}

/// Reads a case's proc tree with the live reader, as `perfan snapshot --proc-root` does.
fn read_tree(case: &Path) -> RawSample {
    let mut root = case.join("proc");
    // A per-process view (/proc/<pid>/net/dev, a network namespace) is read with the
    // pid's directory as the root, as `--proc-root /proc/<pid>` would.
    if !root.join("net/dev").exists()
        && let Some(pid_dir) = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.join("net/dev").exists())
    {
        root = pid_dir;
    }
    let mut r = LiveReader::open(ReaderConfig::with_proc_root(&root)).unwrap();
    let mut s = RawSample::default();
    r.read(&mut s).unwrap();
    s
}

/// Where in the snapshot JSON an expected.json key lives.
fn pointer(key: &str) -> Option<Vec<String>> {
    let parts = |prefix: &[&str], rest: &str| {
        let mut v: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        v.extend(rest.split('.').map(str::to_owned));
        Some(v)
    };
    if let Some(rest) = key.strip_prefix("cpu_total.") {
        return parts(&["stat", "cpu_total"], rest);
    }
    if let Some(rest) = key.strip_prefix("cpu.") {
        return parts(&["stat", "cpu"], rest);
    }
    for k in [
        "ctxt",
        "btime",
        "processes",
        "procs_running",
        "procs_blocked",
    ] {
        if key == k {
            return Some(vec!["stat".into(), k.into()]);
        }
    }
    for k in ["intr.", "softirq.", "page."] {
        if key.starts_with(k) && !key.contains('[') {
            return parts(&["stat"], key);
        }
    }
    if let Some(rest) = key.strip_prefix("meminfo.") {
        return Some(vec!["meminfo".into(), rest.into()]);
    }
    if let Some(rest) = key.strip_prefix("vmstat.") {
        return Some(vec!["vmstat".into(), rest.into()]);
    }
    if let Some(rest) = key.strip_prefix("pressure.") {
        return parts(&["pressure"], rest);
    }
    if ["load1", "load5", "load15"].contains(&key) {
        return Some(vec!["loadavg".into(), key.into()]);
    }
    // Names may contain dots (flannel.1) and colons: the field is after the last dot.
    for (prefix, src) in [("net_dev.", "net_dev"), ("diskstats.", "diskstats")] {
        if let Some(rest) = key.strip_prefix(prefix)
            && let Some((dev, field)) = rest.rsplit_once('.')
        {
            return Some(vec![src.into(), dev.into(), field.into()]);
        }
    }
    None
}

fn lookup<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn same_number(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == want,
    }
}

/// Keys whose values come from elsewhere than /proc sources we parse, with the reason.
fn not_ours(key: &str) -> Option<&'static str> {
    if key.starts_with("sys/kernel/random/entropy_avail") {
        return Some("entropy_avail is a separate file, not one of our sources (DESIGN 2.1)");
    }
    if key.starts_with("cpuinfo") || key.starts_with("cpu_info") || key.ends_with("_info") {
        return Some("checked key by key in parse::cpuinfo's fixture tests (procfs struct names)");
    }
    None
}

struct Tally {
    checked: usize,
    skipped: Vec<String>,
}

/// Checks the assertions of a case read as a proc tree.
fn check_tree_case(case: &Path, exp: &Value, tally: &mut Tally) {
    let raw = read_tree(case);
    let (snap, errors) = raw.parse_lenient();
    let case_error = exp.get("expect_error").is_some_and(|e| !e.is_null());
    if case_error {
        assert!(
            !errors.is_empty(),
            "{}: the source expects an error, we parsed it",
            case.display()
        );
        // Each error names one of the case's files (as the kernel path) and a
        // line of it; where the source says which text is bad, that line holds it.
        let inputs: Vec<&str> = exp["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let reason = exp["expect_error"]["reason"].as_str().unwrap_or_default();
        let quoted = reason.split('"').nth(1);
        for e in &errors {
            let perfcore::Error::Parse { file, line, .. } = e else {
                panic!("{}: not a parse error: {e}", case.display());
            };
            let input = inputs
                .iter()
                .find(|i| format!("/{i}") == *file)
                .unwrap_or_else(|| panic!("{}: {file} is not one of {inputs:?}", case.display()));
            assert!(*line >= 1, "{}: {e}", case.display());
            let text = std::fs::read_to_string(case.join(input)).unwrap();
            let bad_line = text.lines().nth(line - 1).unwrap_or_default();
            if let Some(q) = quoted {
                assert_eq!(bad_line, q, "{}: {e}", case.display());
            }
            assert!(
                e.to_string().starts_with(&format!("{file}: line {line}: ")),
                "{e}"
            );
        }
        tally.checked += 1;
        return;
    }
    assert!(errors.is_empty(), "{}: {errors:?}", case.display());
    let json = serde_json::to_value(&snap).unwrap();
    let absent: Vec<&str> = exp
        .get("absent_keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let stat_parsed = raw.get(Source::Stat).map(|b| stat::parse(b).unwrap());
    let disks = raw
        .get(Source::Diskstats)
        .map(|b| diskstats::parse(b).unwrap());
    for a in exp["assertions"].as_array().into_iter().flatten() {
        let key = a["key"].as_str().unwrap();
        let want = &a["expected"];
        if let Some(why) = not_ours(key) {
            tally.skipped.push(format!("{key}: {why}"));
            continue;
        }
        let ctx = format!("{} {key}", case.display());
        if let Some(rest) = key.strip_prefix("meminfo_bytes.") {
            let got = json["meminfo"].get(rest).and_then(Value::as_u64);
            match got {
                Some(kib) => assert_eq!(Some(kib * 1024), want.as_u64(), "{ctx}"),
                None => {
                    // telegraf reports an absent key as 0; we leave it out.
                    assert!(absent.contains(&rest), "{ctx}: missing");
                    assert_eq!(want.as_u64(), Some(0), "{ctx}");
                }
            }
        } else if let Some(i) = key
            .strip_prefix("intr.numbered[")
            .and_then(|r| r.strip_suffix(']'))
        {
            let i: usize = i.parse().unwrap();
            let got = stat_parsed.as_ref().unwrap().intr_numbered().nth(i);
            assert_eq!(got, want.as_u64(), "{ctx}");
        } else if key.contains('/') && want.is_array() {
            // Several keys at once: `load1/load5/load15` = [..].
            for (k, w) in key.split('/').zip(want.as_array().unwrap()) {
                let got = lookup(&json, &pointer(k).unwrap()).unwrap();
                assert!(same_number(got, w), "{ctx} {k}: got {got}, want {w}");
            }
        } else if want.is_object() && (key.starts_with("net_dev.") || key.starts_with("diskstats."))
        {
            // A whole device: `net_dev.<iface>` = {field: value, ...}.
            let (src, dev) = key.split_once('.').unwrap();
            for (f, w) in want.as_object().unwrap() {
                let got = json[src][dev]
                    .get(f)
                    .unwrap_or_else(|| panic!("{ctx}.{f}: missing"));
                assert!(same_number(got, w), "{ctx}.{f}: got {got}, want {w}");
            }
        } else if key == "diskstats.count" {
            assert_eq!(
                disks.as_ref().unwrap().len() as u64,
                want.as_u64().unwrap(),
                "{ctx}"
            );
        } else if let Some(src) = key.strip_suffix(".count") {
            let n = json[src].as_object().map(|o| o.len() as u64);
            assert_eq!(n, want.as_u64(), "{ctx}");
        } else if let Some(rest) = key.strip_prefix("diskstats[") {
            let (i, field) = rest.split_once("].").unwrap();
            let d = &disks.as_ref().unwrap()[i.parse::<usize>().unwrap()];
            let got: Value = match field {
                "device" => d.name.into(),
                "field_count" => (d.field_count() as u64).into(),
                f => d
                    .counters()
                    .find(|(n, _)| *n == f)
                    .map(|(_, v)| v.into())
                    .unwrap_or(Value::Null),
            };
            assert!(same_number(&got, want), "{ctx}: got {got}, want {want}");
        } else if want.is_null() {
            // Stated as absent (e.g. no `full` line in a cpu PSI file).
            let path = pointer(key).unwrap_or_else(|| panic!("{ctx}: unknown key form"));
            assert!(lookup(&json, &path).is_none(), "{ctx}: must be absent");
        } else {
            let path = pointer(key).unwrap_or_else(|| panic!("{ctx}: unknown key form"));
            let got = lookup(&json, &path).unwrap_or_else(|| panic!("{ctx}: not in snapshot JSON"));
            assert!(same_number(got, want), "{ctx}: got {got}, want {want}");
        }
        tally.checked += 1;
    }
    for key in &absent {
        assert!(
            json["meminfo"].get(*key).is_none(),
            "{}: {key} must be absent",
            case.display()
        );
    }
    if let Some(t) = exp.get("transcribed_by_corpus_builder") {
        tally.checked += check_transcription(case, t, &json, disks.as_deref());
    }
}

/// Compares the corpus builder's transcription (values read with a whitespace split).
fn check_transcription(
    case: &Path,
    t: &Value,
    json: &Value,
    disks: Option<&[diskstats::DiskStat<'_>]>,
) -> usize {
    let mut n = 0;
    let ctx = case.display().to_string();
    let mut cmp = |got: Option<&Value>, want: &Value, what: &str| {
        let got = got.unwrap_or_else(|| panic!("{ctx}: {what} missing"));
        assert!(
            same_number(got, want),
            "{ctx}: {what}: got {got}, want {want}"
        );
        n += 1;
    };
    let obj = t.as_object().unwrap();
    if obj.contains_key("cpu_total") {
        for (f, v) in t["cpu_total"].as_object().unwrap() {
            cmp(
                json["stat"]["cpu_total"].get(f),
                v,
                &format!("cpu_total.{f}"),
            );
        }
        for (id, fields) in t["cpu"].as_object().unwrap() {
            for (f, v) in fields.as_object().unwrap() {
                cmp(json["stat"]["cpu"][id].get(f), v, &format!("cpu.{id}.{f}"));
            }
        }
        for k in [
            "ctxt",
            "btime",
            "processes",
            "procs_running",
            "procs_blocked",
        ] {
            if let Some(v) = t.get(k) {
                cmp(json["stat"].get(k), v, k);
            }
        }
        cmp(
            json["stat"]["intr"].get("total"),
            &t["intr"]["total"],
            "intr.total",
        );
        for (f, v) in t["softirq"].as_object().unwrap() {
            if f == "vector_count" {
                let ours = json["stat"]["softirq"].as_object().unwrap().len() - 1;
                cmp(Some(&Value::from(ours)), v, "softirq vector count");
            } else {
                cmp(json["stat"]["softirq"].get(f), v, &format!("softirq.{f}"));
            }
        }
    } else if let Some(vals) = obj.get("values").and_then(Value::as_object) {
        let src = if vals.values().next().is_some_and(Value::is_object) {
            "meminfo"
        } else {
            "vmstat"
        };
        for (k, v) in vals {
            let want = if src == "meminfo" { &v["value"] } else { v };
            cmp(json[src].get(k), want, &format!("{src}.{k}"));
        }
    } else if let Some(ifaces) = obj.get("interfaces").and_then(Value::as_object) {
        for (name, fields) in ifaces {
            for (f, v) in fields.as_object().unwrap() {
                cmp(
                    json["net_dev"][name].get(f),
                    v,
                    &format!("net_dev.{name}.{f}"),
                );
            }
        }
    } else if let Some(rows) = obj.get("rows").and_then(Value::as_array) {
        let disks = disks.unwrap();
        assert_eq!(disks.len(), rows.len(), "{ctx}: row count");
        for r in rows {
            let d = &disks[r["index"].as_u64().unwrap() as usize];
            assert_eq!(d.name, r["device"].as_str().unwrap(), "{ctx}");
            assert_eq!(
                d.field_count() as u64,
                r["field_count"].as_u64().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                (d.major as u64, d.minor as u64),
                (r["major"].as_u64().unwrap(), r["minor"].as_u64().unwrap())
            );
            for (f, v) in d.counters() {
                assert_eq!(Some(v), r[f].as_u64(), "{ctx} {} {f}", d.name);
                n += 1;
            }
        }
    } else if obj.contains_key("load1") {
        for (k, ours) in [
            ("load1", "load1"),
            ("load5", "load5"),
            ("load15", "load15"),
            ("runnable", "runnable"),
            ("total_threads", "total_tasks"),
            ("last_pid", "last_pid"),
        ] {
            cmp(json["loadavg"].get(ours), &t[k], k);
        }
    } else if obj.contains_key("some") {
        // A single PSI file (cpu) transcribed at the top level.
        for (f, v) in t["some"].as_object().unwrap() {
            cmp(
                json["pressure"]["cpu"]["some"].get(f),
                v,
                &format!("some.{f}"),
            );
        }
    } else {
        for res in ["cpu", "io", "memory", "irq"] {
            let Some(r) = obj.get(res) else { continue };
            for (kind, fields) in r.as_object().unwrap() {
                for (f, v) in fields.as_object().unwrap() {
                    cmp(
                        json["pressure"][res][kind].get(f),
                        v,
                        &format!("pressure.{res}.{kind}.{f}"),
                    );
                }
            }
        }
    }
    n
}

/// Checks the assertions of a case whose inputs are single files (inline variants).
fn check_input_case(case: &Path, exp: &Value, tally: &mut Tally) {
    for a in exp["assertions"].as_array().unwrap() {
        let input = a["input"].as_str().unwrap();
        let bytes = std::fs::read(case.join(input)).unwrap();
        let want_err = a["expect_error"].as_bool().unwrap_or(false);
        let name = case.file_name().unwrap().to_str().unwrap();
        let ctx = format!("{name}/{input}");
        if name.starts_with("loadavg") {
            let r = loadavg::parse(&bytes);
            assert_eq!(r.is_err(), want_err, "{ctx}");
            if let Err(e) = &r {
                let want = if bytes.iter().all(u8::is_ascii_whitespace) {
                    "/proc/loadavg: empty file"
                } else {
                    "/proc/loadavg: line 1: "
                };
                assert!(e.to_string().starts_with(want), "{ctx}: {e}");
            }
            if let Ok(l) = r {
                let j = serde_json::to_value(l).unwrap();
                for (k, v) in a["expected"].as_object().unwrap() {
                    assert!(same_number(&j[k], v), "{ctx} {k}");
                }
            }
        } else if name.starts_with("pressure") {
            let r = pressure::parse(&bytes, pressure::Resource::Cpu);
            assert_eq!(r.is_err(), want_err, "{ctx}");
            if let Err(e) = &r {
                let bad = String::from_utf8_lossy(&bytes);
                let n = bad
                    .lines()
                    .position(|l| {
                        l.split_whitespace().any(|t| {
                            t.split_once('=')
                                .is_some_and(|(_, v)| v.parse::<f64>().is_err())
                        })
                    })
                    .map_or(1, |i| i + 1);
                assert!(
                    e.to_string()
                        .starts_with(&format!("/proc/pressure/cpu: line {n}: ")),
                    "{ctx}: {e}"
                );
            }
            if let Ok(p) = r {
                assert!(
                    p.some.is_none() && p.full.is_none(),
                    "{ctx}: unknown lines ignored"
                );
            }
        } else if name.starts_with("net-dev-line") {
            let devs = net_dev::parse(&bytes).unwrap();
            assert_eq!(devs.len(), 1, "{ctx}");
            let j = serde_json::to_value(net_dev::NetDevJson(&devs)).unwrap();
            let iface = a["key"].as_str().unwrap().strip_prefix("net_dev.").unwrap();
            for (k, v) in a["expected"].as_object().unwrap() {
                assert!(same_number(&j[iface][k], v), "{ctx} {iface}.{k}");
            }
        } else {
            panic!("{ctx}: no checker for this inline case");
        }
        tally.checked += 1;
    }
}

#[test]
fn every_expected_value_in_the_corpus() {
    let mut tally = Tally {
        checked: 0,
        skipped: Vec::new(),
    };
    let all = cases();
    assert!(all.len() >= 40, "found only {} cases", all.len());
    for case in &all {
        let exp: Value =
            serde_json::from_slice(&std::fs::read(case.join("expected.json")).unwrap()).unwrap();
        let Some(assertions) = exp.get("assertions").and_then(Value::as_array) else {
            if exp.get("expect_error").is_some() {
                check_tree_case(case, &exp, &mut tally);
            } else {
                // procfs/mountinfo-pid-26231 states no values (only a reference to the Go
                // test), and mountinfo is not one of our sources.
                tally.skipped.push(format!(
                    "mountinfo case {}: no values stated",
                    case.display()
                ));
            }
            continue;
        };
        let inline = assertions
            .iter()
            .any(|a| a.get("input").is_some_and(|i| !i.is_null()));
        if inline {
            check_input_case(case, &exp, &mut tally);
        } else if case.join("proc").is_dir() {
            check_tree_case(case, &exp, &mut tally);
        } else {
            panic!("{}: neither a proc tree nor inline inputs", case.display());
        }
    }
    // Only entropy_avail (not a source of ours) and cpuinfo (checked in its module) are skipped.
    assert!(
        tally.skipped.iter().all(|s| ["sys/", "cpu", "mountinfo"]
            .iter()
            .any(|p| s.starts_with(p))),
        "only entropy_avail, cpuinfo and the value-less mountinfo case may be skipped: {:?}",
        tally.skipped
    );
    assert!(tally.checked > 2500, "checked only {}", tally.checked);
    eprintln!(
        "corpus: {} values checked, {} delegated",
        tally.checked,
        tally.skipped.len()
    );
}
