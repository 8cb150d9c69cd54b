//! What the outputs are: a self-contained page, bounded in size whatever the
//! length of the data, PNG files, and a JSON summary.

use perfcore::metrics::{DeviceKind, Metric};
use perfreport::ReportOptions;

use crate::series::{cpu, device, machine};

#[test]
fn the_page_fetches_nothing_and_runs_nothing() {
    let m = machine("m<&>\"", 200, |i, r| cpu(r, (i % 100) as f64, 1.0, 0.0));
    let r = perfreport::build(&[m], &ReportOptions::default()).expect("report");
    let html = r.html();
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("<link"));
    assert!(!html.contains("src=\""));
    assert!(!html.contains("url("));
    // Only the SVG namespace is a URL.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(urls, html.matches("http://www.w3.org/2000/svg").count());
    // The machine id is escaped.
    assert!(html.contains("m&lt;&amp;&gt;&quot;"));
    assert!(!html.contains("m<&>\""));
}

#[test]
fn long_data_is_drawn_at_pixel_resolution_and_counted_in_full() {
    // 200,000 intervals of 1 s with one spike of 100% at one interval.
    let n = 200_000;
    let m = machine("long", n, |i, r| {
        cpu(r, if i == 123_456 { 100.0 } else { 10.0 }, 0.0, 0.0)
    });
    let r = perfreport::build(&[m], &ReportOptions::default()).expect("report");
    let html = r.html();
    assert!(html.len() < 600_000, "HTML {} bytes", html.len());
    let s = r.machines()[0].metric("cpu_user_pct").expect("stats");
    assert_eq!((s.count, s.max), (n as u64, 100.0));
    // The spike survives downsampling: the busy line reaches the top of the axis.
    let cpu_svg = html.split("data-chart=\"cpu\"").nth(1).expect("cpu chart");
    let cpu_svg = &cpu_svg[..cpu_svg.find("</svg>").expect("end of svg")];
    assert!(cpu_svg.contains("not idle, highest sample in the column"));
    // That line (drawn in #282828) reaches the 100% grid line at the spike.
    let attr = |tag: &str, name: &str| -> Option<String> {
        let i = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[i..i + tag[i..].find('"')?].to_owned())
    };
    let top_line_y = cpu_svg
        .split("<polyline")
        .skip(1)
        .filter(|p| attr(p, "stroke").as_deref() == Some("#282828"))
        .flat_map(|p| {
            attr(p, "points")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|xy| xy.split_once(',').and_then(|(_, y)| y.parse::<i32>().ok()))
                .collect::<Vec<_>>()
        })
        .min()
        .expect("the line's points");
    let label_100 = cpu_svg.find(">\n100\n</text>").expect("100% tick label");
    let tag_start = cpu_svg[..label_100].rfind("<text").expect("tick text");
    let y100: i32 = attr(&cpu_svg[tag_start..label_100], "y")
        .and_then(|y| y.parse().ok())
        .expect("tick y");
    assert_eq!(top_line_y, y100);
}

#[test]
fn pngs_are_written_with_the_bundled_font() {
    let mut m = machine("png", 100, |i, r| {
        cpu(r, 40.0, 0.0, 0.0);
        r.set(Metric::MemTotalBytes, Some(8e9));
        r.set(Metric::MemUsedBytes, Some(2e9 + i as f64 * 1e7));
    });
    m.devices
        .push(device(&m, DeviceKind::Cpu, "0", "idle_pct", |_| 60.0));
    m.devices
        .push(device(&m, DeviceKind::Cpu, "1", "idle_pct", |_| 60.0));
    let r = perfreport::build(&[m], &ReportOptions::default()).expect("report");
    let dir = tempfile::tempdir().expect("tmp");
    let files = r.pngs(dir.path()).expect("pngs");
    let ids = r.machines()[0].chart_ids();
    assert_eq!(files.len(), ids.len());
    for f in &files {
        let bytes = std::fs::read(f).expect("png");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", f.display());
        // width 960 in the IHDR chunk.
        assert_eq!(&bytes[16..20], &960u32.to_be_bytes());
        let (w, h, px) = decode_rgb(&bytes);
        assert_eq!(w, 960);
        // The title is drawn at (12, 10) in 24-pixel text of #222222 (glyphs from
        // y = 7 to 25): dark pixels in that band, starting at the left margin, and
        // none above it or between it and the legend (y = 46).
        let dark = |x: usize, y: usize| {
            let p = &px[(y * w + x) * 3..][..3];
            p.iter().all(|c| *c < 100)
        };
        let title: Vec<(usize, usize)> = (4..30)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| dark(x, y))
            .collect();
        assert!(
            title.len() > 300,
            "{}: {} dark pixels",
            f.display(),
            title.len()
        );
        let left = title.iter().map(|p| p.0).min().unwrap_or(0);
        let right = title.iter().map(|p| p.0).max().unwrap_or(0);
        assert!(
            (12..=16).contains(&left),
            "{}: title from x={left}",
            f.display()
        );
        assert!(right > left + 60, "{}: title to x={right}", f.display());
        assert!(
            (0..4).chain(30..44).all(|y| (0..w).all(|x| !dark(x, y))),
            "{}: nothing above or under the title",
            f.display()
        );
        assert!(h > 200);
    }
    assert!(files.iter().any(|f| f.ends_with("png-cpu-heatmap.png")));
}

#[test]
fn json_has_every_statistic_and_the_comparison() {
    let a = machine("a", 50, |_, r| cpu(r, 20.0, 0.0, 0.0));
    let b = machine("b", 50, |_, r| cpu(r, 60.0, 0.0, 0.0));
    let r = perfreport::build(&[a, b], &ReportOptions::default()).expect("report");
    let j = r.json();
    assert_eq!(j["schema"], perfreport::JSON_SCHEMA);
    let stats = &j["machines"][1]["metrics"]["cpu_user_pct"];
    for k in [
        "count", "min", "max", "avg", "stddev", "p50", "p75", "p90", "p95", "p97_5", "p99", "p100",
    ] {
        assert!(stats[k].is_number(), "{k}");
    }
    assert_eq!(stats["p95"], 60.0);
    let rows = j["comparison"]["rows"].as_array().expect("rows");
    let busy = rows
        .iter()
        .find(|r| r["key"] == "cpu_busy_pct.p95")
        .expect("busy row");
    assert_eq!(busy["values"], serde_json::json!([20.0, 60.0]));
    assert!(r.html().contains("id=\"comparison\""));
}

/// Width, height and RGB pixels of a PNG file's bytes.
fn decode_rgb(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().expect("png header");
    let mut px = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut px).expect("png data");
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight)
    );
    px.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, px)
}

#[test]
fn a_spike_of_blocked_tasks_survives_downsampling() {
    // 100,000 intervals: one task runnable, none blocked but 40 in one interval.
    let n = 100_000;
    let m = machine("blocked", n, |i, r| {
        cpu(r, 10.0, 0.0, 0.0);
        r.set(Metric::ProcsRunning, Some(1.0));
        r.set(
            Metric::ProcsBlocked,
            Some(if i == 54_321 { 40.0 } else { 0.0 }),
        );
    });
    let r = perfreport::build(&[m], &ReportOptions::default()).expect("report");
    assert_eq!(
        r.machines()[0].metric("procs_blocked").map(|s| s.max),
        Some(40.0)
    );
    let html = r.html();
    let svg = html
        .split("data-chart=\"load\"")
        .nth(1)
        .expect("load chart");
    let svg = &svg[..svg.find("</svg>").expect("end of svg")];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let i = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[i..i + tag[i..].find('"')?].to_owned())
    };
    let ys = |tag: &str| -> Vec<i32> {
        attr(tag, "points")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|xy| xy.split_once(',').and_then(|(_, y)| y.parse().ok()))
            .collect()
    };
    // The axis reaches 40: ticks 0, 10, …, 50.
    let tick_y = |label: &str| -> i32 {
        let at = svg
            .find(&format!(">\n{label}\n</text>"))
            .unwrap_or_else(|| panic!("tick {label}"));
        let start = svg[..at].rfind("<text").expect("tick text");
        attr(&svg[start..at], "y")
            .and_then(|y| y.parse().ok())
            .expect("tick y")
    };
    let y40 = tick_y("40");
    assert!(tick_y("50") < y40);
    // The blocked-tasks band (#D55E00) reaches the 40 grid line; its line, the
    // column average, stays near 0.
    let vermillion = |kind: &str, colour_attr: &str| -> Vec<i32> {
        svg.split(kind)
            .skip(1)
            .filter(|p| attr(p, colour_attr).as_deref() == Some("#D55E00"))
            .flat_map(&ys)
            .collect()
    };
    let band = vermillion("<polygon", "fill");
    assert_eq!(band.iter().min(), Some(&y40), "band of the spike");
    let line = vermillion("<polyline", "stroke");
    let y0 = tick_y("0");
    assert!(
        line.iter().all(|y| y0 - y <= (y0 - y40) / 10),
        "the average line stays low"
    );
}

/// The per-CPU heat map of a short series: every cell lies inside the plot. The
/// first interval ends where the time axis starts; its cell used to be drawn
/// left of the plot, over the cpuN labels.
#[test]
fn heat_map_cells_stay_inside_the_plot() {
    let mut m = machine("heat", 12, |_, r| cpu(r, 50.0, 0.0, 0.0));
    for id in ["0", "1"] {
        let d = device(&m, DeviceKind::Cpu, id, "idle_pct", |i| {
            if i == 0 { 0.0 } else { 50.0 }
        });
        m.devices.push(d);
    }
    let r = perfreport::build(&[m], &perfreport::ReportOptions::default()).unwrap();
    let html = r.html();
    let start = html
        .find("id=\"heat-cpu-heatmap\"")
        .or_else(|| html.find("cpu-heatmap"))
        .unwrap();
    let svg = &html[start..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    let attr = |tag: &str, name: &str| -> Option<f64> {
        let i = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        tag[i..].split('"').next()?.parse().ok()
    };
    // Rectangles below the legend: the grey plot background first, then the cells.
    let rects: Vec<(f64, f64, f64)> = svg
        .split("<rect")
        .skip(1)
        .filter_map(|t| Some((attr(t, "x")?, attr(t, "y")?, attr(t, "width")?)))
        .filter(|(_, y, _)| *y > 70.0)
        .collect();
    assert!(rects.len() >= 2, "{rects:?}");
    let (left, _, width) = rects[0];
    for (x, _, w) in &rects[1..] {
        assert!(
            *x >= left && x + w <= left + width + 0.5,
            "cell at {x} (+{w}) outside {left}..{}",
            left + width
        );
    }
}
