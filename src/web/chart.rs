//! A small bar chart of token issuance, drawn on the server as inline SVG (no
//! script): tokens issued and refused per period, from the usage meter's per-minute
//! token counters (`usage::repo::token_minutes`). The template draws what is
//! computed here — coordinates in the SVG's own units, and a title per bar.

use chrono::{Duration, NaiveDateTime};

use crate::usage::counts::ISSUED;

/// The drawing's size, in its own units (it scales to the page's width).
const WIDTH: i64 = 480;
const HEIGHT: i64 = 120;
/// Room under the bars for the period labels.
const LABELS: i64 = 16;

/// One bar: where it is, which series, and what it says when pointed at.
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// `issued` or `refused` (the stylesheet colours them).
    pub class: &'static str,
    pub title: String,
}

/// A label under the bars.
pub struct Label {
    pub x: i64,
    pub text: String,
}

/// A chart of tokens issued and refused per period.
pub struct TokenChart {
    pub width: i64,
    pub height: i64,
    pub baseline: i64,
    pub bars: Vec<Bar>,
    pub labels: Vec<Label>,
    /// What the chart shows, in words (its accessible name).
    pub summary: String,
    pub issued: i64,
    pub refused: i64,
}

impl TokenChart {
    /// The 24 hours up to the hour starting at `this_hour`, one bar pair an hour.
    pub fn hourly(counts: &[(NaiveDateTime, String, i64)], this_hour: NaiveDateTime) -> Self {
        let first = this_hour - Duration::hours(23);
        Self::new(
            counts,
            first,
            Duration::hours(1),
            24,
            "%H:%M",
            6,
            "24 hours",
        )
    }

    /// The 7 days up to the day starting at `today`, one bar pair a day.
    pub fn daily(counts: &[(NaiveDateTime, String, i64)], today: NaiveDateTime) -> Self {
        let first = today - Duration::days(6);
        Self::new(counts, first, Duration::days(1), 7, "%m-%d", 1, "7 days")
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        counts: &[(NaiveDateTime, String, i64)],
        first: NaiveDateTime,
        step: Duration,
        periods: usize,
        label_format: &str,
        label_every: usize,
        span: &str,
    ) -> Self {
        let mut issued = vec![0_i64; periods];
        let mut refused = vec![0_i64; periods];
        for (minute, outcome, n) in counts {
            if *minute < first {
                continue;
            }
            let Ok(index) = usize::try_from((*minute - first).num_seconds() / step.num_seconds())
            else {
                continue;
            };
            if index >= periods {
                continue;
            }
            if outcome == ISSUED {
                issued[index] += n;
            } else {
                refused[index] += n;
            }
        }
        let most = issued
            .iter()
            .chain(refused.iter())
            .copied()
            .max()
            .unwrap_or(0)
            .max(1);
        let baseline = HEIGHT - LABELS;
        let slot = WIDTH / i64::try_from(periods).unwrap_or(1).max(1);
        let bar = (slot / 2 - 1).max(1);
        let mut bars = Vec::new();
        let mut labels = Vec::new();
        for (i, (ok, no)) in issued.iter().zip(refused.iter()).enumerate() {
            let at = first + step * i32::try_from(i).unwrap_or(0);
            let x = slot * i64::try_from(i).unwrap_or(0);
            let when = at.format(label_format).to_string();
            for (offset, n, class) in [(0, *ok, "issued"), (bar, *no, "refused")] {
                let height = if n == 0 {
                    0
                } else {
                    (n * (baseline - 4) / most).max(1)
                };
                bars.push(Bar {
                    x: x + offset,
                    y: baseline - height,
                    width: bar,
                    height,
                    class,
                    title: format!("{when}: {n} {class}"),
                });
            }
            if i % label_every == 0 {
                labels.push(Label { x, text: when });
            }
        }
        let (issued, refused) = (issued.iter().sum::<i64>(), refused.iter().sum::<i64>());
        Self {
            width: WIDTH,
            height: HEIGHT,
            baseline,
            bars,
            labels,
            summary: format!("Tokens over the last {span}: {issued} issued, {refused} refused"),
            issued,
            refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_period_and_scale_to_the_busiest() {
        let hour = chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .naive_utc();
        let counts = vec![
            (hour + Duration::minutes(5), "issued".to_owned(), 4),
            (hour + Duration::minutes(6), "invalid_client".to_owned(), 2),
            (hour - Duration::hours(1), "issued".to_owned(), 1),
            // Outside the 24 hours: not drawn.
            (hour - Duration::hours(30), "issued".to_owned(), 100),
        ];
        let chart = TokenChart::hourly(&counts, hour);
        assert_eq!((chart.issued, chart.refused), (5, 2));
        assert_eq!(chart.bars.len(), 48);
        let last = &chart.bars[46];
        assert_eq!((last.class, last.height), ("issued", chart.baseline - 4));
        assert_eq!(chart.bars[47].title, "10:00: 2 refused");
        assert!(chart.bars[0].height == 0);
        let daily = TokenChart::daily(&counts, hour - Duration::hours(10));
        assert_eq!(daily.bars.len(), 14);
        assert_eq!(daily.issued, 105, "the 30 hours ago are within the 7 days");
        assert!(daily.summary.contains("105 issued, 2 refused"));
    }
}
