//! Inline SVG charts: line charts with vertical markers and stacked bar charts. Pure string
//! building, no I/O; every label is escaped.
use std::fmt::Write;

/// Colours of the series, in order (colour-blind friendly).
pub const PALETTE: [&str; 8] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000",
];

const W: f64 = 560.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 52.0;

/// One named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart: series, vertical dashed markers at x positions (labelled), axis labels.
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// (x, label): drawn as dashed vertical lines with class `marker`.
    pub markers: Vec<(f64, String)>,
}

/// XML-escape text for element content and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The text that `esc` escaped.
pub fn unesc(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A tick label of `v` on an axis whose ticks are `step` apart: enough decimals to tell
/// neighbouring ticks apart.
pub fn tick(v: f64, step: f64) -> String {
    let a = v.abs().max(step.abs());
    if !(1e-3..1e5).contains(&a) || step.is_nan() || step.abs() < 1e-6 {
        return num(v);
    }
    let decimals = (-(step.abs().log10()).floor() + 1.0).clamp(0.0, 6.0) as usize;
    let decimals = if step.abs() >= 1.0
        && (step - step.round()).abs() < 1e-9
        && (v - v.round()).abs() < 1e-9
    {
        0
    } else {
        decimals
    };
    format!("{v:.decimals$}")
}

/// Compact number for labels.
pub fn num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn range(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if hi - lo < 1e-12 {
        let pad = if lo.abs() > 1e-12 {
            lo.abs() * 0.05
        } else {
            1.0
        };
        return Some((lo - pad, hi + pad));
    }
    Some((lo, hi))
}

fn open(out: &mut String, title: &str, class: &str) {
    let _ = write!(
        out,
        r##"<svg class="chart {class}" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img"><title>{t}</title><rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/><text class="title" x="{cx}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{t}</text>"##,
        t = esc(title),
        cx = W / 2.0
    );
}

fn axes(out: &mut String, x_label: &str, y_label: &str, ylo: f64, yhi: f64) {
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    let _ = write!(
        out,
        r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>"##
    );
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let y = y0 + (y1 - y0) * f;
        let v = ylo + (yhi - ylo) * f;
        let _ = write!(
            out,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#eee"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="10">{v}</text>"##,
            tx = x0 - 4.0,
            ty = y + 3.0,
            v = tick(v, (yhi - ylo) / 4.0)
        );
    }
    let _ = write!(
        out,
        r##"<text class="xlabel" x="{cx}" y="{ly}" text-anchor="middle" font-size="11">{xl}</text><text class="ylabel" x="14" y="{cy}" text-anchor="middle" font-size="11" transform="rotate(-90 14 {cy})">{yl}</text>"##,
        cx = (x0 + x1) / 2.0,
        ly = H - 8.0,
        cy = (y0 + y1) / 2.0,
        xl = esc(x_label),
        yl = esc(y_label)
    );
}

fn legend(out: &mut String, names: &[(&str, &str)]) {
    let mut x = LEFT;
    for (name, colour) in names {
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{y}" width="10" height="10" fill="{colour}"/><text class="legend" x="{tx:.1}" y="{ty}" font-size="10">{n}</text>"##,
            y = H - 30.0,
            tx = x + 13.0,
            ty = H - 21.0,
            n = esc(name)
        );
        x += 24.0 + 6.0 * name.chars().count() as f64;
    }
}

impl LineChart {
    /// The chart as an `<svg>` element, or None when no series has a finite point.
    pub fn render(&self) -> Option<String> {
        let pts = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|(x, y)| x.is_finite() && y.is_finite())
        };
        let (xlo, xhi) = range(pts().map(|p| p.0))?;
        let (ylo, yhi) = range(pts().map(|p| p.1))?;
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        let sx = |x: f64| x0 + (x - xlo) / (xhi - xlo) * (x1 - x0);
        let sy = |y: f64| y0 + (y - ylo) / (yhi - ylo) * (y1 - y0);
        let mut out = String::new();
        open(&mut out, &self.title, "line");
        axes(&mut out, &self.x_label, &self.y_label, ylo, yhi);
        let integral = pts().all(|p| p.0.fract() == 0.0);
        let mut xticks: Vec<f64> = (0..=4)
            .map(|i| xlo + (xhi - xlo) * i as f64 / 4.0)
            .map(|v| if integral { v.round() } else { v })
            .filter(|v| (xlo..=xhi).contains(v))
            .collect();
        xticks.dedup();
        let xstep = if integral { 1.0 } else { (xhi - xlo) / 4.0 };
        for v in xticks {
            let _ = write!(
                out,
                r##"<text x="{x:.1}" y="{y}" text-anchor="middle" font-size="10">{v}</text>"##,
                x = sx(v),
                y = y0 + 13.0,
                v = tick(v, xstep)
            );
        }
        for (x, label) in &self.markers {
            if !x.is_finite() {
                continue;
            }
            let _ = write!(
                out,
                r##"<g class="marker"><line x1="{px:.1}" y1="{y0}" x2="{px:.1}" y2="{y1}" stroke="#c00" stroke-dasharray="4 3"/><text x="{tx:.1}" y="{ty}" font-size="9" fill="#c00" text-anchor="{anchor}">{l}</text></g>"##,
                px = sx(*x),
                tx = if sx(*x) > x1 - 40.0 {
                    sx(*x) - 2.0
                } else {
                    sx(*x) + 2.0
                },
                anchor = if sx(*x) > x1 - 40.0 { "end" } else { "start" },
                ty = y1 + 9.0,
                l = esc(label)
            );
        }
        let mut names = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let p: Vec<String> = s
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            if p.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                r##"<polyline class="series" data-name="{n}" fill="none" stroke="{colour}" stroke-width="1.5" points="{pts}"/>"##,
                n = esc(&s.name),
                pts = p.join(" ")
            );
            if p.len() <= 40 {
                for q in &p {
                    let (cx, cy) = q.split_once(',').unwrap_or(("0", "0"));
                    let _ = write!(
                        out,
                        r##"<circle cx="{cx}" cy="{cy}" r="2" fill="{colour}"/>"##
                    );
                }
            }
            names.push((s.name.as_str(), colour));
        }
        legend(&mut out, &names);
        out.push_str("</svg>");
        Some(out)
    }
}

/// A stacked bar chart of shares: one bar per x label, one segment per category, each bar's
/// values summing to 1 (or to 0 for an empty bar).
pub struct StackedBars {
    pub title: String,
    pub x_label: String,
    pub categories: Vec<String>,
    /// (x label, share of each category).
    pub bars: Vec<(String, Vec<f64>)>,
}

impl StackedBars {
    /// The chart as an `<svg>` element, or None when there is no bar.
    pub fn render(&self) -> Option<String> {
        if self.bars.is_empty() {
            return None;
        }
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        let mut out = String::new();
        open(&mut out, &self.title, "stacked");
        axes(&mut out, &self.x_label, "share of sampled archs", 0.0, 1.0);
        let slot = (x1 - x0) / self.bars.len() as f64;
        let bw = (slot * 0.8).max(1.0);
        let every = (self.bars.len() / 12).max(1);
        for (i, (label, shares)) in self.bars.iter().enumerate() {
            let bx = x0 + slot * i as f64 + (slot - bw) / 2.0;
            let mut acc = 0.0;
            for (j, &s) in shares.iter().enumerate() {
                if !(s.is_finite() && s > 0.0) {
                    continue;
                }
                let top = y0 + (acc + s) * (y1 - y0);
                let h = s * (y0 - y1);
                let _ = write!(
                    out,
                    r##"<rect class="bar" x="{bx:.1}" y="{top:.1}" width="{bw:.1}" height="{h:.1}" fill="{c}"><title>{l}: {n} {p:.0}%</title></rect>"##,
                    c = PALETTE[j % PALETTE.len()],
                    l = esc(label),
                    n = esc(self.categories.get(j).map(String::as_str).unwrap_or("?")),
                    p = s * 100.0
                );
                acc += s;
            }
            if i % every == 0 {
                let _ = write!(
                    out,
                    r##"<text x="{x:.1}" y="{y}" text-anchor="middle" font-size="10">{l}</text>"##,
                    x = bx + bw / 2.0,
                    y = y0 + 13.0,
                    l = esc(label)
                );
            }
        }
        let names: Vec<(&str, &str)> = self
            .categories
            .iter()
            .enumerate()
            .map(|(j, c)| (c.as_str(), PALETTE[j % PALETTE.len()]))
            .collect();
        legend(&mut out, &names);
        out.push_str("</svg>");
        Some(out)
    }
}

/// Values per group: each value a point (spread sideways so that equal values stay visible)
/// over a box from the first to the third quartile with the median, whiskers to the smallest
/// and largest value, and a tick at the mean. For distributions of a handful of values, where
/// a box alone would hide how few there are.
pub struct StripPlot {
    pub title: String,
    pub y_label: String,
    /// (group name, its values); non-finite values are left out.
    pub groups: Vec<(String, Vec<f64>)>,
}

/// The `q` quantile of sorted `v` (linear between order statistics, as NumPy's default).
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (h - lo as f64))
}

impl StripPlot {
    /// The chart as an `<svg>` element, or None when no group has a finite value.
    pub fn render(&self) -> Option<String> {
        let groups: Vec<(&str, Vec<f64>)> = self
            .groups
            .iter()
            .map(|(n, v)| {
                let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                v.sort_by(f64::total_cmp);
                (n.as_str(), v)
            })
            .collect();
        let (ylo, yhi) = range(groups.iter().flat_map(|(_, v)| v.iter().copied()))?;
        let pad = (yhi - ylo) * 0.05;
        let (ylo, yhi) = (ylo - pad, yhi + pad);
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        let sy = |y: f64| y0 + (y - ylo) / (yhi - ylo) * (y1 - y0);
        let mut out = String::new();
        open(&mut out, &self.title, "strip");
        axes(&mut out, "", &self.y_label, ylo, yhi);
        let slot = (x1 - x0) / groups.len().max(1) as f64;
        for (i, (name, v)) in groups.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let cx = x0 + slot * (i as f64 + 0.5);
            let bw = (slot * 0.5).min(80.0);
            let _ = write!(
                out,
                r##"<g class="group" data-group="{n}" data-n="{k}"><text x="{cx:.1}" y="{ty}" text-anchor="middle" font-size="11">{n} (n={k})</text>"##,
                n = esc(name),
                k = v.len(),
                ty = y0 + 14.0
            );
            if let (Some(q1), Some(med), Some(q3)) =
                (quantile(v, 0.25), quantile(v, 0.5), quantile(v, 0.75))
            {
                let (lo, hi) = (v[0], v[v.len() - 1]);
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                let (l, r) = (cx - bw / 2.0, cx + bw / 2.0);
                let _ = write!(
                    out,
                    r##"<line class="whisker" x1="{cx:.1}" y1="{a:.1}" x2="{cx:.1}" y2="{b:.1}" stroke="#888"/><rect class="box" x="{l:.1}" y="{t:.1}" width="{bw:.1}" height="{h:.1}" fill="{colour}" fill-opacity="0.15" stroke="{colour}"/><line class="median" x1="{l:.1}" y1="{m:.1}" x2="{r:.1}" y2="{m:.1}" stroke="{colour}" stroke-width="2"/><line class="mean" x1="{ml:.1}" y1="{mu:.1}" x2="{mr:.1}" y2="{mu:.1}" stroke="#000" stroke-dasharray="2 2"/>"##,
                    a = sy(lo),
                    b = sy(hi),
                    t = sy(q3),
                    h = sy(q1) - sy(q3),
                    m = sy(med),
                    mu = sy(mean),
                    ml = l - 6.0,
                    mr = r + 6.0,
                );
            }
            for (j, &y) in v.iter().enumerate() {
                // The golden-ratio sequence spreads the points evenly across the box.
                let dx = ((j as f64 * 0.618_034).fract() - 0.5) * bw * 0.8;
                let _ = write!(
                    out,
                    r##"<circle class="point" data-value="{y}" cx="{x:.1}" cy="{py:.1}" r="3" fill="{colour}"><title>{n}: {v}</title></circle>"##,
                    x = cx + dx,
                    py = sy(y),
                    n = esc(name),
                    v = num(y)
                );
            }
            out.push_str("</g>");
        }
        out.push_str("</svg>");
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_non_finite_series_give_no_chart() {
        let c = LineChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series {
                name: "s".into(),
                points: vec![(0.0, f64::NAN), (f64::INFINITY, 1.0)],
            }],
            markers: vec![],
        };
        assert!(c.render().is_none());
    }

    #[test]
    fn strip_plots_draw_every_finite_value_with_its_quartiles() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), Some(1.75));
        assert_eq!(quantile(&[5.0], 0.75), Some(5.0));
        let c = StripPlot {
            title: "IS".into(),
            y_label: "IS".into(),
            groups: vec![
                ("reinforce".into(), vec![1.5, f64::NAN, 1.25]),
                ("random".into(), vec![1.0, 1.1, 1.2, 1.3]),
                ("paper".into(), vec![]),
            ],
        };
        let s = c.render().unwrap();
        assert_eq!(s.matches("class=\"point\"").count(), 6);
        assert_eq!(
            s.matches("class=\"box\"").count(),
            2,
            "no box for an empty group"
        );
        assert!(s.contains("reinforce (n=2)") && s.contains("paper (n=0)"));
        let empty = StripPlot {
            title: "t".into(),
            y_label: "y".into(),
            groups: vec![("a".into(), vec![f64::NAN])],
        };
        assert!(empty.render().is_none());
    }

    #[test]
    fn tick_labels_tell_close_ticks_apart() {
        let labels: Vec<String> = (0..=4)
            .map(|i| tick(1.0035 + 0.0002 * i as f64, 0.0002))
            .collect();
        let mut unique = labels.clone();
        unique.dedup();
        assert_eq!(unique.len(), 5, "{labels:?}");
        assert_eq!(tick(3.0, 1.0), "3");
    }

    #[test]
    fn labels_are_escaped() {
        let c = LineChart {
            title: "a<b & c".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series {
                name: "\"s\"".into(),
                points: vec![(0.0, 1.0), (1.0, 1.0)],
            }],
            markers: vec![],
        };
        let s = c.render().unwrap();
        assert!(s.contains("a&lt;b &amp; c") && s.contains("&quot;s&quot;"));
        assert!(!s.contains("a<b"));
    }
}
