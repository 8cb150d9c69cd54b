//! Drawing charts with plotters, the same way into SVG and into bitmaps.
//!
//! Text is measured and drawn with a bundled font (DejaVu Sans, through
//! plotters' `ab_glyph` backend): no fontconfig or freetype is needed at run
//! time, and measuring never fails for want of a system font.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{time_caption, time_ticks, value_label, value_ticks};
use super::palette::{self, heat_color, heat_level};
use super::{Bar, BarPlot, Body, Chart, HeatPlot, RadarPlot, Rgb, TimePlot};
use crate::format::{self, scale_for};

/// DejaVu Sans, licence in `assets/DejaVuSans-LICENSE.txt`.
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The name charts ask for; in SVG the browser's own sans-serif draws it.
const FAMILY: &str = "sans-serif";

const TITLE: u32 = 24;
const LABEL: u32 = 17;
const SMALL: u32 = 15;
const TEXT: Rgb = (34, 34, 34);
const MUTED: Rgb = (90, 90, 90);
const GRID: Rgb = (225, 225, 225);
const AXIS: Rgb = (110, 110, 110);
const PAD: i32 = 12;
/// Room right of a time axis: half of its widest tick label ("01-07 15:45"), so the
/// last one is not cut at the edge.
const RIGHT_PAD: i32 = 40;

type R = Result<(), String>;

fn ensure_font() -> R {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the bundled font could not be loaded".into())
    }
}

/// The chart as an SVG document (one `<svg>` element).
pub(crate) fn svg(chart: &Chart) -> Result<String, String> {
    ensure_font()?;
    let mut buf = String::with_capacity(32 * 1024);
    {
        let root =
            SVGBackend::with_string(&mut buf, (chart.width, chart.height)).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// The chart as RGB pixels, `width × height × 3` bytes.
pub(crate) fn rgb(chart: &Chart) -> Result<Vec<u8>, String> {
    ensure_font()?;
    let (w, h) = (chart.width as usize, chart.height as usize);
    let mut px = vec![255u8; w * h * 3];
    {
        let root =
            BitMapBackend::with_buffer(&mut px, (chart.width, chart.height)).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(px)
}

fn rgb_color(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

struct Canvas<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
}

impl<DB: DrawingBackend> Canvas<'_, DB> {
    fn style(size: u32, color: Rgb, h: HPos, v: VPos) -> TextStyle<'static> {
        TextStyle {
            font: (FAMILY, size).into_font(),
            color: rgb_color(color).to_backend_color(),
            pos: Pos::new(h, v),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn text(&self, s: &str, x: i32, y: i32, size: u32, color: Rgb, h: HPos, v: VPos) -> R {
        if s.is_empty() {
            return Ok(());
        }
        self.area
            .draw_text(s, &Self::style(size, color, h, v), (x, y))
            .map_err(|e| e.to_string())
    }

    fn width(&self, s: &str, size: u32) -> i32 {
        self.area
            .estimate_text_size(s, &Self::style(size, TEXT, HPos::Left, VPos::Top))
            .map(|(w, _)| w as i32)
            .unwrap_or((s.chars().count() as u32 * size / 2) as i32)
    }

    fn path(&self, pts: Vec<(i32, i32)>, color: Rgb, width: u32) -> R {
        if pts.len() < 2 {
            return Ok(());
        }
        let style = ShapeStyle {
            color: rgb_color(color).to_rgba(),
            filled: false,
            stroke_width: width,
        };
        self.area
            .draw(&PathElement::new(pts, style))
            .map_err(|e| e.to_string())
    }

    fn polygon(&self, pts: Vec<(i32, i32)>, color: Rgb, alpha: f64) -> R {
        if pts.len() < 3 {
            return Ok(());
        }
        self.area
            .draw(&Polygon::new(pts, rgb_color(color).mix(alpha).filled()))
            .map_err(|e| e.to_string())
    }

    fn rect(&self, a: (i32, i32), b: (i32, i32), color: Rgb, alpha: f64) -> R {
        self.area
            .draw(&Rectangle::new(
                [a, b],
                rgb_color(color).mix(alpha).filled(),
            ))
            .map_err(|e| e.to_string())
    }

    fn dot(&self, p: (i32, i32), r: u32, color: Rgb) -> R {
        self.area
            .draw(&Circle::new(p, r, rgb_color(color).filled()))
            .map_err(|e| e.to_string())
    }

    fn dashed(&self, x0: i32, x1: i32, y: i32, color: Rgb, width: u32) -> R {
        let mut x = x0;
        while x < x1 {
            self.path(vec![(x, y), ((x + 8).min(x1), y)], color, width)?;
            x += 14;
        }
        Ok(())
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> R {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let c = Canvas { area: root };
    c.text(&chart.title, PAD, 10, TITLE, TEXT, HPos::Left, VPos::Top)?;
    match &chart.body {
        Body::Time(p) => time_plot(&c, chart, p),
        Body::Heat(p) => heat_plot(&c, chart, p),
        Body::Bars(p) => bar_plot(&c, chart, p),
        Body::Radar(p) => radar_plot(&c, chart, p),
    }
}

/// One legend entry: how its swatch looks.
enum Swatch {
    Fill(Rgb, f64),
    Line(Rgb),
    Dashed(Rgb),
    Band(Rgb),
}

/// Lays out legend entries in rows under the title; returns the y below them.
fn legend<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    width: i32,
    items: &[(Swatch, String)],
) -> Result<i32, String> {
    let mut x = PAD;
    let mut y = 46;
    let row_h = 24;
    if items.is_empty() {
        return Ok(y);
    }
    for (sw, label) in items {
        let w = 26 + c.width(label, LABEL) + 18;
        if x > PAD && x + w > width - PAD {
            x = PAD;
            y += row_h;
        }
        let cy = y + 9;
        match sw {
            Swatch::Fill(col, a) => c.rect((x, cy - 7), (x + 18, cy + 7), *col, *a)?,
            Swatch::Line(col) => c.rect((x, cy - 2), (x + 20, cy + 1), *col, 1.0)?,
            Swatch::Dashed(col) => {
                c.path(vec![(x, cy), (x + 7, cy)], *col, 2)?;
                c.path(vec![(x + 12, cy), (x + 20, cy)], *col, 2)?;
            }
            Swatch::Band(col) => {
                c.rect((x, cy - 7), (x + 20, cy + 7), *col, 0.22)?;
                c.rect((x, cy - 1), (x + 20, cy + 1), *col, 1.0)?;
            }
        }
        c.text(label, x + 26, cy, LABEL, TEXT, HPos::Left, VPos::Center)?;
        x += w;
    }
    Ok(y + row_h)
}

/// Splits points at NaN into runs of pixel coordinates.
fn runs(x: &[i64], y: &[f64], map: &dyn Fn(i64, f64) -> (i32, i32)) -> Vec<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(i32, i32)> = Vec::new();
    for (xi, yi) in x.iter().zip(y) {
        if yi.is_finite() {
            let p = map(*xi, *yi);
            if cur.last() != Some(&p) {
                cur.push(p);
            }
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Polygons between two curves, split where either is NaN.
fn bands(
    x: &[i64],
    lo: &[f64],
    hi: &[f64],
    map: &dyn Fn(i64, f64) -> (i32, i32),
) -> Vec<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    let mut top: Vec<(i32, i32)> = Vec::new();
    let mut bottom: Vec<(i32, i32)> = Vec::new();
    let mut flush = |top: &mut Vec<(i32, i32)>, bottom: &mut Vec<(i32, i32)>| {
        if top.len() >= 2 {
            let mut poly = std::mem::take(top);
            poly.extend(bottom.drain(..).rev());
            out.push(poly);
        }
        top.clear();
        bottom.clear();
    };
    for (i, &xi) in x.iter().enumerate() {
        let (l, h) = (
            lo.get(i).copied().unwrap_or(f64::NAN),
            hi.get(i).copied().unwrap_or(f64::NAN),
        );
        if l.is_finite() && h.is_finite() {
            top.push(map(xi, h));
            bottom.push(map(xi, l));
        } else {
            flush(&mut top, &mut bottom);
        }
    }
    flush(&mut top, &mut bottom);
    out
}

fn time_plot<DB: DrawingBackend>(c: &Canvas<'_, DB>, chart: &Chart, p: &TimePlot) -> R {
    let (w, h) = (chart.width as i32, chart.height as i32);
    // Legend.
    let mut items: Vec<(Swatch, String)> = Vec::new();
    for a in &p.areas {
        items.push((Swatch::Fill(a.color, 0.85), a.label.clone()));
    }
    let any_band = p.lines.iter().any(|l| l.band.is_some());
    for l in p.lines.iter().filter(|l| l.legend) {
        items.push((Swatch::Line(l.color), l.label.clone()));
    }
    for r in &p.refs {
        items.push((Swatch::Dashed(r.color), r.label.clone()));
    }
    if any_band && p.reduced {
        items.push((
            Swatch::Band(palette::GREY),
            "shaded: min–max in each pixel column".into(),
        ));
    }
    let legend_bottom = legend(c, w, &items)?;

    // Y range over everything drawn.
    let mut up = 0f64;
    let mut down = 0f64;
    for a in &p.areas {
        for v in a.hi.iter().filter(|v| v.is_finite()) {
            up = up.max(*v);
        }
    }
    for l in &p.lines {
        let vals = l.band.as_ref().map(|b| &b.1).unwrap_or(&l.y);
        let m = vals
            .iter()
            .filter(|v| v.is_finite())
            .fold(0f64, |a, v| a.max(*v));
        if l.down {
            down = down.max(m);
        } else {
            up = up.max(m);
        }
    }
    for r in &p.refs {
        up = up.max(r.value);
    }
    let scale = scale_for(p.unit, up.max(down));
    let (top, ticks) = match p.y_max_fixed {
        Some(m) => value_ticks(m / scale.div, 5),
        // A little headroom, so that a peak does not sit on the frame.
        None => value_ticks(
            up.max(down) / scale.div * 1.03,
            if p.mirrored.is_some() { 3 } else { 5 },
        ),
    };
    let step = ticks.get(1).copied().unwrap_or(top);
    let top_raw = top * scale.div;
    let mirrored = p.mirrored.is_some();
    let (ymin, ymax) = if mirrored {
        (-top_raw, top_raw)
    } else {
        (0.0, top_raw)
    };

    // Plot area.
    let mut tick_labels: Vec<(f64, String)> =
        ticks.iter().map(|t| (*t, value_label(*t, step))).collect();
    if mirrored {
        let below: Vec<(f64, String)> = ticks
            .iter()
            .skip(1)
            .map(|t| (-*t, value_label(*t, step)))
            .collect();
        tick_labels.extend(below);
    }
    let label_w = tick_labels
        .iter()
        .map(|(_, s)| c.width(s, LABEL))
        .max()
        .unwrap_or(20);
    let left = PAD + label_w.max(24) + 10;
    let right = w - RIGHT_PAD;
    let plot_top = legend_bottom + 24;
    let bottom = h - 56;
    if bottom - plot_top < 40 || right - left < 80 {
        return Err("chart too small for its legend".into());
    }
    let (x0, x1) = if p.x1 > p.x0 {
        (p.x0, p.x1)
    } else {
        (p.x0 - 30_000, p.x0 + 30_000)
    };
    let xspan = (x1 - x0) as f64;
    let yspan = if ymax > ymin { ymax - ymin } else { 1.0 };
    let map = |x: i64, y: f64| -> (i32, i32) {
        let px = left as f64 + (x - x0) as f64 / xspan * (right - left) as f64;
        let yv = y.clamp(ymin, ymax);
        let py = bottom as f64 - (yv - ymin) / yspan * (bottom - plot_top) as f64;
        (px.round() as i32, py.round() as i32)
    };

    // Grid and axis labels.
    // A half is named only when a line with data is drawn in it.
    let half_has_data = |down: bool| {
        p.lines
            .iter()
            .any(|l| l.down == down && l.y.iter().any(|v| v.is_finite()))
    };
    let unit_line = match &p.mirrored {
        Some((upl, downl)) => {
            let mut s = scale.label.clone();
            if half_has_data(false) {
                s.push_str(&format!("    ▲ {upl}"));
            }
            if half_has_data(true) {
                s.push_str(&format!("   ▼ {downl}"));
            }
            s
        }
        None => scale.label.clone(),
    };
    c.text(
        &unit_line,
        PAD,
        plot_top - 10,
        LABEL,
        MUTED,
        HPos::Left,
        VPos::Bottom,
    )?;
    for (v, label) in &tick_labels {
        let (_, y) = map(x0, *v * scale.div);
        c.path(vec![(left, y), (right, y)], GRID, 1)?;
        c.text(label, left - 8, y, LABEL, MUTED, HPos::Right, VPos::Center)?;
    }
    let n_ticks = ((right - left) / 120).max(2) as usize;
    let tticks = time_ticks(x0, x1, n_ticks, p.relative);
    for (t, label) in &tticks {
        let (x, _) = map(*t, 0.0);
        c.path(vec![(x, plot_top), (x, bottom)], GRID, 1)?;
        c.path(vec![(x, bottom), (x, bottom + 5)], AXIS, 1)?;
        c.text(label, x, bottom + 8, LABEL, MUTED, HPos::Center, VPos::Top)?;
    }
    c.text(
        &time_caption(x0, x1, p.relative),
        (left + right) / 2,
        h - 6,
        LABEL,
        MUTED,
        HPos::Center,
        VPos::Bottom,
    )?;

    // Stacked areas.
    for a in &p.areas {
        for poly in bands(&a.x, &a.lo, &a.hi, &map) {
            c.polygon(poly, a.color, 0.85)?;
        }
    }
    // Bands, then lines over them.
    for l in &p.lines {
        if let Some((lo, hi)) = &l.band {
            let sign = if l.down { -1.0 } else { 1.0 };
            let lo_s: Vec<f64> = lo.iter().map(|v| v * sign).collect();
            let hi_s: Vec<f64> = hi.iter().map(|v| v * sign).collect();
            for poly in bands(&l.x, &lo_s, &hi_s, &map) {
                c.polygon(poly, l.color, 0.22)?;
            }
        }
    }
    for l in &p.lines {
        let sign = if l.down { -1.0 } else { 1.0 };
        let ys: Vec<f64> = l.y.iter().map(|v| v * sign).collect();
        for run in runs(&l.x, &ys, &map) {
            if run.len() == 1 {
                c.dot(run[0], l.width + 1, l.color)?;
            } else {
                c.path(run, l.color, l.width)?;
            }
        }
    }
    for r in &p.refs {
        let (_, y) = map(x0, r.value);
        c.dashed(left, right, y, r.color, 2)?;
    }

    // Axes.
    c.path(vec![(left, plot_top), (left, bottom)], AXIS, 1)?;
    let (_, zero) = map(x0, 0.0);
    c.path(vec![(left, zero), (right, zero)], AXIS, 1)?;
    Ok(())
}

fn heat_plot<DB: DrawingBackend>(c: &Canvas<'_, DB>, chart: &Chart, p: &HeatPlot) -> R {
    let (w, h) = (chart.width as i32, chart.height as i32);
    // Colour scale as the legend: levels 0..10 with their ranges.
    let y_leg = 46;
    c.text(
        &format!("{}:", p.what),
        PAD,
        y_leg + 9,
        LABEL,
        TEXT,
        HPos::Left,
        VPos::Center,
    )?;
    let mut x = PAD + c.width(&format!("{}:", p.what), LABEL) + 10;
    c.text("0%", x, y_leg + 9, LABEL, MUTED, HPos::Left, VPos::Center)?;
    x += c.width("0%", LABEL) + 6;
    for lvl in 0..palette::HEAT_LEVELS {
        c.rect((x, y_leg + 1), (x + 22, y_leg + 17), heat_color(lvl), 1.0)?;
        x += 22;
    }
    c.text(
        &format!("{}%", format::num(p.max)),
        x + 6,
        y_leg + 9,
        LABEL,
        MUTED,
        HPos::Left,
        VPos::Center,
    )?;
    x += 6 + c.width("100%", LABEL) + 24;
    c.rect((x, y_leg + 1), (x + 22, y_leg + 17), (236, 236, 236), 1.0)?;
    c.text(
        "no data",
        x + 28,
        y_leg + 9,
        LABEL,
        MUTED,
        HPos::Left,
        VPos::Center,
    )?;

    let plot_top = y_leg + 34;
    let bottom = h - 56;
    let rows = p.rows.len().max(1) as i32;
    let label_w = p.rows.iter().map(|r| c.width(r, SMALL)).max().unwrap_or(20);
    let left = PAD + label_w + 10;
    let right = w - RIGHT_PAD;
    let (x0, x1) = if p.x1 > p.x0 {
        (p.x0, p.x1)
    } else {
        (p.x0 - 30_000, p.x0 + 30_000)
    };
    let xspan = (x1 - x0) as f64;
    let px = |t: i64| -> i32 {
        (left as f64 + (t - x0) as f64 / xspan * (right - left) as f64).round() as i32
    };
    let row_h = ((bottom - plot_top) as f64 / rows as f64).max(1.0);
    c.rect((left, plot_top), (right, bottom), (236, 236, 236), 1.0)?;
    let every = ((14.0 / row_h).ceil() as usize).max(1);
    for (ri, vals) in p.values.iter().enumerate() {
        let y0 = plot_top + (ri as f64 * row_h).round() as i32;
        let y1 = plot_top + ((ri + 1) as f64 * row_h).round() as i32;
        // Neighbouring cells of the same colour become one rectangle.
        let mut run: Option<(i32, i32, usize)> = None;
        for (ci, v) in vals.iter().enumerate() {
            let Some(&(a, b)) = p.cols.get(ci) else { break };
            // Cells are cut to the plot: none reaches over the row labels.
            let (a, b) = (a.clamp(x0, x1), b.clamp(x0, x1));
            let (xa, xb) = (px(a), px(b).max(px(a) + 1).min(right));
            let lvl = if v.is_finite() {
                Some(heat_level(v / p.max))
            } else {
                None
            };
            match (run, lvl) {
                (Some((s, _, l)), Some(nl)) if l == nl => run = Some((s, xb, l)),
                (prev, nl) => {
                    if let Some((s, e, l)) = prev {
                        c.rect((s, y0), (e, y1), heat_color(l), 1.0)?;
                    }
                    run = nl.map(|l| (xa, xb, l));
                }
            }
        }
        if let Some((s, e, l)) = run {
            c.rect((s, y0), (e, y1), heat_color(l), 1.0)?;
        }
        if ri % every == 0 {
            c.text(
                &p.rows[ri],
                left - 6,
                (y0 + y1) / 2,
                SMALL,
                MUTED,
                HPos::Right,
                VPos::Center,
            )?;
        }
    }
    let n_ticks = ((right - left) / 120).max(2) as usize;
    for (t, label) in time_ticks(x0, x1, n_ticks, false) {
        let x = px(t);
        c.path(vec![(x, bottom), (x, bottom + 5)], AXIS, 1)?;
        c.text(&label, x, bottom + 8, LABEL, MUTED, HPos::Center, VPos::Top)?;
    }
    c.path(vec![(left, bottom), (right, bottom)], AXIS, 1)?;
    c.text(
        &time_caption(x0, x1, false),
        (left + right) / 2,
        h - 6,
        LABEL,
        MUTED,
        HPos::Center,
        VPos::Bottom,
    )
}

fn bar_plot<DB: DrawingBackend>(c: &Canvas<'_, DB>, chart: &Chart, p: &BarPlot) -> R {
    let w = chart.width as i32;
    let mut items: Vec<(Swatch, String)> =
        vec![(Swatch::Fill(palette::BLUE, 1.0), "used at the end".into())];
    if p.bars.iter().any(|b| b.marker.is_some()) {
        items.push((
            Swatch::Line(palette::BLACK),
            "highest during the report".into(),
        ));
    }
    for r in &p.refs {
        items.push((Swatch::Dashed(r.color), r.label.clone()));
    }
    let top = legend(c, w, &items)? + 8;
    let label_w = p
        .bars
        .iter()
        .map(|b| c.width(&b.label, LABEL))
        .max()
        .unwrap_or(40)
        .min(w / 3);
    let note_w = p
        .bars
        .iter()
        .map(|b| c.width(&b.note, SMALL))
        .max()
        .unwrap_or(40);
    let left = PAD + label_w + 12;
    let right = (w - PAD - note_w - 12).max(left + 100);
    let bar_h = 26;
    let max = if p.max > 0.0 { p.max } else { 1.0 };
    let px = |v: f64| left + ((v.clamp(0.0, max) / max) * (right - left) as f64).round() as i32;
    for (i, b) in p.bars.iter().enumerate() {
        let y = top + i as i32 * bar_h;
        bar_row(c, b, y, bar_h, left, right, &px)?;
    }
    let bottom = top + p.bars.len() as i32 * bar_h + 4;
    for r in &p.refs {
        let x = px(r.value);
        let mut y = top - 4;
        while y < bottom {
            c.path(vec![(x, y), (x, (y + 6).min(bottom))], r.color, 2)?;
            y += 10;
        }
    }
    c.path(vec![(left, bottom), (right, bottom)], AXIS, 1)?;
    for t in (0..=5).map(|i| max * i as f64 / 5.0) {
        let x = px(t);
        c.path(vec![(x, bottom), (x, bottom + 5)], AXIS, 1)?;
        c.text(
            &format::value(t, p.unit),
            x,
            bottom + 8,
            LABEL,
            MUTED,
            HPos::Center,
            VPos::Top,
        )?;
    }
    Ok(())
}

fn bar_row<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    b: &Bar,
    y: i32,
    bar_h: i32,
    left: i32,
    right: i32,
    px: &dyn Fn(f64) -> i32,
) -> R {
    let label = shorten(&b.label, 40);
    c.text(
        &label,
        left - 10,
        y + bar_h / 2,
        LABEL,
        TEXT,
        HPos::Right,
        VPos::Center,
    )?;
    c.rect((left, y + 4), (right, y + bar_h - 4), (238, 238, 238), 1.0)?;
    if b.value.is_finite() {
        c.rect(
            (left, y + 4),
            (px(b.value).max(left + 1), y + bar_h - 4),
            b.color,
            1.0,
        )?;
    }
    if let Some(m) = b.marker.filter(|m| m.is_finite()) {
        let x = px(m);
        c.rect((x - 1, y + 1), (x + 2, y + bar_h - 1), palette::BLACK, 1.0)?;
    }
    c.text(
        &b.note,
        right + 10,
        y + bar_h / 2,
        SMALL,
        TEXT,
        HPos::Left,
        VPos::Center,
    )
}

fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        s.to_owned()
    } else {
        let tail: String = s.chars().skip(n - (max - 1)).collect();
        format!("…{tail}")
    }
}

fn radar_plot<DB: DrawingBackend>(c: &Canvas<'_, DB>, chart: &Chart, p: &RadarPlot) -> R {
    let (w, h) = (chart.width as i32, chart.height as i32);
    let items: Vec<(Swatch, String)> = p
        .series
        .iter()
        .map(|(name, col, _)| (Swatch::Fill(*col, 0.6), name.clone()))
        .collect();
    let top = legend(c, w, &items)? + 30;
    let n = p.axes.len().max(3);
    let r = (((h - top - 40) / 2).min(w / 2 - 200)).max(40) as f64;
    let (cx, cy) = (w as f64 / 2.0, top as f64 + r + 6.0);
    let max = if p.max > 0.0 { p.max } else { 1.0 };
    let at = |i: usize, v: f64| -> (i32, i32) {
        let ang = -std::f64::consts::FRAC_PI_2 + i as f64 * std::f64::consts::TAU / n as f64;
        let rr = (v.clamp(0.0, max) / max) * r;
        (
            (cx + rr * ang.cos()).round() as i32,
            (cy + rr * ang.sin()).round() as i32,
        )
    };
    for ring in [0.25, 0.5, 0.75, 1.0] {
        let mut pts: Vec<(i32, i32)> = (0..n).map(|i| at(i, ring * max)).collect();
        pts.push(at(0, ring * max));
        c.path(pts, GRID, 1)?;
        // Labelled halfway between the first two axes, clear of the data's spokes.
        let (a, b) = (at(0, ring * max), at(1, ring * max));
        c.text(
            &format!("{}%", format::num(ring * max)),
            (a.0 + b.0) / 2,
            (a.1 + b.1) / 2,
            SMALL,
            MUTED,
            HPos::Center,
            VPos::Center,
        )?;
    }
    for i in 0..n {
        c.path(vec![at(i, 0.0), at(i, max)], GRID, 1)?;
    }
    for (_, col, vals) in &p.series {
        let pts: Vec<(i32, i32)> = (0..n)
            .map(|i| {
                at(
                    i,
                    vals.get(i)
                        .copied()
                        .filter(|v| v.is_finite())
                        .unwrap_or(0.0),
                )
            })
            .collect();
        c.polygon(pts.clone(), *col, 0.15)?;
        let mut closed = pts.clone();
        closed.push(pts[0]);
        c.path(closed, *col, 3)?;
        for p in pts {
            c.dot(p, 4, *col)?;
        }
    }
    // Axis names outside the outer ring (`at` clamps to it, so not through `at`).
    for (i, label) in p.axes.iter().enumerate() {
        let ang = -std::f64::consts::FRAC_PI_2 + i as f64 * std::f64::consts::TAU / n as f64;
        let (x, y) = (
            (cx + r * 1.07 * ang.cos()).round() as i32,
            (cy + r * 1.07 * ang.sin()).round() as i32,
        );
        let hpos = if (x as f64 - cx).abs() < 8.0 {
            HPos::Center
        } else if (x as f64) < cx {
            HPos::Right
        } else {
            HPos::Left
        };
        let vpos = if (y as f64) < cy - r * 0.9 {
            VPos::Bottom
        } else if (y as f64) > cy + r * 0.9 {
            VPos::Top
        } else {
            VPos::Center
        };
        c.text(label, x, y, LABEL, TEXT, hpos, vpos)?;
    }
    Ok(())
}
