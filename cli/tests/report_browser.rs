//! `perfan report` on every upstream capture (one machine each, and all of them
//! together), checked in a real browser: headless Chromium loads each HTML file,
//! every chart must render with a non-zero size, no request may leave the file,
//! the page must fit a phone's width, and screenshots (desktop, phone) plus a
//! printed PDF are kept under `test-artifacts/report/`.
//!
//! Chromium is Debian's `chromium` package (`scripts/ensure-chromium.sh`
//! installs it); without it this test fails rather than skips.
//!
//! ```sh
//! cargo test -p perfan --test report_browser
//! ```

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn upstream() -> PathBuf {
    root().join("../shared/fixtures/upstream")
}

fn artifacts() -> PathBuf {
    let d = root().join("test-artifacts/report");
    std::fs::create_dir_all(&d).expect("create test-artifacts/report");
    d
}

/// The upstream captures, by the name their reports get.
fn captures() -> Vec<(&'static str, PathBuf)> {
    let u = upstream();
    vec![
        (
            "azure-b1s-ubuntu",
            u.join("azure-b1s-ubuntu/pcc_collection.json"),
        ),
        (
            "azure-d4s-cpuinfo",
            u.join("azure-d4s-cpuinfo/loadtest-cpuinfo.json"),
        ),
        (
            "oci-e5-oraclelinux8",
            u.join("oci-e5-oraclelinux8/vm01_pcc_collection.json"),
        ),
        (
            "oci-e5-ubuntu24-containers",
            // The run directory: the host's capture and its containers' capture.
            u.join("oci-e5-ubuntu24-containers"),
        ),
    ]
}

/// Runs `perfan report` into `dir` and returns the HTML path and the JSON summary.
fn perfan_report(dir: &Path, name: &str, inputs: &[&Path], extra: &[&str]) -> (PathBuf, Value) {
    let html = dir.join(format!("{name}.html"));
    let json_path = dir.join(format!("{name}.json"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_perfan"));
    cmd.arg("report");
    for i in inputs {
        cmd.arg("--input").arg(i);
    }
    cmd.arg("-o").arg(&html).arg("--json").arg(&json_path);
    cmd.args(extra);
    let out = cmd.output().expect("run perfan");
    assert!(
        out.status.success(),
        "perfan report {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(&json_path).expect("read JSON"))
        .expect("JSON summary");
    (html, summary)
}

/// A minimal Chrome DevTools Protocol client over the browser's websocket.
struct Cdp {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
}

impl Cdp {
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut msg = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .expect("send to Chromium");
        self.next_id
    }

    fn read(&mut self, deadline: Instant) -> Value {
        loop {
            assert!(Instant::now() < deadline, "Chromium did not answer in time");
            match self.ws.read() {
                Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).expect("CDP JSON"),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => panic!("websocket: {e}"),
            }
        }
    }

    /// Calls a method and waits for its answer (events met on the way are kept).
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.send(session, method, params);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.read(deadline);
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Waits for an event of `method` on `session`.
    fn wait_event(&mut self, session: &str, method: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(i) = self
                .events
                .iter()
                .position(|e| e["method"] == method && e["sessionId"] == session)
            {
                return self.events.remove(i);
            }
            let v = self.read(deadline);
            self.events.push(v);
        }
    }
}

struct Browser {
    child: Child,
    cdp: Cdp,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch() -> Browser {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/ensure-chromium.sh (Debian's chromium package)"
    );
    let profile = tempfile::tempdir().expect("temp profile");
    let child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    // Chromium writes its port and browser endpoint here once it listens.
    let port_file = profile.path().join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (port, path) = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            let mut lines = text.lines();
            if let (Some(p), Some(path)) = (lines.next(), lines.next()) {
                break (p.trim().to_owned(), path.trim().to_owned());
            }
        }
        assert!(
            Instant::now() < deadline,
            "Chromium did not open its DevTools port"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (ws, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{port}{path}")).expect("connect to Chromium");
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("read timeout");
    }
    Browser {
        child,
        cdp: Cdp {
            ws,
            next_id: 0,
            events: Vec::new(),
        },
        _profile: profile,
    }
}

/// What the page showed.
struct Loaded {
    charts: Vec<(String, f64, f64, u64)>,
    requests: Vec<String>,
    phone_overflow: f64,
    /// Failed loads, console errors, security (CSP) messages, exceptions.
    problems: Vec<String>,
}

const MEASURE: &str = r#"(() => {
  const svgs = [...document.querySelectorAll('svg.chart')];
  return {
    charts: svgs.map(s => { const r = s.getBoundingClientRect();
      return [s.dataset.chart || '', r.width, r.height, s.querySelectorAll('polyline,polygon,rect,text').length]; }),
    scripts: document.scripts.length,
    title: document.title,
  };
})()"#;

fn load(b: &mut Browser, html: &Path, shot: &str, pdf: bool) -> Loaded {
    let cdp = &mut b.cdp;
    let target = cdp.call(None, "Target.createTarget", json!({"url": "about:blank"}));
    let target_id = target["targetId"].as_str().expect("target id").to_owned();
    let attached = cdp.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": target_id, "flatten": true}),
    );
    let s = attached["sessionId"].as_str().expect("session").to_owned();
    let s = s.as_str();
    cdp.call(Some(s), "Network.enable", json!({}));
    cdp.call(Some(s), "Page.enable", json!({}));
    // Console and security messages (a Content-Security-Policy violation is logged
    // there, and may block a request before it counts as sent).
    cdp.call(Some(s), "Log.enable", json!({}));
    cdp.call(Some(s), "Runtime.enable", json!({}));
    cdp.call(
        Some(s),
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    let url = format!(
        "file://{}",
        html.canonicalize().expect("report path").display()
    );
    cdp.call(Some(s), "Page.navigate", json!({"url": url}));
    cdp.wait_event(s, "Page.loadEventFired");
    let measured = cdp.call(
        Some(s),
        "Runtime.evaluate",
        json!({"expression": MEASURE, "returnByValue": true}),
    );
    let v = &measured["result"]["value"];
    assert_eq!(v["scripts"], 0, "the report must hold no script");
    let charts = v["charts"]
        .as_array()
        .expect("charts")
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap_or("").to_owned(),
                c[1].as_f64().unwrap_or(0.0),
                c[2].as_f64().unwrap_or(0.0),
                c[3].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // Full-page screenshot at desktop width.
    let metrics = cdp.call(Some(s), "Page.getLayoutMetrics", json!({}));
    let w = metrics["cssContentSize"]["width"]
        .as_f64()
        .unwrap_or(1200.0);
    let h = metrics["cssContentSize"]["height"]
        .as_f64()
        .unwrap_or(900.0);
    let shot_png = cdp.call(
        Some(s),
        "Page.captureScreenshot",
        json!({"format": "png", "captureBeyondViewport": true,
               "clip": {"x": 0, "y": 0, "width": w, "height": h.min(16000.0), "scale": 1}}),
    );
    save_png(&artifacts().join(format!("{shot}.png")), &shot_png);
    if pdf {
        let printed = cdp.call(
            Some(s),
            "Page.printToPDF",
            json!({"printBackground": false}),
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(printed["data"].as_str().unwrap_or(""))
            .expect("PDF base64");
        assert!(
            bytes.starts_with(b"%PDF") && bytes.len() > 20_000,
            "printed PDF"
        );
        std::fs::write(artifacts().join(format!("{shot}.pdf")), bytes).expect("write PDF");
    }
    // A phone: the page must not be wider than the screen (charts scroll inside).
    cdp.call(
        Some(s),
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
    );
    let over = cdp.call(
        Some(s),
        "Runtime.evaluate",
        json!({"expression": "document.documentElement.scrollWidth - window.innerWidth", "returnByValue": true}),
    );
    let phone_overflow = over["result"]["value"].as_f64().unwrap_or(f64::INFINITY);
    let phone = cdp.call(Some(s), "Page.captureScreenshot", json!({"format": "png"}));
    save_png(&artifacts().join(format!("{shot}-phone.png")), &phone);
    cdp.call(
        Some(s),
        "Runtime.evaluate",
        json!({"expression": "document.querySelector('figure').scrollIntoView()", "returnByValue": true}),
    );
    let phone = cdp.call(Some(s), "Page.captureScreenshot", json!({"format": "png"}));
    save_png(&artifacts().join(format!("{shot}-phone-chart.png")), &phone);
    let requests = cdp
        .events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent" && e["sessionId"] == s)
        .map(|e| {
            e["params"]["request"]["url"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let problems = cdp
        .events
        .iter()
        .filter(|e| e["sessionId"] == s)
        .filter(|e| {
            e["method"] == "Network.loadingFailed"
                || e["method"] == "Runtime.exceptionThrown"
                || (e["method"] == "Log.entryAdded"
                    && (e["params"]["entry"]["level"] == "error"
                        || e["params"]["entry"]["source"] == "security"
                        || e["params"]["entry"]["source"] == "violation"))
                || (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
        })
        .map(|e| e.to_string())
        .collect();
    cdp.events.retain(|e| e["sessionId"] != s);
    cdp.call(None, "Target.closeTarget", json!({"targetId": target_id}));
    Loaded {
        charts,
        requests,
        phone_overflow,
        problems,
    }
}

fn save_png(path: &Path, shot: &Value) {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap_or(""))
        .expect("screenshot base64");
    assert!(bytes.starts_with(b"\x89PNG"), "screenshot is a PNG");
    std::fs::write(path, bytes).expect("write screenshot");
}

/// Chart ids the JSON summary lists (all machines, then the comparison).
fn chart_ids(summary: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for m in summary["machines"].as_array().into_iter().flatten() {
        for c in m["charts"].as_array().into_iter().flatten() {
            ids.push(c["id"].as_str().unwrap_or("").to_owned());
        }
    }
    for c in summary["comparison"]["charts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        ids.push(c["id"].as_str().unwrap_or("").to_owned());
    }
    ids
}

fn check(name: &str, html: &Path, summary: &Value, loaded: &Loaded) {
    let want = chart_ids(summary);
    assert!(!want.is_empty(), "{name}: no chart at all");
    let mut got: Vec<String> = loaded.charts.iter().map(|c| c.0.clone()).collect();
    let mut want_sorted = want.clone();
    got.sort();
    want_sorted.sort();
    assert_eq!(
        got, want_sorted,
        "{name}: every chart of the summary is on the page"
    );
    for (id, w, h, shapes) in &loaded.charts {
        assert!(
            *w > 300.0 && *h > 100.0,
            "{name}: chart {id} rendered {w}×{h}"
        );
        assert!(*shapes > 10, "{name}: chart {id} has only {shapes} shapes");
    }
    let me = format!("file://{}", html.canonicalize().expect("path").display());
    assert_eq!(
        loaded.requests,
        vec![me],
        "{name}: the page itself is the only request"
    );
    assert!(
        loaded.problems.is_empty(),
        "{name}: the page logged problems: {:?}",
        loaded.problems
    );
    assert!(
        loaded.phone_overflow <= 1.0,
        "{name}: wider than a phone by {} px",
        loaded.phone_overflow
    );
}

#[test]
fn reports_of_the_upstream_captures_render_in_chromium() {
    let mut browser = launch();
    let mut all = Vec::new();
    for (i, (name, capture)) in captures().iter().enumerate() {
        let (html, summary) = perfan_report(&artifacts(), name, &[capture], &["--machine", name]);
        assert_eq!(summary["machines"][0]["machine_id"], *name);
        if *name == "oci-e5-ubuntu24-containers" {
            let ids = chart_ids(&summary);
            for id in ["containers-cpu", "containers-memory", "cpu-heatmap"] {
                assert!(ids.iter().any(|c| c == id), "{id} in {ids:?}");
            }
        }
        let loaded = load(&mut browser, &html, name, i == 0);
        check(name, &html, &summary, &loaded);
        all.push(capture.clone());
    }
    // All machines in one report: the comparison page.
    let inputs: Vec<&Path> = all.iter().map(PathBuf::as_path).collect();
    let names: Vec<&str> = captures().iter().map(|c| c.0).collect();
    let mut extra: Vec<&str> = Vec::new();
    for n in &names {
        extra.push("--machine");
        extra.push(n);
    }
    // The older per-subsystem CSV directory of one of them.
    let dir = upstream().join("oci-e5-oraclelinux8/vm01_processed");
    let (html, summary) = perfan_report(&artifacts(), "pcprocess-oraclelinux8", &[&dir], &[]);
    assert_eq!(
        summary["machines"][0]["sources"][0],
        "per-subsystem CSV (pcprocess)"
    );
    let loaded = load(&mut browser, &html, "pcprocess-oraclelinux8", false);
    check("pcprocess-oraclelinux8", &html, &summary, &loaded);
    let (html, summary) = perfan_report(&artifacts(), "fleet", &inputs, &extra);
    assert_eq!(summary["machines"].as_array().map(Vec::len), Some(4));
    assert!(chart_ids(&summary).iter().any(|c| c == "compare-radar"));
    let loaded = load(&mut browser, &html, "fleet", false);
    check("fleet", &html, &summary, &loaded);
}

/// A capture recorded here and now by `perfan record`: unlike the upstream ones it
/// holds /proc/loadavg, /proc/vmstat and /proc/pressure, so the load and PSI charts
/// are drawn too, and must render.
#[test]
fn report_of_a_live_recording_renders_load_and_pressure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cap = dir.path().join("live.json");
    // Some work while recording, so the rates are not all zero.
    let busy = std::thread::spawn(|| {
        let until = Instant::now() + Duration::from_millis(3500);
        let mut x = 0u64;
        while Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        x
    });
    let out = Command::new(env!("CARGO_BIN_EXE_perfan"))
        .args([
            "record",
            "--interval",
            "1s",
            "--duration",
            "5s",
            "--format",
            "pcc",
        ])
        .arg("--output")
        .arg(&cap)
        .env_remove("PERFAN_DB")
        .output()
        .expect("run perfan record");
    busy.join().expect("busy thread");
    assert!(
        out.status.success(),
        "perfan record: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (html, summary) = perfan_report(&artifacts(), "live-recording", &[&cap], &[]);
    let m = &summary["machines"][0];
    let n = m["metrics"]["cpu_busy_pct"]["count"].as_u64().unwrap_or(0);
    assert!((4..=5).contains(&n), "5 s at 1 s: {n} intervals");
    let ids = chart_ids(&summary);
    assert!(ids.iter().any(|c| c == "load"), "{ids:?}");
    assert!(m["metrics"]["load1"]["count"].as_u64() == Some(n), "{m}");
    if Path::new("/proc/pressure/cpu").exists() {
        assert!(ids.iter().any(|c| c == "psi"), "{ids:?}");
    }
    let mut browser = launch();
    let loaded = load(&mut browser, &html, "live-recording", false);
    check("live-recording", &html, &summary, &loaded);
}

#[test]
fn sysbench_runs_are_found_and_an_idle_machine_is_not_flagged() {
    // The B1s and the Ubuntu 24 host ran sysbench CPU load (sysbench_cpu.log,
    // host_sysbench.log: 600 s of the 630 s capture); the D4s was idle.
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, busy) in [
        ("azure-b1s-ubuntu", true),
        ("oci-e5-ubuntu24-containers", true),
        ("azure-d4s-cpuinfo", false),
    ] {
        let capture = captures()
            .into_iter()
            .find(|c| c.0 == name)
            .map(|c| c.1)
            .expect("capture");
        let (_, summary) = perfan_report(dir.path(), name, &[&capture], &["--machine", name]);
        let ids: Vec<&str> = summary["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["id"].as_str())
            .collect();
        assert_eq!(ids.contains(&"cpu_saturation"), busy, "{name}: {ids:?}");
        if busy {
            let f = &summary["findings"][0];
            assert_eq!(f["severity"], "critical", "{name}");
            assert!(
                f["time_share"].as_f64().unwrap_or(0.0) > 0.85,
                "{name}: {f}"
            );
        }
    }
}
