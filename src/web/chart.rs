//! The dashboard's usage charts: a report's periods (`usage::report::Period`) as
//! stacked bars in inline SVG — no script, so the CSP holds — with every period,
//! counted or not, on the axis, and the same figures as a table for screen readers
//! and for anyone who wants the numbers.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::usage::report::{Granularity, Period, Window};

/// The two ranges the dashboard's charts show: `24h` by hour, `7d` by day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    Day,
    Week,
}

impl Range {
    pub fn parse(text: Option<&str>) -> Option<Self> {
        match text {
            None | Some("24h") => Some(Self::Day),
            Some("7d") => Some(Self::Week),
            Some(_) => None,
        }
    }

    pub fn window(self, now: DateTime<Utc>) -> Window {
        let (length, granularity) = match self {
            Self::Day => (chrono::Duration::hours(24), Granularity::Hour),
            Self::Week => (chrono::Duration::days(7), Granularity::Day),
        };
        Window {
            from: now - length,
            to: now,
            granularity,
        }
    }
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
/// Room under the bars for the time labels, and left of them for the scale.
const AXIS: f64 = 22.0;
const SCALE: f64 = 44.0;

/// What a chart stacks: one series per part of a period, each with its CSS class.
pub struct Series {
    pub name: &'static str,
    pub class: &'static str,
    /// This series' count in a period.
    pub count: fn(&Period) -> i64,
}

/// Requests by status class: answered (2xx, 3xx), refused (4xx), failed (5xx).
pub const REQUESTS: [Series; 3] = [
    Series {
        name: "answered (2xx/3xx)",
        class: "ok",
        count: |p| class_count(p, "1xx") + class_count(p, "2xx") + class_count(p, "3xx"),
    },
    Series {
        name: "refused (4xx)",
        class: "refused",
        count: |p| class_count(p, "4xx"),
    },
    Series {
        name: "failed (5xx)",
        class: "failed",
        count: |p| class_count(p, "5xx"),
    },
];

/// Token requests: issued and refused.
pub const TOKENS: [Series; 2] = [
    Series {
        name: "issued",
        class: "ok",
        count: |p| outcome_count(p, crate::usage::counts::ISSUED),
    },
    Series {
        name: "refused",
        class: "refused",
        count: |p| {
            p.token_outcomes
                .iter()
                .filter(|(outcome, _)| *outcome != crate::usage::counts::ISSUED)
                .map(|(_, n)| n)
                .sum()
        },
    },
];

fn class_count(period: &Period, class: &str) -> i64 {
    period.by_status.get(class).copied().unwrap_or(0)
}

fn outcome_count(period: &Period, outcome: &str) -> i64 {
    period.token_outcomes.get(outcome).copied().unwrap_or(0)
}

#[derive(Template)]
#[template(path = "chart.html", config = "src/web/askama.toml")]
pub struct Chart {
    /// Unique on the page: the SVG's title and the table refer to it.
    pub id: &'static str,
    pub title: String,
    /// One sentence with the total, the SVG's accessible name.
    pub summary: String,
    pub view_box: String,
    pub bars: Vec<Bar>,
    /// Time labels under the bars: (x, text).
    pub ticks: Vec<(f64, String)>,
    /// The scale's top value and where it is drawn.
    pub top_label: String,
    pub base_y: f64,
    pub legend: Vec<(&'static str, &'static str)>,
    pub columns: Vec<&'static str>,
    /// The table: the period's label and its count per series.
    pub rows: Vec<(String, Vec<i64>)>,
}

pub struct Bar {
    pub segments: Vec<Segment>,
}

pub struct Segment {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub class: &'static str,
    /// What a pointer over it shows: the period, the series and the count.
    pub title: String,
}

impl Chart {
    /// `periods` of `window` stacked by `series`. Periods without counts are drawn
    /// as gaps, so the axis is always the whole window.
    pub fn new(
        id: &'static str,
        title: &str,
        periods: &[Period],
        window: &Window,
        series: &[Series],
    ) -> Self {
        let starts = every_period(window);
        let counts: Vec<Vec<i64>> = starts
            .iter()
            .map(|start| {
                let period = periods.iter().find(|p| p.start == *start);
                series
                    .iter()
                    .map(|s| period.map_or(0, |p| (s.count)(p)))
                    .collect()
            })
            .collect();
        let peak = counts
            .iter()
            .map(|c| c.iter().sum::<i64>())
            .max()
            .unwrap_or(0);
        let top = peak.max(1);
        let plot_height = HEIGHT - AXIS;
        let slot = (WIDTH - SCALE) / starts.len().max(1) as f64;
        let label = |start: &DateTime<Utc>| period_label(*start, window.granularity);
        let bars = starts
            .iter()
            .zip(&counts)
            .enumerate()
            .map(|(i, (start, counts))| {
                let x = SCALE + i as f64 * slot + slot * 0.15;
                let mut y = plot_height;
                let segments = series
                    .iter()
                    .zip(counts)
                    .filter(|(_, n)| **n > 0)
                    .map(|(s, n)| {
                        let height = *n as f64 / top as f64 * (plot_height - 4.0);
                        y -= height;
                        Segment {
                            x: round(x),
                            y: round(y),
                            width: round(slot * 0.7),
                            height: round(height),
                            class: s.class,
                            title: format!("{}: {n} {}", label(start), s.name),
                        }
                    })
                    .collect();
                Bar { segments }
            })
            .collect();
        // About six labels along the axis, whatever the number of periods.
        let every = starts.len().div_ceil(6).max(1);
        let ticks = starts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, start)| (round(SCALE + i as f64 * slot), label(start)))
            .collect();
        let total: i64 = counts.iter().flatten().sum();
        Self {
            id,
            title: title.to_owned(),
            summary: format!(
                "{title}: {total} in all, at most {peak} in one {}",
                granularity_word(window.granularity)
            ),
            view_box: format!("0 0 {WIDTH} {HEIGHT}"),
            bars,
            ticks,
            top_label: top.to_string(),
            base_y: plot_height,
            legend: series.iter().map(|s| (s.class, s.name)).collect(),
            columns: series.iter().map(|s| s.name).collect(),
            rows: starts.iter().map(label).zip(counts).collect(),
        }
    }
}

/// The start of every period of `window`, oldest first (at most a month of days or
/// two days of hours: the pages ask for no more).
fn every_period(window: &Window) -> Vec<DateTime<Utc>> {
    const MOST: usize = 24 * 62;
    let step = window.granularity.step();
    let mut start = window.granularity.start_of(window.from);
    let mut starts = Vec::new();
    while start < window.to && starts.len() < MOST {
        starts.push(start);
        start += step;
    }
    starts
}

fn period_label(start: DateTime<Utc>, granularity: Granularity) -> String {
    match granularity {
        Granularity::Minute | Granularity::Hour => start.format("%d %b %H:%M").to_string(),
        Granularity::Day => start.format("%a %d %b").to_string(),
    }
}

fn granularity_word(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Minute => "minute",
        Granularity::Hour => "hour",
        Granularity::Day => "day",
    }
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn window(hours: i64) -> Window {
        let to = Utc.with_ymd_and_hms(2026, 12, 1, 12, 30, 0).unwrap();
        Window {
            from: to - chrono::Duration::hours(hours),
            to,
            granularity: Granularity::Hour,
        }
    }

    fn period(start: DateTime<Utc>, ok: i64, refused: i64) -> Period {
        let mut p = Period {
            start,
            ..Period::default()
        };
        p.by_status.insert("2xx".into(), ok);
        p.by_status.insert("4xx".into(), refused);
        p
    }

    #[test]
    fn every_period_of_the_window_is_on_the_axis_and_the_figures_are_in_the_table() {
        let w = window(24);
        let busy = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let chart = Chart::new("c", "Requests", &[period(busy, 30, 10)], &w, &REQUESTS);
        // 11:30 yesterday to 12:30 today: 25 hour periods, one of them counted.
        assert_eq!(chart.rows.len(), 25);
        let counted: Vec<_> = chart.rows.iter().filter(|(_, c)| c[0] + c[1] > 0).collect();
        assert_eq!(counted, [&("01 Dec 09:00".to_owned(), vec![30, 10, 0])]);
        assert_eq!(chart.summary, "Requests: 40 in all, at most 40 in one hour");
        let segments: Vec<_> = chart.bars.iter().flat_map(|b| &b.segments).collect();
        assert_eq!(segments.len(), 2);
        // Stacked: the tallest bar fills the plot, the refused part on top.
        let full = HEIGHT - AXIS - 4.0;
        assert!((segments[0].height + segments[1].height - full).abs() < 0.2);
        assert!(segments[1].y < segments[0].y);
    }

    #[test]
    fn an_empty_window_draws_no_bars_and_renders() {
        let chart = Chart::new("c", "Requests", &[], &window(24), &REQUESTS);
        assert!(chart.bars.iter().all(|b| b.segments.is_empty()));
        let html = chart.render().unwrap();
        assert!(html.contains("<svg") && html.contains("0 in all"), "{html}");
    }

    #[test]
    fn only_the_two_ranges_are_known() {
        assert_eq!(Range::parse(None), Some(Range::Day));
        assert_eq!(Range::parse(Some("7d")), Some(Range::Week));
        assert_eq!(Range::parse(Some("30d")), None);
        assert_eq!(Range::parse(Some("<script>")), None);
    }
}
