//! Charts drawn as plain SVG and HTML by the same Rust code on the server and in the browser,
//! so the first paint already shows them (no empty box waiting for a script), and every chart
//! has the same axes, units, legend, colours and hover tooltips. See the README's "Charts"
//! section for why this is not a charting library.

use super::{compact, dollars, money};
use crate::domain::{Grain, Money};
use leptos::prelude::*;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 26.0;
const Y_TICKS: usize = 4;
const X_LABELS: usize = 6;

/// What a chart's values measure; sets the axis label and how numbers read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unit {
    /// Requests per bucket of this grain (`req/min`).
    Requests(Grain),
    Millis,
    Dollars,
}

impl Unit {
    pub fn axis(self) -> String {
        match self {
            Unit::Requests(grain) => format!("req/{}", grain.per()),
            Unit::Millis => "ms".into(),
            Unit::Dollars => "$".into(),
        }
    }

    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Requests(_) => count(value),
            Unit::Millis => format_ms(value),
            Unit::Dollars => dollars(value),
        }
    }
}

/// An axis or legend count: whole numbers as [`compact`], fractions (axis steps) with one decimal.
fn count(value: f64) -> String {
    if value.fract() == 0.0 && value >= 0.0 {
        compact(value as u64)
    } else {
        format!("{value:.1}")
    }
}

/// `340 ms`, `1.2 s`.
pub fn format_ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.1} s", value / 1000.0)
    } else {
        format!("{value:.0} ms")
    }
}

/// A percentage of `part` in `whole`, `—` when there is no whole.
pub fn format_rate(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        let pct = part as f64 * 100.0 / whole as f64;
        if pct > 0.0 && pct < 0.1 {
            "<0.1%".into()
        } else {
            format!("{pct:.1}%")
        }
    }
}

/// A bucket's start as the axis shows it (UTC).
fn bucket_label(at_ms: i64, grain: Grain) -> String {
    let Some(t) = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at_ms) else {
        return String::new();
    };
    match grain {
        Grain::Minute => t.format("%H:%M").to_string(),
        Grain::Hour => t.format("%d %b %H:00").to_string(),
        Grain::Day => t.format("%d %b").to_string(),
    }
}

/// The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `value`, so ticks fall on round numbers.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value * 0.999_999)
        .unwrap_or(10.0 * magnitude)
}

/// One series of a time chart; `None` values leave a gap. `colour` picks the palette slot
/// (`series-0` …), the same slot meaning the same thing on every page.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub colour: usize,
    pub values: Vec<Option<f64>>,
}

/// A time chart: bars for the first series when `bars` (later series drawn over it, as
/// errors over requests), lines otherwise. A legend with each series' latest value above,
/// a y axis with its unit, time labels below and a tooltip per bucket.
#[component]
pub fn TimeChart(
    title: String,
    unit: Unit,
    grain: Grain,
    times: Vec<i64>,
    series: Vec<Series>,
    #[prop(optional)] bars: bool,
    #[prop(optional)] testid: &'static str,
) -> impl IntoView {
    let slots = times.len().max(1);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |m, v| m.max(*v));
    let top = nice_ceiling(if matches!(unit, Unit::Requests(_)) {
        max.max(4.0)
    } else {
        max
    });
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot_w = plot_w / slots as f64;
    let x_mid = move |i: usize| LEFT + slot_w * (i as f64 + 0.5);
    let y_of = move |v: f64| TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));

    let grid = (0..=Y_TICKS)
        .map(|t| {
            let value = top * t as f64 / Y_TICKS as f64;
            let y = y_of(value);
            view! {
                <line class="chart-grid" x1=LEFT x2=WIDTH - RIGHT y1=y y2=y/>
                <text class="chart-tick" x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{unit.format(value)}</text>
            }
        })
        .collect_view();
    let step = slots.div_ceil(X_LABELS).max(1);
    let x_labels = times
        .iter()
        .enumerate()
        .filter(|(i, _)| (slots - 1 - i).is_multiple_of(step))
        .map(|(i, at)| {
            view! {
                <text class="chart-tick" x=x_mid(i) y=HEIGHT - 8.0 text-anchor="middle">{bucket_label(*at, grain)}</text>
            }
        })
        .collect_view();
    let marks = series
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let class = format!("series-{}", s.colour);
            if bars {
                let width = (slot_w * if index == 0 { 0.72 } else { 0.44 }).max(1.0);
                s.values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.filter(|v| *v > 0.0).map(|v| (i, v)))
                    .map(|(i, v)| {
                        let y = y_of(v);
                        view! {
                            <rect class=format!("{class} chart-bar") x=x_mid(i) - width / 2.0 y=y
                                width=width height=(TOP + plot_h - y).max(0.5)/>
                        }
                    })
                    .collect_view()
                    .into_any()
            } else {
                // One polyline per run of known values; a lone point still shows as a dot.
                let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for (i, v) in s.values.iter().enumerate() {
                    match v {
                        Some(v) => {
                            if let Some(run) = runs.last_mut() {
                                run.push((x_mid(i), y_of(*v)));
                            }
                        }
                        None => runs.push(Vec::new()),
                    }
                }
                runs.into_iter()
                    .filter(|run| !run.is_empty())
                    .map(|run| {
                        if let [(x, y)] = run[..] {
                            return view! { <circle class=format!("{class} chart-dot") cx=x cy=y r=2.5/> }.into_any();
                        }
                        let points = run
                            .iter()
                            .map(|(x, y)| format!("{x:.1},{y:.1}"))
                            .collect::<Vec<_>>()
                            .join(" ");
                        view! { <polyline class=format!("{class} chart-line") points=points/> }.into_any()
                    })
                    .collect_view()
                    .into_any()
            }
        })
        .collect_view();
    let tooltips = times
        .iter()
        .enumerate()
        .map(|(i, at)| {
            let mut text = format!("{} UTC", bucket_label(*at, grain));
            for s in &series {
                let value = s.values.get(i).copied().flatten();
                text.push_str(&format!(
                    "\n{}: {}",
                    s.name,
                    value.map_or("—".to_string(), |v| unit.format(v))
                ));
            }
            view! {
                <rect class="chart-hover" x=LEFT + slot_w * i as f64 y=TOP width=slot_w height=plot_h>
                    <title>{text}</title>
                </rect>
            }
        })
        .collect_view();
    let legend = series
        .iter()
        .map(|s| {
            let latest = s.values.iter().rev().flatten().next().copied();
            view! {
                <span class="legend-item">
                    <span class=format!("legend-swatch series-{}", s.colour)></span>
                    {s.name.clone()}
                    <strong>{latest.map_or("—".to_string(), |v| unit.format(v))}</strong>
                </span>
            }
        })
        .collect_view();
    let label = format!("{title} ({}); hover a time for exact values", unit.axis());
    view! {
        <figure class="chart card" data-testid=testid>
            <figcaption class="chart-head">
                <span class="chart-title">{title}</span>
                <span class="chart-legend">{legend}</span>
            </figcaption>
            <svg class="chart-svg" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=label preserveAspectRatio="xMidYMid meet">
                {grid}
                <text class="chart-unit" x=LEFT - 6.0 y=10.0 text-anchor="end">{unit.axis()}</text>
                <line class="chart-axis" x1=LEFT x2=WIDTH - RIGHT y1=TOP + plot_h y2=TOP + plot_h/>
                {marks}
                {x_labels}
                {tooltips}
            </svg>
        </figure>
    }
}

/// One row of a bar list: a name (linked when `href` is set), a bar and the value.
#[derive(Clone, Debug, PartialEq)]
pub struct BarRow {
    pub label: String,
    pub href: Option<String>,
    pub value: f64,
    /// Shown after the bar and in the tooltip.
    pub text: String,
}

/// Horizontal bars in one colour, longest first as given.
#[component]
pub fn BarList(
    title: String,
    rows: Vec<BarRow>,
    colour: usize,
    empty: &'static str,
    #[prop(optional)] testid: &'static str,
) -> impl IntoView {
    let max = rows.iter().fold(0.0f64, |m, r| m.max(r.value));
    let body = if rows.is_empty() {
        view! { <p class="muted chart-empty">{empty}</p> }.into_any()
    } else {
        rows.into_iter()
            .map(|row| {
                let pct = if max > 0.0 { row.value / max * 100.0 } else { 0.0 };
                let name = match row.href {
                    Some(href) => view! { <a href=href>{row.label.clone()}</a> }.into_any(),
                    None => view! { <span>{row.label.clone()}</span> }.into_any(),
                };
                let tooltip = format!("{}: {}", row.label, row.text);
                view! {
                    <div class="bar-row" title=tooltip>
                        <span class="bar-label">{name}</span>
                        <span class="bar-track">
                            <span class=format!("bar-fill series-{colour}") style=format!("width: {pct:.1}%")></span>
                        </span>
                        <span class="bar-value">{row.text}</span>
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <figure class="chart card" data-testid=testid>
            <figcaption class="chart-head"><span class="chart-title">{title}</span></figcaption>
            <div class="bar-list">{body}</div>
        </figure>
    }
}

/// This month's spend against the budget: the bar is spent so far, the hatched part the
/// straight-line projection to the month's end, ticks the alert thresholds, the line the budget.
#[component]
pub fn BudgetBar(
    spent: Money,
    projected: Money,
    budget: Option<Money>,
    thresholds: Vec<u8>,
) -> impl IntoView {
    let spent_d = spent.as_dollars();
    let projected_d = projected.as_dollars().max(spent_d);
    let budget_d = budget.map(Money::as_dollars);
    let scale = [spent_d, projected_d, budget_d.unwrap_or(0.0)]
        .into_iter()
        .fold(0.0f64, f64::max)
        .max(0.000_001)
        * 1.05;
    let pct = |v: f64| format!("{:.2}%", (v / scale * 100.0).clamp(0.0, 100.0));
    let over = budget_d.is_some_and(|b| spent_d >= b);
    let summary = match budget {
        Some(b) => format!(
            "{} of {} ({}); {} projected by month end",
            money(spent),
            money(b),
            format_rate(spent.micros().max(0) as u64, b.micros().max(1) as u64),
            dollars(projected_d)
        ),
        None => format!(
            "{} spent, {} projected by month end; no budget set",
            money(spent),
            dollars(projected_d)
        ),
    };
    let tooltip = summary.clone();
    let marks = budget_d
        .map(|b| {
            let ticks = thresholds
                .iter()
                .filter(|t| **t < 100)
                .map(|t| {
                    let at = b * f64::from(*t) / 100.0;
                    view! { <span class="budget-threshold" style=format!("left: {}", pct(at)) title=format!("{t}% alert at {}", dollars(at))></span> }
                })
                .collect_view();
            view! {
                {ticks}
                <span class="budget-limit" style=format!("left: {}", pct(b)) title=format!("budget {}", dollars(b))></span>
            }
        });
    view! {
        <div class="budget-bar" title=tooltip>
            <div class="budget-track">
                <span class="budget-projection" style=format!("width: {}", pct(projected_d))></span>
                <span class=if over { "budget-spent over" } else { "budget-spent" } style=format!("width: {}", pct(spent_d))></span>
                {marks}
            </div>
            <div class="budget-caption muted">{summary}</div>
        </div>
    }
}

/// A small line of counts, for table rows.
#[component]
pub fn Sparkline(values: Vec<u64>, #[prop(optional)] colour: usize) -> impl IntoView {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = values.len().max(2) - 1;
    let points = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                W * i as f64 / n as f64,
                H - 2.0 - (H - 4.0) * (*v as f64 / max)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let total: u64 = values.iter().sum();
    view! {
        <svg class="sparkline" viewBox=format!("0 0 {W} {H}") width=W height=H role="img" aria-label=format!("{total} requests in the window")>
            <title>{format!("{total} requests in the window")}</title>
            <polyline class=format!("series-{colour} chart-line") points=points/>
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_person_writes_them() {
        assert_eq!(count(950.0), "950");
        assert_eq!(count(12.5), "12.5");
        assert_eq!(format_ms(340.4), "340 ms");
        assert_eq!(format_ms(1250.0), "1.2 s");
        assert_eq!(dollars(12.4), "$12.40");
        assert_eq!(dollars(0.0031), "$0.0031");
        assert_eq!(format_rate(1, 3), "33.3%");
        assert_eq!(format_rate(0, 0), "—");
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
    }
}
