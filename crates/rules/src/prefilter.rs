//! The Hyperscan prefilter of a rule: an expression every match of the rule has a *prefix* matching, small
//! enough to compile fast and cheap to run. Built from the pattern's parsed form (`Hir`), printed in the
//! dialect Hyperscan accepts (bytes as `\xHH`, groups non-capturing).
//!
//! Two relaxations make it a superset of the rule:
//! - a repetition that may run longer than `KEEP_REPEAT_MAX` (`[A-Za-z0-9]{32,200}`) is cut to its first
//!   `min(m, PREFILTER_REPEAT_LIMIT)` items and everything after it is dropped (the expression becomes a prefix of
//!   every match). Without the cut, a relaxed `{12,}` reported at every byte of a long run of key-like text,
//!   and keyword-led rules (`key = …`) spent most of the scan in report callbacks;
//! - look-arounds other than ASCII word boundaries are dropped.
//!
//! A report at `e` then stands for a match starting in `e - max_len .. e` and, when the expression was
//! cut, ending before `e + max_len`: the engine widens its windows accordingly (`Prefilter::truncated`).
use regex_syntax::hir::{Class, Hir, HirKind, Look};
use std::fmt::Write;

/// A repetition that may run longer than this is cut in the prefilter…
pub const KEEP_REPEAT_MAX: u32 = 24;
/// …to at most this many items.
pub const PREFILTER_REPEAT_LIMIT: u32 = 12;

/// A rule's prefilter expression.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefilter {
    pub expression: String,
    /// Whether the expression is a prefix of the pattern (a report may come before the match's end).
    pub truncated: bool,
    /// The shortest match of the expression, and the longest when bounded: a report at `e` stands for a
    /// match starting in `e - max_len ..= e - min_len`, which is tighter than the rule's own bound when the
    /// expression is a short prefix of a long pattern (a keyword and an operator before a 200-byte value).
    pub min_len: usize,
    pub max_len: Option<usize>,
}

/// The prefilter of a parsed pattern.
pub fn prefilter(hir: &Hir) -> Prefilter {
    let (h, truncated) = cut(hir, PREFILTER_REPEAT_LIMIT, false);
    let mut expression = String::new();
    print(&h, &mut expression);
    Prefilter {
        expression,
        truncated,
        min_len: h.properties().minimum_len().unwrap_or(0),
        max_len: h.properties().maximum_len(),
    }
}

/// What every match of an expression is guaranteed to hold as contiguous literal bytes (caseless letters
/// count as literal): a run at its start, a run at its end, the longest run anywhere, and, when the whole
/// match is literal, its (shortest) length. A long enough run is a distinctive anchor that Hyperscan finds
/// first, so an expression holding one reports only where it occurs.
/// Runs continue across groups and alternations: `p(?:assword|wd)` (how `(?i:password|pwd)` parses) holds
/// a 3-byte literal in every match.
#[derive(Debug, Clone, Copy, Default)]
struct LiteralRuns {
    prefix: usize,
    suffix: usize,
    longest: usize,
    whole: Option<usize>,
}

impl LiteralRuns {
    fn literal(len: usize) -> Self {
        LiteralRuns {
            prefix: len,
            suffix: len,
            longest: len,
            whole: Some(len),
        }
    }

    fn longest(&self) -> usize {
        self.longest.max(self.prefix).max(self.suffix)
    }

    /// The runs of `self` followed by `next`.
    fn then(self, next: LiteralRuns) -> Self {
        let joined = self.suffix + next.prefix;
        LiteralRuns {
            prefix: match self.whole {
                Some(_) => self.prefix + next.prefix,
                None => self.prefix,
            },
            suffix: match next.whole {
                Some(_) => self.suffix + next.suffix,
                None => next.suffix,
            },
            longest: self.longest.max(next.longest).max(joined),
            whole: self.whole.zip(next.whole).map(|(a, b)| a + b),
        }
    }

    /// The runs every branch is sure to have.
    fn or(self, other: LiteralRuns) -> Self {
        LiteralRuns {
            prefix: self.prefix.min(other.prefix),
            suffix: self.suffix.min(other.suffix),
            longest: self.longest().min(other.longest()),
            whole: self.whole.zip(other.whole).map(|(a, b)| a.min(b)),
        }
    }
}

fn literal_runs(hir: &Hir) -> LiteralRuns {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => LiteralRuns::literal(0),
        HirKind::Literal(l) => LiteralRuns::literal(l.0.len()),
        HirKind::Class(_) if literal_byte(hir) => LiteralRuns::literal(1),
        HirKind::Class(_) => LiteralRuns::default(),
        HirKind::Capture(c) => literal_runs(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => {
            let sub = literal_runs(&r.sub);
            if r.max == Some(1) {
                sub
            } else {
                LiteralRuns { whole: None, ..sub }
            }
        }
        HirKind::Repetition(_) => LiteralRuns::default(),
        HirKind::Alternation(bs) => bs
            .iter()
            .map(literal_runs)
            .reduce(LiteralRuns::or)
            .unwrap_or_default(),
        HirKind::Concat(items) => items
            .iter()
            .map(literal_runs)
            .fold(LiteralRuns::literal(0), LiteralRuns::then),
    }
}

/// Whether a class is one byte, or one letter in either case.
fn literal_byte(hir: &Hir) -> bool {
    let HirKind::Class(Class::Bytes(c)) = hir.kind() else {
        return false;
    };
    let bytes: Vec<u8> = c.iter().flat_map(|r| r.start()..=r.end()).take(3).collect();
    match bytes[..] {
        [_] => true,
        [a, b] => a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(&b),
        _ => false,
    }
}

/// Required literals shorter than this do not anchor a prefilter.
const MIN_ANCHOR: usize = 3;

/// The expression with large repetitions relaxed; true when something after a cut was dropped.
/// `follow`: every match has a distinctive literal (`LiteralRuns`) somewhere after `hir`. A long
/// repetition with one after it becomes unbounded (`{12,}`) and the rest is kept, so reports come only where
/// the literal is; one with nothing distinctive after it is cut, so a run of key-like text reports once, not
/// at every byte.
fn cut(hir: &Hir, limit: u32, follow: bool) -> (Hir, bool) {
    match hir.kind() {
        HirKind::Repetition(r) => {
            let (sub, sub_cut) = cut(&r.sub, limit, follow);
            // Short optional runs (`[\w-]{0,20}` after a keyword) are kept: cutting there would leave only
            // the keyword. Long or unbounded ones are cut.
            let big = r.max.is_none_or(|m| m > KEEP_REPEAT_MAX);
            if sub_cut {
                // Only the first iteration's prefix is kept (none when the repetition may be empty).
                let once = if r.min == 0 {
                    Hir::repetition(regex_syntax::hir::Repetition {
                        min: 0,
                        max: Some(1),
                        greedy: true,
                        sub: Box::new(sub),
                    })
                } else {
                    sub
                };
                (once, true)
            } else if big && follow {
                let rep = Hir::repetition(regex_syntax::hir::Repetition {
                    min: r.min.min(limit),
                    max: None,
                    greedy: true,
                    sub: Box::new(sub),
                });
                (rep, false)
            } else if big {
                let n = r.min.min(limit);
                if n == 0 {
                    return (Hir::empty(), true);
                }
                let rep = Hir::repetition(regex_syntax::hir::Repetition {
                    min: n,
                    max: Some(n),
                    greedy: true,
                    sub: Box::new(sub),
                });
                (rep, true)
            } else {
                let rep = Hir::repetition(regex_syntax::hir::Repetition {
                    min: r.min,
                    max: r.max,
                    greedy: true,
                    sub: Box::new(sub),
                });
                (rep, false)
            }
        }
        HirKind::Capture(c) => cut(&c.sub, limit, follow),
        HirKind::Concat(items) => {
            // anchored[i]: a distinctive literal is required after item i (one backward pass).
            let mut anchored = vec![follow; items.len()];
            let mut after = LiteralRuns::default();
            for (i, item) in items.iter().enumerate().rev() {
                anchored[i] = follow || after.longest() >= MIN_ANCHOR;
                after = literal_runs(item).then(after);
            }
            let mut out = Vec::with_capacity(items.len());
            for (item, &after) in items.iter().zip(&anchored) {
                let (h, was_cut) = cut(item, limit, after);
                out.push(h);
                if was_cut {
                    return (Hir::concat(out), true);
                }
            }
            (Hir::concat(out), false)
        }
        HirKind::Alternation(branches) => {
            let mut any = false;
            let out = branches
                .iter()
                .map(|b| {
                    let (h, was_cut) = cut(b, limit, follow);
                    any |= was_cut;
                    h
                })
                .collect();
            (Hir::alternation(out), any)
        }
        HirKind::Look(look) => match look {
            Look::WordAscii | Look::WordAsciiNegate => (hir.clone(), false),
            _ => (Hir::empty(), false),
        },
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) => (hir.clone(), false),
    }
}

/// Print in Hyperscan's dialect.
fn print(hir: &Hir, out: &mut String) {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(lit) => {
            for b in lit.0.iter() {
                byte(*b, out);
            }
        }
        HirKind::Class(class) => {
            let ranges: Vec<(u32, u32)> = match class {
                Class::Bytes(c) => c
                    .ranges()
                    .iter()
                    .map(|r| (r.start() as u32, r.end() as u32))
                    .collect(),
                Class::Unicode(c) => c
                    .ranges()
                    .iter()
                    .map(|r| (r.start() as u32, r.end() as u32))
                    .filter(|&(s, _)| s <= 0xFF)
                    .map(|(s, e)| (s, e.min(0xFF)))
                    .collect(),
            };
            if ranges.is_empty() {
                // A class matching nothing cannot be written: printing nothing keeps a superset.
                return;
            }
            out.push('[');
            for (s, e) in ranges {
                byte(s as u8, out);
                if e > s {
                    out.push('-');
                    byte(e as u8, out);
                }
            }
            out.push(']');
        }
        HirKind::Look(Look::WordAscii) => out.push_str("\\b"),
        HirKind::Look(Look::WordAsciiNegate) => out.push_str("\\B"),
        HirKind::Look(_) => {}
        HirKind::Repetition(r) => {
            out.push_str("(?:");
            print(&r.sub, out);
            out.push(')');
            match (r.min, r.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (m, None) => {
                    let _ = write!(out, "{{{m},}}");
                }
                (m, Some(n)) if m == n => {
                    let _ = write!(out, "{{{m}}}");
                }
                (m, Some(n)) => {
                    let _ = write!(out, "{{{m},{n}}}");
                }
            }
        }
        HirKind::Capture(c) => {
            out.push_str("(?:");
            print(&c.sub, out);
            out.push(')');
        }
        HirKind::Concat(items) => {
            for i in items {
                print(i, out);
            }
        }
        HirKind::Alternation(branches) => {
            out.push_str("(?:");
            for (i, b) in branches.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                print(b, out);
            }
            out.push(')');
        }
    }
}

fn byte(b: u8, out: &mut String) {
    if b.is_ascii_alphanumeric() {
        out.push(b as char);
    } else {
        let _ = write!(out, "\\x{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf(p: &str) -> Prefilter {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(p)
            .expect("pattern parses");
        prefilter(&hir)
    }

    #[test]
    fn large_repetitions_are_cut_and_the_rest_dropped() {
        let p = pf(r"\bghp_(?P<secret>[0-9A-Za-z]{36})\b");
        assert_eq!(p.expression, r"\bghp\x5f(?:[0-9A-Za-z]){12}");
        assert!(p.truncated);
        // A distinctive literal after the run is kept (the run made unbounded), here across a group.
        let p = pf(r"(?P<secret>[a-z0-9]{52}AzSt[A-Z]{5})[^a-z]");
        assert_eq!(
            p.expression,
            r"(?:[0-9a-z]){12,}AzSt(?:[A-Z]){5}[\x00-\x60\x7b-\xff]"
        );
        assert!(!p.truncated);
        let p = pf(r"(?P<secret>[a-z]{40})\.suffix");
        assert_eq!(p.expression, r"(?:[a-z]){12,}\x2esuffix");
        // The anchor may come after optional parts, and counts inside repeated groups too.
        let p = pf(r"\b(?P<secret>[a-z][a-z-]{1,62}(?:\.[a-z-]{1,63}){0,4}\.host\.(?:com|net))\b");
        assert!(!p.truncated, "{p:?}");
        assert!(
            p.expression.ends_with(r"\x2ehost\x2e(?:com|net)\b"),
            "{p:?}"
        );
        // Small repetitions and the pattern's tail are kept when nothing is cut.
        let p = pf(r"AKIA[A-Z]{4}x?");
        assert_eq!(p.expression, r"AKIA(?:[A-Z]){4}(?:x)?");
        assert!(!p.truncated);
    }

    #[test]
    fn the_expression_knows_how_far_its_matches_reach() {
        // A keyword, an operator and the first bytes of a long value: a report stands for a match that
        // started at most 17 bytes earlier, not the pattern's 230.
        let p = pf(r"(?i:token|key)[ \t]{0,3}=[ \t]{0,3}(?P<secret>[A-Za-z0-9]{10,220})");
        assert!(p.truncated, "{p:?}");
        assert_eq!(
            (p.min_len, p.max_len),
            (3 + 1 + 10, Some(5 + 3 + 1 + 3 + 10))
        );
        // Unbounded after a cut with an anchor behind it: no bound.
        let p = pf(r"(?P<secret>[a-z]{40})\.suffix");
        assert_eq!((p.min_len, p.max_len), (12 + 7, None));
    }

    #[test]
    fn alternatives_keep_every_branch_and_anchors_other_than_word_boundaries_go() {
        let p = pf(r"^(?:ab[a-z]{20,40}|cd)(?m:$)e");
        assert_eq!(p.expression, r"(?:ab(?:[a-z]){12}|cd)");
        assert!(p.truncated);
        let p = pf(r"(?:x[0-9]{30}){0,2}y");
        assert_eq!(p.expression, r"(?:x(?:[0-9]){12})?");
        // Case-insensitive words become classes.
        let p = pf(r"(?i:ke)=");
        assert_eq!(p.expression, r"[Kk][Ee]\x3d");
    }

    #[test]
    fn an_anchor_is_found_inside_factored_alternatives() {
        // `(?i:password|pwd)` parses as `[Pp](?:[Aa]ssword|[Ww][Dd])`: every match still holds three literal
        // bytes, so the runs before it stay (unbounded) and the expression reports only where it occurs,
        // not at every `host=` in a file.
        let p =
            pf(r"(?i:host)=[^;]{1,200};[^\n]{0,300}(?i:password|pwd)=(?P<secret>[^;\s]{4,128})");
        assert!(p.truncated, "{p:?}");
        assert!(
            p.expression.contains(r"\x3b(?:[\x00-\x09\x0b-\xff])*"),
            "{p:?}"
        );
        assert!(
            p.expression
                .ends_with(r"\x3d(?:[\x00-\x08\x0e-\x1f\x21-\x3a\x3c-\xff]){4}"),
            "{p:?}"
        );
        // Two bytes are not an anchor: the run before them is cut, and the rest dropped.
        let p = pf(r"(?i:host)=[^;]{1,200}[0-9](?:ab|cd)");
        assert_eq!(p.expression, r"[Hh][Oo][Ss][Tt]\x3d[\x00-\x3a\x3c-\xff]");
        // An optional part counts for nothing: one byte after it is no anchor.
        let p = pf(r"[a-z]{30}(?:xy)?z");
        assert_eq!(p.expression, r"(?:[a-z]){12}");
    }
}
