//! Geometry of the report's two inline-SVG charts, computed here so the template only places shapes:
//! horizontal bars (findings by provider) and columns over time (first-seen month or year).

/// One bar, in SVG user units.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub count: usize,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Where the category label and the value are written.
    pub label_x: f64,
    pub label_y: f64,
    pub value_x: f64,
    pub value_y: f64,
    pub show_label: bool,
    /// The "N others" bar of a truncated chart.
    pub other: bool,
}

/// A chart: title, bars and the SVG view box.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub subtitle: String,
    pub columns: bool,
    pub width: f64,
    pub height: f64,
    /// Baseline of a column chart.
    pub axis_y: f64,
    pub bars: Vec<Bar>,
}

const WIDTH: f64 = 520.0;

/// Horizontal bars, largest first, at most `max` (the rest summed into "other").
pub fn horizontal(title: &str, subtitle: &str, data: &[(String, usize)], max: usize) -> BarChart {
    let mut rows: Vec<(String, usize)> = data.iter().take(max).cloned().collect();
    if data.len() > max {
        let rest: usize = data[max..].iter().map(|(_, n)| n).sum();
        rows.push((format!("{} others", data.len() - max), rest));
    }
    let top = rows.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
    let (label_w, row_h, bar_h, pad) = (150.0, 24.0, 15.0, 6.0);
    let area = WIDTH - label_w - 50.0;
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (label, n))| {
            let y = pad + i as f64 * row_h;
            let w = (*n as f64 / top * area).max(2.0);
            Bar {
                label: label.clone(),
                count: *n,
                x: label_w,
                y,
                w,
                h: bar_h,
                label_x: label_w - 8.0,
                label_y: y + bar_h - 3.5,
                value_x: label_w + w + 6.0,
                value_y: y + bar_h - 3.5,
                show_label: true,
                other: data.len() > max && i == max,
            }
        })
        .collect::<Vec<_>>();
    let height = pad * 2.0 + rows.len().max(1) as f64 * row_h;
    BarChart {
        title: title.into(),
        subtitle: subtitle.into(),
        columns: false,
        width: WIDTH,
        height,
        axis_y: height,
        bars,
    }
}

/// Columns in the given (chronological) order; at most about eight axis labels are written.
pub fn columns(title: &str, subtitle: &str, data: &[(String, usize)]) -> BarChart {
    let height = 190.0;
    let (top_pad, bottom) = (18.0, 22.0);
    let axis_y = height - bottom;
    let area_h = axis_y - top_pad;
    let n = data.len().max(1);
    let slot = (WIDTH - 20.0) / n as f64;
    let w = (slot * 0.72).clamp(1.0, 44.0);
    let top = data.iter().map(|(_, c)| *c).max().unwrap_or(1).max(1) as f64;
    let every = n.div_ceil(8).max(1);
    let bars = data
        .iter()
        .enumerate()
        .map(|(i, (label, c))| {
            let h = if *c == 0 {
                0.0
            } else {
                (*c as f64 / top * area_h).max(2.0)
            };
            let x = 10.0 + i as f64 * slot + (slot - w) / 2.0;
            Bar {
                label: label.clone(),
                count: *c,
                x,
                y: axis_y - h,
                w,
                h,
                label_x: x + w / 2.0,
                label_y: height - 6.0,
                value_x: x + w / 2.0,
                value_y: axis_y - h - 4.0,
                // Every `every`-th label counted back from the last, so the newest column is always labelled
                // and no two labels crowd each other.
                show_label: (n - 1 - i).is_multiple_of(every),
                other: false,
            }
        })
        .collect();
    BarChart {
        title: title.into(),
        subtitle: subtitle.into(),
        columns: true,
        width: WIDTH,
        height,
        axis_y,
        bars,
    }
}

/// Findings per month (`YYYY-MM`) from first-seen days, gaps filled with zero; per year past four years.
pub fn timeline(days: &[&str]) -> Vec<(String, usize)> {
    let months: Vec<(i32, u32)> = days
        .iter()
        .filter_map(|d| Some((d.get(..4)?.parse().ok()?, d.get(5..7)?.parse().ok()?)))
        .filter(|(_, m): &(i32, u32)| (1..=12).contains(m))
        .collect();
    let (Some(first), Some(last)) = (months.iter().min(), months.iter().max()) else {
        return Vec::new();
    };
    let span = (last.0 - first.0) * 12 + last.1 as i32 - first.1 as i32 + 1;
    if span > 48 {
        let mut out: Vec<(String, usize)> =
            (first.0..=last.0).map(|y| (y.to_string(), 0)).collect();
        for (y, _) in &months {
            if let Some(slot) = out.get_mut((y - first.0) as usize) {
                slot.1 += 1;
            }
        }
        return out;
    }
    let mut out: Vec<(String, usize)> = (0..span)
        .map(|i| {
            let m0 = first.1 as i32 - 1 + i;
            (format!("{}-{:02}", first.0 + m0 / 12, m0 % 12 + 1), 0)
        })
        .collect();
    for (y, m) in &months {
        let i = (y - first.0) * 12 + *m as i32 - first.1 as i32;
        if let Some(slot) = out.get_mut(i as usize) {
            slot.1 += 1;
        }
    }
    out
}
