//! Interval algebra over half-open `[start, end)` spans of UTC nanoseconds (docs/rules.md §3):
//! union, max-impact merge, intersection, subtraction. Inputs are sorted once; every operation
//! after that is a linear sweep, so n windows cost O(n log n).

use rust_decimal::Decimal;
use std::collections::BTreeMap;

use super::time::Nanos;

/// A half-open span `[start, end)` with `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: Nanos,
    pub end: Nanos,
}

impl Span {
    /// `None` unless `start < end`.
    pub fn new(start: Nanos, end: Nanos) -> Option<Span> {
        (start < end).then_some(Span { start, end })
    }

    pub fn len(&self) -> i64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn intersect(&self, other: &Span) -> Option<Span> {
        Span::new(self.start.max(other.start), self.end.min(other.end))
    }
}

/// Impact of an outage: the share of the service that was down, in (0, 1].
pub type Impact = Decimal;

/// An outage window with its impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub span: Span,
    pub impact: Impact,
}

/// A piece of downtime with one impact; lists of segments are sorted and disjoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub span: Span,
    pub impact: Impact,
}

/// Sorted, disjoint union of spans; touching spans become one.
pub fn union(spans: impl IntoIterator<Item = Span>) -> Vec<Span> {
    let mut v: Vec<Span> = spans.into_iter().collect();
    v.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(v.len());
    for s in v {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Merges overlapping windows keeping, at each instant, the largest impact (§3). The result
/// covers exactly the union of the windows; adjacent pieces of equal impact are joined.
pub fn merge_max_impact(windows: &[Window]) -> Vec<Segment> {
    // (time, is_start, impact): ends sort before starts at the same instant.
    let mut events: Vec<(Nanos, bool, Impact)> = Vec::with_capacity(windows.len() * 2);
    for w in windows {
        events.push((w.span.start, true, w.impact));
        events.push((w.span.end, false, w.impact));
    }
    events.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut live: BTreeMap<Impact, usize> = BTreeMap::new();
    let mut out: Vec<Segment> = Vec::new();
    let mut current: Option<(Nanos, Impact)> = None;
    let mut i = 0;
    while i < events.len() {
        let t = events[i].0;
        while i < events.len() && events[i].0 == t {
            let (_, is_start, impact) = events[i];
            if is_start {
                *live.entry(impact).or_insert(0) += 1;
            } else if let Some(count) = live.get_mut(&impact) {
                *count -= 1;
                if *count == 0 {
                    live.remove(&impact);
                }
            }
            i += 1;
        }
        let top = live.keys().next_back().copied();
        match (current, top) {
            (Some((_, cur)), Some(new)) if cur == new => {}
            (cur, new) => {
                if let Some((start, impact)) = cur {
                    push_segment(&mut out, start, t, impact);
                }
                current = new.map(|imp| (t, imp));
            }
        }
    }
    out
}

fn push_segment(out: &mut Vec<Segment>, start: Nanos, end: Nanos, impact: Impact) {
    if start >= end {
        return;
    }
    if let Some(last) = out.last_mut() {
        if last.span.end == start && last.impact == impact {
            last.span.end = end;
            return;
        }
    }
    out.push(Segment {
        span: Span { start, end },
        impact,
    });
}

/// The part of sorted segments inside one span.
pub fn clip(segments: &[Segment], to: Span) -> Vec<Segment> {
    let first = segments.partition_point(|s| s.span.end <= to.start);
    let mut out = Vec::new();
    for s in &segments[first..] {
        if s.span.start >= to.end {
            break;
        }
        if let Some(span) = s.span.intersect(&to) {
            out.push(Segment {
                span,
                impact: s.impact,
            });
        }
    }
    out
}

/// The part of sorted spans inside one span.
pub fn clip_spans(spans: &[Span], to: Span) -> Vec<Span> {
    let first = spans.partition_point(|s| s.end <= to.start);
    spans[first..]
        .iter()
        .take_while(|s| s.start < to.end)
        .filter_map(|s| s.intersect(&to))
        .collect()
}

/// The parts of sorted segments that lie inside sorted, disjoint spans.
pub fn intersect(segments: &[Segment], spans: &[Span]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut j = 0;
    for s in segments {
        while j < spans.len() && spans[j].end <= s.span.start {
            j += 1;
        }
        let mut k = j;
        while k < spans.len() && spans[k].start < s.span.end {
            if let Some(span) = s.span.intersect(&spans[k]) {
                out.push(Segment {
                    span,
                    impact: s.impact,
                });
            }
            k += 1;
        }
    }
    out
}

/// The parts of sorted segments outside sorted, disjoint spans.
pub fn subtract(segments: &[Segment], spans: &[Span]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut j = 0;
    for s in segments {
        while j < spans.len() && spans[j].end <= s.span.start {
            j += 1;
        }
        let mut cursor = s.span.start;
        let mut k = j;
        while k < spans.len() && spans[k].start < s.span.end {
            if spans[k].start > cursor {
                out.push(Segment {
                    span: Span {
                        start: cursor,
                        end: spans[k].start,
                    },
                    impact: s.impact,
                });
            }
            cursor = cursor.max(spans[k].end);
            k += 1;
        }
        if cursor < s.span.end {
            out.push(Segment {
                span: Span {
                    start: cursor,
                    end: s.span.end,
                },
                impact: s.impact,
            });
        }
    }
    out
}

/// Total length of sorted, disjoint spans, in nanoseconds.
pub fn total_len(spans: &[Span]) -> i128 {
    spans.iter().map(|s| i128::from(s.len())).sum()
}

/// Sorted, disjoint spans inside both inputs.
pub fn intersect_spans(a: &[Span], b: &[Span]) -> Vec<Span> {
    let segs: Vec<Segment> = a
        .iter()
        .map(|s| Segment {
            span: *s,
            impact: Decimal::ONE,
        })
        .collect();
    intersect(&segs, b).into_iter().map(|s| s.span).collect()
}

/// Splits sorted, disjoint segments into runs: maximal stretches without a gap.
pub fn runs(segments: &[Segment]) -> Vec<&[Segment]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=segments.len() {
        if i == segments.len() || segments[i].span.start != segments[i - 1].span.end {
            if start < i {
                out.push(&segments[start..i]);
            }
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: i64, e: i64, imp: &str) -> Window {
        Window {
            span: Span { start: s, end: e },
            impact: imp.parse().unwrap_or(Decimal::ONE),
        }
    }

    #[test]
    fn merge_keeps_max_impact() {
        let segs = merge_max_impact(&[w(0, 10, "0.5"), w(5, 15, "1"), w(12, 20, "0.25")]);
        let got: Vec<(i64, i64, String)> = segs
            .iter()
            .map(|s| (s.span.start, s.span.end, s.impact.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 5, "0.5".to_string()),
                (5, 15, "1".to_string()),
                (15, 20, "0.25".to_string())
            ]
        );
    }

    #[test]
    fn subtract_and_intersect() {
        let segs = merge_max_impact(&[w(0, 100, "1")]);
        let cut = subtract(
            &segs,
            &[
                Span { start: 10, end: 20 },
                Span {
                    start: 90,
                    end: 120,
                },
            ],
        );
        let spans: Vec<(i64, i64)> = cut.iter().map(|s| (s.span.start, s.span.end)).collect();
        assert_eq!(spans, vec![(0, 10), (20, 90)]);
        let inside = intersect(&segs, &[Span { start: 50, end: 60 }]);
        assert_eq!(inside.len(), 1);
        assert_eq!(runs(&cut).len(), 2);
    }
}
