//! Charts as inline SVG (plotters' SVG backend, rendered into a string).
//!
//! Coordinates are `f64`: they are pixels, not money. Amounts come in exact and
//! are converted only to place marks; every figure a reader sees as text comes
//! from the tables. plotters escapes the text it writes (`<` -> `&lt;`), so
//! team names from mappings are safe inside the SVG.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::money::ONE as MONEY_ONE;

const WIDTH: u32 = 860;
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// A named line of values, one per x label (`None`: no point there).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Money at the lake's scale as a float for placing marks.
pub fn coordinate(money: i128) -> f64 {
    // Whole units and the remainder separately: exact enough for pixels, no overflow.
    (money / MONEY_ONE) as f64 + (money % MONEY_ONE) as f64 / MONEY_ONE as f64
}

/// Short axis labels: 950, 12.5k, 1.2M.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (0f64, 0f64);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi == lo {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.08;
    (if lo < 0.0 { lo - pad } else { lo }, hi + pad)
}

fn finish(svg: String) -> String {
    // The XML declaration plotters may write is not allowed inside HTML.
    let start = svg.find("<svg").unwrap_or(0);
    svg[start..].to_string()
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// An SVG chart `height` pixels tall drawn by `draw`; a chart that fails to draw is logged and
/// left as far as it got (a report is still written).
fn render(title: &str, height: u32, draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        if let Err(e) = draw(&root) {
            tracing::warn!("chart {title}: {e}");
        }
        let _ = root.present();
    }
    finish(svg)
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A white chart with its caption, one slot per x label (at most `most` labels shown, evenly
/// spaced) and a y axis from `lo` to `hi` in short amounts.
fn labelled_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    x_labels: &[String],
    (lo, hi): (f64, f64),
    y_axis: &str,
    most: usize,
) -> Result<Chart<'a, 'b>, Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let n = x_labels.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
    let step = n.div_ceil(12).max(1);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(most))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            let i = i as usize;
            if i.is_multiple_of(step) { x_labels.get(i).cloned().unwrap_or_default() } else { String::new() }
        })
        .y_desc(y_axis)
        .y_label_formatter(&|v| short(*v))
        .draw()?;
    Ok(chart)
}

/// Lines with a marker at every data point, x labels under each point.
pub fn lines(title: &str, x_labels: &[String], series: &[Series], y_axis: &str) -> String {
    render(title, 340, |root| draw_lines(root, title, x_labels, series, y_axis))
}

fn draw_lines(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    x_labels: &[String],
    series: &[Series],
    y_axis: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let bounds = range(series.iter().flat_map(|s| s.values.iter().flatten().copied()));
    let mut chart = labelled_axes(root, title, x_labels, bounds, y_axis, 24)?;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64)> =
            s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as f64, v))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(s.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    Ok(())
}

/// A month's spend against its budget, day by day: spend so far (a point per day of data),
/// the forecast continuing it to month end (dashed), the budget, and the tolerance band above
/// it up to the ceiling (budget plus tolerance and approvals) that turns a budget over.
pub struct Burn {
    pub days: Vec<String>,
    /// Cumulative spend through each day of data; `None` after the data's end.
    pub actual: Vec<Option<f64>>,
    /// Cumulative forecast from the last day of data to month end; `None` before it.
    pub forecast: Vec<Option<f64>>,
    pub budget: f64,
    pub ceiling: f64,
}

pub fn burn(title: &str, burn: &Burn, y_axis: &str) -> String {
    render(title, 340, |root| draw_burn(root, title, burn, y_axis))
}

fn draw_burn(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    burn: &Burn,
    y_axis: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let n = burn.days.len().max(1);
    let values = burn.actual.iter().chain(&burn.forecast).flatten().copied();
    let bounds = range(values.chain([burn.budget, burn.ceiling]));
    let mut chart = labelled_axes(root, title, &burn.days, bounds, y_axis, 31)?;
    let (left, right) = (-0.5, n as f64 - 0.5);
    let band = RGBColor(255, 196, 0);
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(left, burn.budget), (right, burn.ceiling)],
            band.mix(0.25).filled(),
        )))?
        .label("tolerance")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], band.mix(0.4).filled()));
    let grey = RGBColor(87, 96, 106);
    chart
        .draw_series(LineSeries::new([(left, burn.budget), (right, burn.budget)], grey.stroke_width(2)))?
        .label("budget")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], grey.stroke_width(2)));
    let points = |values: &[Option<f64>]| -> Vec<(f64, f64)> {
        values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as f64, v))).collect()
    };
    let (spent, projected) = (points(&burn.actual), points(&burn.forecast));
    let blue = PALETTE[0];
    chart
        .draw_series(LineSeries::new(spent.clone(), blue.stroke_width(2)))?
        .label("spend to date")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], blue.stroke_width(2)));
    chart.draw_series(spent.iter().map(|p| Circle::new(*p, 3, blue.filled())))?;
    if projected.len() > 1 {
        let orange = PALETTE[1];
        chart
            .draw_series(DashedLineSeries::new(projected, 6, 4, orange.stroke_width(2)))?
            .label("forecast")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], orange.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}

/// Horizontal bars, largest first as given, with each value written at the bar's end.
pub fn bars(title: &str, labels: &[String], values: &[f64], value_labels: &[String]) -> String {
    let height = 70 + 26 * labels.len().max(1) as u32;
    render(title, height, |root| draw_bars(root, title, labels, values, value_labels))
}

fn draw_bars(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    labels: &[String],
    values: &[f64],
    value_labels: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let n = labels.len().max(1);
    let (lo, hi) = range(values.iter().copied());
    let hi = hi * 1.15; // room for the value written after the bar
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4).min(28) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(20 + longest * 7)
        .build_cartesian_2d(lo..hi, 0f64..n as f64)?;
    chart.configure_mesh().disable_y_mesh().y_labels(0).x_label_formatter(&|v| short(*v)).draw()?;
    // Row i from the top: y runs upwards, so the first label sits at n - 1.
    let y = |i: usize| (n - 1 - i) as f64;
    chart.draw_series(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Rectangle::new([(0.0, y(i) + 0.18), (*v, y(i) + 0.82)], PALETTE[0].filled())),
    )?;
    let style = ("sans-serif", 13).into_font().color(&BLACK);
    for (i, label) in labels.iter().enumerate() {
        let shown: String = label.chars().take(28).collect();
        chart.draw_series(std::iter::once(Text::new(
            shown,
            (lo, y(i) + 0.5),
            style.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        )))?;
        if let (Some(v), Some(text)) = (values.get(i), value_labels.get(i)) {
            chart.draw_series(std::iter::once(Text::new(
                text.clone(),
                (v.max(0.0), y(i) + 0.5),
                style.clone().pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_chart_has_a_point_per_value_and_escapes_names() {
        let svg = lines(
            "spend",
            &["a".into(), "b".into(), "c".into()],
            &[Series { name: "<script>x</script>".into(), values: vec![Some(1.0), Some(3.0), None] }],
            "USD",
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(!svg.contains("<script>"));
    }

    #[test]
    fn burn_chart_draws_spend_forecast_budget_and_band() {
        let burn_up = Burn {
            days: (1..=5).map(|d| d.to_string()).collect(),
            actual: vec![Some(10.0), Some(20.0), Some(30.0), None, None],
            forecast: vec![None, None, Some(30.0), Some(40.0), Some(50.0)],
            budget: 45.0,
            ceiling: 49.5,
        };
        let svg = burn("<b>burn</b>", &burn_up, "USD");
        assert_eq!(svg.matches("<circle").count(), 3, "a point per day of data: {svg}");
        assert!(
            svg.contains("stroke-dasharray") || svg.matches("<polyline").count() + svg.matches("<line").count() > 3
        );
        assert!(svg.contains("&lt;b&gt;burn") && !svg.contains("<b>"));
    }

    #[test]
    fn bar_chart_escapes_labels() {
        let svg = bars("top", &["<img src=x onerror=alert(1)>".into()], &[5.0], &["$5.00".into()]);
        assert!(svg.contains("&lt;img src=x onerror=alert(1)&gt;"), "{svg}");
        assert!(svg.matches("<rect").count() >= 2);
    }

    #[test]
    fn coordinates_of_money() {
        assert_eq!(coordinate(1_234 * MONEY_ONE + MONEY_ONE / 2), 1234.5);
        assert_eq!(coordinate(-MONEY_ONE / 4), -0.25);
    }
}
