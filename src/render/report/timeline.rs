//! The timeline: every time the inputs record ([`crate::render::timeline::collect`], the events of
//! the mount's `timeline` file), merged and sorted, as an SVG chart and a table.
//!
//! The chart has one lane per kind of event (created, file modified, log line, ...), time
//! running left to right. Long empty stretches (a layer's files written years before the
//! container ran) are cut out and marked with a break, so that the minutes around the checkpoint
//! are not crushed: the time axis is linear inside each run of events, and each run gets a width
//! by its share of the events (at least [`MIN_RUN_WIDTH`]). Events are binned by pixel column, so
//! the chart's size is bounded whatever the number of events; each bin's tooltip counts its
//! events and shows the first.

use super::html::{esc, esc_cut};
use crate::render::timeline::Event;

/// Table rows (the last ones: nearest the checkpoint).
pub const MAX_ROWS: usize = 1000;
/// Chart width in SVG units.
pub const WIDTH: f64 = 960.0;
/// Left margin for the lane labels.
const LABEL_W: f64 = 170.0;
/// Height of one lane.
const LANE_H: f64 = 22.0;
/// Width of one bin.
const BIN_W: f64 = 4.0;
/// The smallest width a run of events gets.
pub const MIN_RUN_WIDTH: f64 = 40.0;
/// Gap between runs.
const BREAK_W: f64 = 14.0;

/// The lanes in their order: the container's life first, the dump last.
const LANES: &[&str] = &[
    "Container Created",
    "Container Started",
    "File Modified",
    "Deleted File Modified",
    "Shell Command",
    "Log Line",
    "Checkpointed",
    "Images Written",
];

/// Lane fills, darkest to lightest (they differ in lightness, so a greyscale print tells them
/// apart; the lane's position says it too).
pub const FILLS: &[&str] = &[
    "#152547", "#6f2020", "#1c5f1c", "#8a6128", "#9c65d2", "#39a3c6", "#e198aa", "#a9d56d",
    "#e9e0b4",
];

/// A time in seconds, as f64.
fn t(e: &Event) -> f64 {
    e.secs as f64 + f64::from(e.nanos) / 1e9
}

/// Runs of events separated by gaps longer than `gap` seconds: (first index, last index).
fn runs(ev: &[Event], gap: f64) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..ev.len() {
        if t(&ev[i]) - t(&ev[i - 1]) > gap {
            out.push((start, i - 1));
            start = i;
        }
    }
    if !ev.is_empty() {
        out.push((start, ev.len() - 1));
    }
    out
}

fn lane_names(ev: &[Event]) -> Vec<&str> {
    let mut names: Vec<&str> = LANES
        .iter()
        .copied()
        .filter(|l| ev.iter().any(|e| e.what == *l))
        .collect();
    for e in ev {
        if !names.contains(&e.what) {
            names.push(e.what);
        }
    }
    names
}

/// A span of time, short (`3 d`, `5 h`, `12 min`, `40 s`).
fn span(secs: f64) -> String {
    let s = secs.max(0.0);
    if s >= 86400.0 * 2.0 {
        format!("{:.0} d", s / 86400.0)
    } else if s >= 7200.0 {
        format!("{:.0} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{s:.0} s")
    }
}

/// The chart of `ev` (sorted), or an empty string when there is nothing to draw.
pub fn chart(ev: &[Event]) -> String {
    if ev.is_empty() {
        return String::new();
    }
    let total = t(&ev[ev.len() - 1]) - t(&ev[0]);
    let gap = (total / 40.0).max(3600.0);
    let runs = runs(ev, gap);
    let lanes = lane_names(ev);
    let plot_w = WIDTH - LABEL_W - 10.0;
    let free = (plot_w - BREAK_W * (runs.len().saturating_sub(1)) as f64).max(0.0);
    // Each run's width: its share of the events, at least MIN_RUN_WIDTH (then scaled to fit).
    let mut widths: Vec<f64> = runs
        .iter()
        .map(|(a, b)| (free * (b - a + 1) as f64 / ev.len() as f64).max(MIN_RUN_WIDTH))
        .collect();
    let sum: f64 = widths.iter().sum();
    if sum > 0.0 {
        for w in &mut widths {
            *w *= free / sum;
        }
    }
    let h = LANE_H * lanes.len() as f64 + 44.0;
    let mut s = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {h}\" width=\"100%\" role=\"img\" aria-labelledby=\"tl-title\">\
         <title id=\"tl-title\">Timeline chart: {} events from {} to {} (the table below lists them)</title>\n",
        ev.len(),
        esc(&ev[0].datetime()),
        esc(&ev[ev.len() - 1].datetime())
    );
    for (li, name) in lanes.iter().enumerate() {
        let y = 8.0 + LANE_H * li as f64;
        s.push_str(&format!(
            "<rect class=\"lane\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{plot_w}\" height=\"{}\"/>\
             <text class=\"lanelabel\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            LANE_H - 2.0,
            LABEL_W - 6.0,
            y + LANE_H * 0.65,
            esc(name)
        ));
    }
    let axis_y = 8.0 + LANE_H * lanes.len() as f64;
    let mut x0 = LABEL_W;
    for (ri, ((a, b), w)) in runs.iter().zip(&widths).enumerate() {
        let (ta, tb) = (t(&ev[*a]), t(&ev[*b]));
        let len = (tb - ta).max(0.0);
        let bins = (w / BIN_W).floor().max(1.0) as usize;
        // (lane, bin) -> (count, first event)
        let mut cells: std::collections::BTreeMap<(usize, usize), (usize, usize)> =
            Default::default();
        for (i, e) in ev.iter().enumerate().take(b + 1).skip(*a) {
            let frac = if len > 0.0 { (t(e) - ta) / len } else { 0.5 };
            let bin = ((frac * bins as f64) as usize).min(bins - 1);
            let lane = lanes.iter().position(|l| *l == e.what).unwrap_or(0);
            cells.entry((lane, bin)).or_insert((0, i)).0 += 1;
        }
        for ((lane, bin), (count, first)) in cells {
            let x = x0 + bin as f64 * (w / bins as f64);
            let y = 8.0 + LANE_H * lane as f64 + 3.0;
            let e = &ev[first];
            let more = if count > 1 {
                format!(" (+{} more in this bin)", count - 1)
            } else {
                String::new()
            };
            s.push_str(&format!(
                "<rect class=\"ev l{}\" x=\"{x:.1}\" y=\"{y}\" width=\"{}\" height=\"{}\"><title>{} {}: {}{more}</title></rect>\n",
                lane % FILLS.len(),
                (w / bins as f64).max(2.0) - 0.5,
                LANE_H - 8.0,
                esc(&e.datetime()),
                esc(e.what),
                esc_cut(&e.message, 200),
            ));
        }
        // The run's first and last times under it.
        let row = axis_y + 14.0 + 12.0 * (ri % 2) as f64;
        s.push_str(&format!(
            "<text class=\"tick\" x=\"{x0:.1}\" y=\"{row}\">{}</text>\n",
            esc(&ev[*a].datetime())
        ));
        if ri + 1 == runs.len() && b > a {
            s.push_str(&format!(
                "<text class=\"tick\" x=\"{:.1}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                x0 + w,
                row + 12.0,
                esc(&ev[*b].datetime())
            ));
        }
        x0 += w;
        if ri + 1 < runs.len() {
            let next = t(&ev[runs[ri + 1].0]);
            s.push_str(&format!(
                "<g class=\"break\"><line x1=\"{0:.1}\" y1=\"4\" x2=\"{0:.1}\" y2=\"{axis_y}\"/><title>{1} without events cut out</title></g>\n",
                x0 + BREAK_W / 2.0,
                span(next - tb)
            ));
            x0 += BREAK_W;
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The section: the chart and the table of `events` (sorted; from every input, whose labels
/// are `labels`: with several, a column says which, by number).
pub fn section(events: &[Event], labels: &[String]) -> String {
    let multi = labels.len() > 1;
    let mut s = String::from("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
    if events.is_empty() {
        s.push_str("<p>The checkpoints record no dated event.</p>\n</section>\n");
        return s;
    }
    s.push_str(
        "<p>Every time the checkpoints record, with where it is recorded. Stretches without \
         events are cut out of the chart (marked by a dashed line).</p>\n",
    );
    s.push_str(&chart(events));
    let skip = events.len().saturating_sub(MAX_ROWS);
    let mut head = vec!["Time (UTC)"];
    if multi {
        head.push("Checkpoint");
    }
    head.extend(["What", "Event", "Time from"]);
    s.push_str("<table class=\"tl\"><caption>Timeline</caption><thead><tr>");
    for h in &head {
        s.push_str(&format!("<th scope=\"col\">{h}</th>"));
    }
    s.push_str("</tr></thead><tbody>\n");
    for e in &events[skip..] {
        s.push_str(&format!("<tr><td class=\"t\">{}</td>", esc(&e.datetime())));
        if multi {
            let k = labels.iter().position(|l| *l == e.checkpoint);
            s.push_str(&format!(
                "<td title=\"{}\">{}</td>",
                esc(&e.checkpoint),
                k.map_or_else(|| "?".to_string(), |k| (k + 1).to_string())
            ));
        }
        s.push_str(&format!(
            "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(e.what),
            esc_cut(&e.message, 400),
            esc(&e.source)
        ));
    }
    s.push_str("</tbody></table>\n");
    if skip > 0 {
        s.push_str(&format!(
            "<p class=\"cap\">The last {MAX_ROWS} of {} events are shown; ckptfs timeline lists them all.</p>\n",
            events.len()
        ));
    }
    s.push_str("</section>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(secs: i64, what: &'static str, msg: &str) -> Event {
        Event {
            secs,
            nanos: 0,
            checkpoint: "c".into(),
            what,
            source: "config.dump createdTime".into(),
            message: msg.into(),
            file: None,
        }
    }

    #[test]
    fn gaps_are_cut_and_every_run_is_wide_enough() {
        // One file from years before, then a burst around the checkpoint.
        let mut v = vec![ev(1_500_000_000, "File Modified", "/old")];
        for i in 0..500 {
            v.push(ev(1_800_000_000 + i, "Log Line", "<script>"));
        }
        v.push(ev(1_800_000_600, "Checkpointed", "ck"));
        let r = runs(&v, 3600.0);
        assert_eq!(r, vec![(0, 0), (1, 501)]);
        let svg = chart(&v);
        assert!(svg.contains("class=\"break\""));
        assert!(!svg.contains("<script>"));
        // Bounded: bins, not one element per event.
        assert!(
            svg.matches("<rect class=\"ev").count() < 300,
            "{}",
            svg.len()
        );
        // Three lanes, in the fixed order.
        let at = |s: &str| svg.find(s).unwrap();
        assert!(
            at(">File Modified<") < at(">Log Line<") && at(">Log Line<") < at(">Checkpointed<")
        );
    }

    #[test]
    fn the_table_is_capped_at_the_end() {
        let v: Vec<Event> = (0..(MAX_ROWS as i64 + 5))
            .map(|i| ev(1_800_000_000 + i, "Log Line", &format!("line {i}")))
            .collect();
        let s = section(&v, &["c".to_string()]);
        assert!(s.contains("The last 1000 of 1005"));
        assert!(!s.contains(">line 4<") && s.contains(">line 1004<"));
        assert!(section(&[], &[]).contains("no dated event"));
    }

    #[test]
    fn fills_differ_in_lightness() {
        super::super::page::tests::assert_lightness_apart(FILLS, 7.5);
    }
}
