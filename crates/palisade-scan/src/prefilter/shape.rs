//! What a pattern's syntax tree says about its keywords: whether every match holds one
//! (some part of the pattern that every match passes through matches only a small
//! finite set of strings, ASCII case folded, each containing a keyword), the byte
//! budgets of a match's parts before and after that keyword, and what must follow the
//! keyword when that part matches exactly a keyword. For literal passes whose keyword
//! spaces match any run of whitespace (the injection anchors), a whitespace class or a
//! run of one reads as a single space, and keywords with whitespace anywhere else than
//! between two words are refused.

use regex_syntax::hir::{Class, Hir, HirKind};

use super::budget::ByteBudget;

/// Most strings a finite sub-pattern may stand for before the analysis gives up.
const MAX_SET: usize = 256;

/// Most letters `k` and `s` a keyword may have for [`spellings`] to spell it every way
/// (2^6 spellings).
const MAX_FOLDED_LETTERS: usize = 6;

/// The keywords, and how the literal pass finds them.
#[derive(Debug, Clone, Copy)]
pub struct Keywords<'a> {
    pub words: &'a [String],
    /// A space in a keyword matches any run of whitespace (`Literals::spaced`): a
    /// regex's `\s+` then reads as one space.
    pub any_space: bool,
}

/// What a pattern requires of its keywords.
#[derive(Debug, Clone)]
pub struct Shape {
    pub sides: Sides,
    /// The rest of the pattern after the part that matches exactly a keyword, when that
    /// part is one of the top sequence's own and something follows it.
    pub continuation: Option<Hir>,
}

/// The budgets of the parts of a match on either side of its keyword.
#[derive(Debug, Clone)]
pub struct Sides {
    pub before: ByteBudget,
    pub after: ByteBudget,
}

impl Sides {
    /// The keyword anywhere in a match of budget `b`.
    fn both(b: ByteBudget) -> Sides {
        Sides {
            before: b.clone(),
            after: b,
        }
    }
}

/// The shape of `hir` if every match holds one of the keywords, and every spelling of
/// each that the keyword pass must find is known ([`spellings`]).
pub fn analyse(hir: &Hir, kw: &Keywords<'_>) -> Option<Shape> {
    if kw.words.is_empty() || kw.words.iter().any(|k| spellings(k.as_bytes()).is_none()) {
        return None;
    }
    // The literal pass compares a keyword's first three bytes as they are, a space at
    // either end would take a run the pattern may leave to its neighbours, and a run
    // read greedily would swallow other whitespace the keyword spells out: with
    // `any_space`, whitespace in a keyword is a space from the fourth byte on, between
    // two words, and nothing else.
    let misplaced = |k: &String| {
        let b = k.as_bytes();
        b.iter().take(3).any(|&c| c == b' ')
            || b.last() == Some(&b' ')
            || k.chars().any(|c| c.is_whitespace() && c != ' ')
    };
    if kw.any_space && kw.words.iter().any(misplaced) {
        return None;
    }
    let sides = sides(hir, kw)?;
    Some(Shape {
        sides,
        continuation: continuation(hir, kw),
    })
}

/// `word` in ASCII lower case, and spelled with KELVIN SIGN for `k` and LONG S for `s`
/// in every combination: Unicode case folding maps those two to ASCII letters, so a
/// case-insensitive regex matches `\u{212A}ey = …`, and a keyword occurrence so spelled
/// must be seen. (gitleaks' own lower-casing turns the KELVIN SIGN into `k` as well;
/// LONG S selects a few rules gitleaks would not, which only costs a regex search.)
/// `None` past [`MAX_FOLDED_LETTERS`] such letters.
pub fn spellings(word: &[u8]) -> Option<Vec<Vec<u8>>> {
    let folded = word
        .iter()
        .filter(|b| matches!(b.to_ascii_lowercase(), b'k' | b's'))
        .count();
    if folded > MAX_FOLDED_LETTERS {
        return None;
    }
    let mut out = vec![Vec::with_capacity(word.len())];
    for &b in word {
        let b = b.to_ascii_lowercase();
        let other: &[u8] = match b {
            b'k' => "\u{212A}".as_bytes(),
            b's' => "\u{17F}".as_bytes(),
            _ => &[],
        };
        let mut more = Vec::new();
        for spelling in &mut out {
            if !other.is_empty() {
                let mut s = spelling.clone();
                s.extend_from_slice(other);
                more.push(s);
            }
            spelling.push(b);
        }
        out.extend(more);
    }
    Some(out)
}

fn all_contain(set: &[Vec<u8>], keywords: &[String]) -> bool {
    !set.is_empty()
        && set.iter().all(|s| {
            keywords.iter().any(|k| {
                let k = k.as_bytes();
                !k.is_empty() && s.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k))
            })
        })
}

fn all_keywords(set: &[Vec<u8>], keywords: &[String]) -> bool {
    !set.is_empty()
        && set.iter().all(|s| {
            keywords
                .iter()
                .any(|k| s.eq_ignore_ascii_case(k.as_bytes()))
        })
}

/// If every match of `hir` contains a keyword: the budgets of a match's parts before
/// and after that keyword. (Another occurrence of a keyword inside a match may see
/// other sides; the windows of the one the pattern requires are what cover the match.)
fn sides(hir: &Hir, kw: &Keywords<'_>) -> Option<Sides> {
    if finite(hir, kw.any_space).is_some_and(|set| all_contain(&set, kw.words)) {
        return Some(Sides::both(ByteBudget::of(hir)));
    }
    match hir.kind() {
        HirKind::Capture(c) => sides(&c.sub, kw),
        // The keyword is in one repetition; the others may be on either side.
        HirKind::Repetition(r) if r.min >= 1 => {
            sides(&r.sub, kw).map(|_| Sides::both(ByteBudget::of(hir)))
        }
        HirKind::Alternation(alts) => {
            let mut all: Option<Sides> = None;
            for alt in alts {
                let s = sides(alt, kw)?;
                match &mut all {
                    None => all = Some(s),
                    Some(a) => {
                        a.before.max(&s.before);
                        a.after.max(&s.after);
                    }
                }
            }
            all
        }
        HirKind::Concat(children) => {
            let part = keyword_part(children, kw)?;
            let mut before = ByteBudget::sum(&children[..part.from]);
            before.add(&part.sides.before);
            let mut after = part.sides.after;
            after.add(&ByteBudget::sum(&children[part.to + 1..]));
            Some(Sides { before, after })
        }
        _ => None,
    }
}

/// The part of a sequence that holds the keyword: `children[from..=to]`.
struct KeywordPart {
    from: usize,
    to: usize,
    sides: Sides,
}

/// The first child that holds a keyword, or run of consecutive finite children whose
/// strings all do (the longest run ending at a child whose strings are few enough).
fn keyword_part(children: &[Hir], kw: &Keywords<'_>) -> Option<KeywordPart> {
    let mut run: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
    for (i, child) in children.iter().enumerate() {
        if let Some(sides) = sides(child, kw) {
            return Some(KeywordPart {
                from: i,
                to: i,
                sides,
            });
        }
        let Some(set) = finite(child, kw.any_space) else {
            run.clear();
            continue;
        };
        run.push((i, set));
        let strings = loop {
            match run_strings(&run) {
                Some(strings) => break strings,
                None => {
                    run.remove(0);
                }
            }
        };
        if let Some(&(from, _)) = run.first()
            && all_contain(&strings, kw.words)
        {
            return Some(KeywordPart {
                from,
                to: i,
                sides: Sides::both(ByteBudget::sum(&children[from..=i])),
            });
        }
    }
    None
}

/// The strings a run of finite children matches, if few.
fn run_strings(run: &[(usize, Vec<Vec<u8>>)]) -> Option<Vec<Vec<u8>>> {
    let mut acc = vec![Vec::new()];
    for (_, set) in run {
        acc = product(&acc, set)?;
    }
    Some(acc)
}

/// The pattern after the keyword part of `hir`'s top sequence, when that part is one
/// child whose every string is a keyword (ASCII case folded): then a match's keyword
/// occurrence ends exactly where the continuation starts. (It must be the part the
/// sides were computed for: a window only covers a match through that occurrence.)
fn continuation(hir: &Hir, kw: &Keywords<'_>) -> Option<Hir> {
    let children = match hir.kind() {
        HirKind::Capture(c) => return continuation(&c.sub, kw),
        HirKind::Concat(children) => children,
        _ => return None,
    };
    let part = keyword_part(children, kw)?;
    let child = children.get(part.from).filter(|_| part.from == part.to)?;
    if !finite(child, kw.any_space).is_some_and(|set| all_keywords(&set, kw.words)) {
        return None;
    }
    let rest = children.get(part.to + 1..).filter(|r| !r.is_empty())?;
    Some(Hir::concat(rest.to_vec()))
}

/// The strings `hir` matches (ASCII letters folded to lower case), if few. With
/// `any_space`, a class of whitespace characters, or a run of them, reads as one space.
fn finite(hir: &Hir, any_space: bool) -> Option<Vec<Vec<u8>>> {
    if any_space && is_whitespace_run(hir) {
        return Some(vec![b" ".to_vec()]);
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(l) => Some(vec![l.0.to_ascii_lowercase()]),
        HirKind::Class(c) => class_set(c),
        HirKind::Capture(c) => finite(&c.sub, any_space),
        HirKind::Repetition(r) => {
            let max = r.max?;
            if max > 4 {
                return None;
            }
            let sub = finite(&r.sub, any_space)?;
            let mut all = Vec::new();
            let mut cur = vec![Vec::new()];
            for n in 0..=max {
                if n >= r.min {
                    all.extend(cur.iter().cloned());
                }
                cur = product(&cur, &sub)?;
            }
            (all.len() <= MAX_SET).then_some(all)
        }
        HirKind::Concat(children) => {
            let mut acc = vec![Vec::new()];
            for child in children {
                acc = product(&acc, &finite(child, any_space)?)?;
            }
            Some(acc)
        }
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for a in alts {
                all.extend(finite(a, any_space)?);
                if all.len() > MAX_SET {
                    return None;
                }
            }
            Some(all)
        }
    }
}

/// A class of whitespace characters only, or one or more of them.
fn is_whitespace_run(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .all(|r| (r.start()..=r.end()).all(char::is_whitespace)),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .all(|r| (r.start()..=r.end()).all(|b| b.is_ascii_whitespace() || b == 0x0b)),
        HirKind::Repetition(r) => r.min >= 1 && is_whitespace_run(&r.sub),
        HirKind::Capture(c) => is_whitespace_run(&c.sub),
        _ => false,
    }
}

fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len().saturating_mul(b.len()) > MAX_SET {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Some(out)
}

/// A class of one character, or one ASCII letter in both cases.
fn class_set(class: &Class) -> Option<Vec<Vec<u8>>> {
    let mut chars: Vec<u8> = Vec::new();
    match class {
        Class::Unicode(u) => {
            for r in u.ranges() {
                if r.end() as u32 - r.start() as u32 > 2 {
                    return None;
                }
                // Non-ASCII members are (?i) fold variants: KELVIN SIGN for k, LONG S
                // for s, which the keyword pass finds as those letters too
                // ([`spellings`]). Any other makes the class no keyword's.
                for c in r.start()..=r.end() {
                    chars.push(match c {
                        '\u{212A}' => b'k',
                        '\u{17F}' => b's',
                        c if c.is_ascii() => (c as u8).to_ascii_lowercase(),
                        _ => return None,
                    });
                }
            }
            if chars.is_empty() {
                return None;
            }
        }
        Class::Bytes(b) => {
            for r in b.ranges() {
                if r.end() - r.start() > 2 {
                    return None;
                }
                for c in r.start()..=r.end() {
                    chars.push(c.to_ascii_lowercase());
                }
            }
        }
    }
    chars.sort_unstable();
    chars.dedup();
    (chars.len() <= 3).then(|| chars.into_iter().map(|c| vec![c]).collect())
}
