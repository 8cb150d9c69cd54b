//! Charts as data (what to draw, already downsampled), drawn by [`render`]
//! with plotters into SVG (for the HTML) or a bitmap (for PNG files).

pub(crate) mod axis;
pub(crate) mod render;

use crate::format::Unit;

/// An sRGB colour.
pub(crate) type Rgb = (u8, u8, u8);

/// The Okabe–Ito palette: told apart by readers with any common colour-vision
/// deficiency, and distinct in greyscale print by lightness.
pub(crate) mod palette {
    use super::Rgb;
    pub const BLUE: Rgb = (0, 114, 178);
    pub const ORANGE: Rgb = (230, 159, 0);
    pub const SKY: Rgb = (86, 180, 233);
    pub const GREEN: Rgb = (0, 158, 115);
    pub const YELLOW: Rgb = (240, 228, 66);
    pub const VERMILLION: Rgb = (213, 94, 0);
    pub const PURPLE: Rgb = (204, 121, 167);
    pub const BLACK: Rgb = (40, 40, 40);
    pub const GREY: Rgb = (128, 128, 128);
    /// Series colours in order of use (yellow last: weak as a line on white).
    pub const SERIES: [Rgb; 8] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK, YELLOW];

    /// The colour of the `i`th series.
    pub fn series(i: usize) -> Rgb {
        SERIES[i % SERIES.len()]
    }

    /// ColorBrewer YlGnBu, light (idle) to dark (busy): sequential, safe for
    /// colour-blind readers and monotonic in greyscale.
    pub const HEAT: [Rgb; 9] = [
        (255, 255, 217),
        (237, 248, 177),
        (199, 233, 180),
        (127, 205, 187),
        (65, 182, 196),
        (29, 145, 192),
        (34, 94, 168),
        (37, 52, 148),
        (8, 29, 88),
    ];

    /// Number of colour levels of the heat map.
    pub const HEAT_LEVELS: usize = 10;

    /// The level (0..HEAT_LEVELS) of a fraction 0..=1.
    pub fn heat_level(f: f64) -> usize {
        if !f.is_finite() || f <= 0.0 {
            return 0;
        }
        ((f * HEAT_LEVELS as f64) as usize).min(HEAT_LEVELS - 1)
    }

    /// The colour of a heat level, interpolated along [`HEAT`].
    pub fn heat_color(level: usize) -> Rgb {
        let f = level.min(HEAT_LEVELS - 1) as f64 / (HEAT_LEVELS - 1) as f64;
        let pos = f * (HEAT.len() - 1) as f64;
        let i = (pos.floor() as usize).min(HEAT.len() - 2);
        let t = pos - i as f64;
        let (a, b) = (HEAT[i], HEAT[i + 1]);
        let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
        (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// One chart.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// Unique within a machine; names the PNG file.
    pub id: String,
    /// Shown at the top of the chart.
    pub title: String,
    /// Size in pixels.
    pub width: u32,
    pub height: u32,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Time(TimePlot),
    Heat(HeatPlot),
    Bars(BarPlot),
    Radar(RadarPlot),
}

/// Series over time.
#[derive(Debug, Clone)]
pub(crate) struct TimePlot {
    pub x0: i64,
    pub x1: i64,
    /// X values are offsets from each series' start, not times.
    pub relative: bool,
    pub unit: Unit,
    /// Fixed top of the y axis (raw units), e.g. 100 for CPU %.
    pub y_max_fixed: Option<f64>,
    /// Lines marked `down` are drawn below the zero line; labels for both halves.
    pub mirrored: Option<(String, String)>,
    /// Stacked areas, bottom first (already cumulative: lo..hi).
    pub areas: Vec<Area>,
    pub lines: Vec<Line>,
    pub refs: Vec<RefLine>,
    /// Whether columns hold several samples (then bands are min–max per column).
    pub reduced: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Area {
    pub label: String,
    pub color: Rgb,
    pub x: Vec<i64>,
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub label: String,
    pub color: Rgb,
    pub x: Vec<i64>,
    pub y: Vec<f64>,
    /// Min and max per column, drawn as a light band behind the line.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
    pub down: bool,
    pub width: u32,
    pub legend: bool,
}

/// A horizontal reference (CPU count on the load chart, a threshold).
#[derive(Debug, Clone)]
pub(crate) struct RefLine {
    pub label: String,
    pub value: f64,
    pub color: Rgb,
}

/// Rows (CPUs) by time columns, values 0..=`max`.
#[derive(Debug, Clone)]
pub(crate) struct HeatPlot {
    pub x0: i64,
    pub x1: i64,
    pub rows: Vec<String>,
    /// Time span of each column.
    pub cols: Vec<(i64, i64)>,
    /// `values[row][col]`, NaN where there is no data.
    pub values: Vec<Vec<f64>>,
    pub max: f64,
    pub what: String,
}

/// Horizontal bars (filesystem use).
#[derive(Debug, Clone)]
pub(crate) struct BarPlot {
    pub unit: Unit,
    pub max: f64,
    pub bars: Vec<Bar>,
    pub refs: Vec<RefLine>,
}

#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub label: String,
    pub value: f64,
    /// A second value marked on the bar (the maximum over time).
    pub marker: Option<f64>,
    pub color: Rgb,
    pub note: String,
}

/// Machines compared on axes of 0..=max.
#[derive(Debug, Clone)]
pub(crate) struct RadarPlot {
    pub axes: Vec<String>,
    pub max: f64,
    pub series: Vec<(String, Rgb, Vec<f64>)>,
}
