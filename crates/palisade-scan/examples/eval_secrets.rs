//! Coverage measurement of Palisade's secret detector against a gitleaks rule file.
//!
//! ```text
//! cargo run --release -p palisade-scan --example eval_secrets -- \
//!     --gitleaks crates/palisade-scan/rules/gitleaks/gitleaks.toml \
//!     --benign shared/data/injection/s-labs/train.csv shared/data/injection/s-labs/validation.csv \
//!     [--samples 20] [--seed 1]
//! ```
//!
//! For every rule of the gitleaks file: draw `--samples` strings from the rule's own regex
//! (seeded; anchors and word boundaries dropped for generation, each draw then checked
//! against the real regex and the rule's entropy floor, up to 50 draws per sample), embed
//! each in a sentence (prefixed with one of the rule's keywords when the sample holds
//! none), and check that `SecretRules::builtin()` reports a finding from that rule.
//! False positives: texts with label 0 in the benign CSVs (columns `text,label`) that get
//! any secret finding. Timing: µs per KB of `detect` over the benign texts. Prints a
//! Markdown section to stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Instant;

use palisade_scan::Detector;
use palisade_scan::secrets::{SecretRules, shannon_entropy};
use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use regex_syntax::hir::{Hir, HirKind};

struct Args {
    gitleaks: String,
    benign: Vec<String>,
    samples: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        gitleaks: String::new(),
        benign: Vec::new(),
        samples: 20,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    let mut in_benign = false;
    while let Some(a) = it.next() {
        if a != "--benign" && a.starts_with("--") {
            in_benign = false;
        }
        match a.as_str() {
            "--gitleaks" => args.gitleaks = it.next().ok_or("--gitleaks needs a path")?,
            "--samples" => args.samples = it.next().ok_or("--samples needs N")?.parse()?,
            "--seed" => args.seed = it.next().ok_or("--seed needs N")?.parse()?,
            "--benign" => in_benign = true,
            _ if in_benign && !a.starts_with("--") => args.benign.push(a),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    if args.gitleaks.is_empty() {
        return Err("usage: eval_secrets --gitleaks FILE [--benign CSV...] [--samples N]".into());
    }
    Ok(args)
}

/// The Hir without look-around assertions (rand_regex cannot generate them).
fn strip_looks(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Look(_) => Hir::empty(),
        HirKind::Capture(mut c) => {
            c.sub = Box::new(strip_looks(*c.sub));
            Hir::capture(c)
        }
        HirKind::Repetition(mut r) => {
            r.sub = Box::new(strip_looks(*r.sub));
            Hir::repetition(r)
        }
        HirKind::Concat(v) => Hir::concat(v.into_iter().map(strip_looks).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.into_iter().map(strip_looks).collect()),
        other => other_kind(other),
    }
}

fn other_kind(kind: HirKind) -> Hir {
    match kind {
        HirKind::Literal(l) => Hir::literal(l.0),
        HirKind::Class(c) => Hir::class(c),
        _ => Hir::empty(),
    }
}

/// The secret a rule would report in `sample` (secretGroup, first non-empty group, match).
fn secret_of<'a>(re: &regex::Regex, group: usize, sample: &'a str) -> Option<&'a str> {
    let caps = re.captures(sample)?;
    let whole = caps.get(0)?.as_str().trim_matches('\n');
    if re.captures_len() == 1 {
        return Some(whole);
    }
    if group > 0 {
        return caps.get(group).map(|m| m.as_str());
    }
    Some(
        caps.iter()
            .skip(1)
            .flatten()
            .find(|m| !m.as_str().is_empty())
            .map_or(whole, |m| m.as_str()),
    )
}

#[derive(Default)]
struct RuleResult {
    samples: usize,
    found_by_rule: usize,
    found_by_any: usize,
    ungeneratable: usize,
    note: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let reference_text = std::fs::read_to_string(&args.gitleaks)?;
    let reference = SecretRules::from_toml(&reference_text)?;
    let palisade = SecretRules::builtin();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut results: BTreeMap<String, RuleResult> = BTreeMap::new();
    let mut out = Vec::new();

    for info in reference.rules() {
        let mut res = RuleResult::default();
        let re = regex::Regex::new(info.regex)?;
        let generator = regex_syntax::parse(info.regex)
            .map_err(|e| e.to_string())
            .and_then(|hir| {
                rand_regex::Regex::with_hir(strip_looks(hir), 8).map_err(|e| e.to_string())
            });
        let generator = match generator {
            Ok(g) => g,
            Err(e) => {
                res.note = format!("no generator: {e}");
                results.insert(info.id.to_string(), res);
                continue;
            }
        };
        for _ in 0..args.samples {
            let mut sample = None;
            for _ in 0..50 {
                let s: String = rng.sample(&generator);
                let Some(secret) = secret_of(&re, info.secret_group, &s) else {
                    continue;
                };
                if info.entropy > 0.0 && shannon_entropy(secret) <= info.entropy {
                    continue;
                }
                sample = Some(s);
                break;
            }
            let Some(sample) = sample else {
                res.ungeneratable += 1;
                continue;
            };
            res.samples += 1;
            let lower = sample.to_ascii_lowercase();
            let keyword = info.keywords.iter().find(|k| lower.contains(k.as_str()));
            let text = match (keyword, info.keywords.first()) {
                (None, Some(k)) => format!("{k} setup: could you check why this fails? {sample}"),
                _ => format!("Could you check why this fails? {sample}"),
            };
            let sample_start = text.len() - sample.len();
            out.clear();
            palisade.detect(&text, &mut out);
            if out.iter().any(|f| f.detector == info.detector) {
                res.found_by_rule += 1;
            }
            if out.iter().any(|f| f.end > sample_start) {
                res.found_by_any += 1;
            }
        }
        results.insert(info.id.to_string(), res);
    }

    // Benign texts.
    let mut benign = Vec::new();
    for path in &args.benign {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)?;
        let headers = reader.headers()?.clone();
        let text_col = headers
            .iter()
            .position(|h| h == "text")
            .ok_or("no text column")?;
        let label_col = headers
            .iter()
            .position(|h| h == "label")
            .ok_or("no label column")?;
        for record in reader.records() {
            let record = record?;
            if record.get(label_col).map(str::trim) == Some("0") {
                benign.push(record.get(text_col).unwrap_or_default().to_string());
            }
        }
    }
    let mut fp_texts = 0usize;
    let mut fp_rules: BTreeMap<String, usize> = BTreeMap::new();
    let mut clean = Vec::new();
    for text in &benign {
        out.clear();
        palisade.detect(text, &mut out);
        if out.is_empty() {
            clean.push(text.as_str());
        } else {
            fp_texts += 1;
            for f in &out {
                *fp_rules.entry(f.detector.to_string()).or_default() += 1;
            }
            eprintln!(
                "FP {:?}: {:?}",
                out[0].detector,
                &text[out[0].start..out[0].end]
            );
        }
    }
    // Per text, the fastest of 30 calls, summed: the machine is shared, and a single call
    // (a few µs) is rarely disturbed, where a whole pass over the texts always is.
    let timing = |texts: &[&str]| {
        let bytes: usize = texts.iter().map(|t| t.len()).sum();
        let mut out = Vec::new();
        let mut total = 0.0;
        for t in texts {
            let mut best = f64::INFINITY;
            for _ in 0..30 {
                out.clear();
                let start = Instant::now();
                palisade.detect(t, &mut out);
                best = best.min(start.elapsed().as_secs_f64());
            }
            total += best * 1e6;
        }
        (bytes, total / (bytes.max(1) as f64 / 1024.0))
    };
    let all: Vec<&str> = benign.iter().map(String::as_str).collect();
    // The same texts joined into ~1 KB prompts (the budget is stated per 1 KB prompt).
    let mut joined = Vec::new();
    let mut cur = String::new();
    for t in &all {
        cur.push_str(t);
        cur.push('\n');
        if cur.len() >= 1024 {
            joined.push(std::mem::take(&mut cur));
        }
    }
    let joined_refs: Vec<&str> = joined.iter().map(String::as_str).collect();
    let (kb_bytes, kb_us) = timing(&joined_refs);
    let mut selected: BTreeMap<String, usize> = BTreeMap::new();
    for t in &joined_refs {
        for d in palisade.candidate_rules(t) {
            *selected.entry(d.to_string()).or_default() += 1;
        }
    }
    let mut selected: Vec<_> = selected.into_iter().collect();
    selected.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (d, n) in selected.iter().take(12) {
        let Some(info) = palisade.rules().find(|r| r.detector == d.as_str()) else {
            continue;
        };
        let re = regex::Regex::new(info.regex)?;
        let start = Instant::now();
        let mut m = 0;
        for t in &joined_refs {
            m += re.find_iter(t).count();
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / (kb_bytes as f64 / 1024.0);
        eprintln!(
            "selected {d}: {n} of {} prompts; regex alone {us:.2} µs/KB, {m} raw matches",
            joined_refs.len()
        );
    }
    let (all_bytes, all_us) = timing(&all);
    let (clean_bytes, clean_us) = timing(&clean);

    print_report(&args, &reference, &palisade, &results);
    println!("### False positives on benign prompts\n");
    println!("| benign texts (label 0) | texts with a secret finding | per 1,000 texts |");
    println!("|---:|---:|---:|");
    let per_k = 1000.0 * fp_texts as f64 / benign.len().max(1) as f64;
    println!("| {} | {} | {:.2} |\n", benign.len(), fp_texts, per_k);
    if !fp_rules.is_empty() {
        println!("| rule | findings |\n|---|---:|");
        for (rule, n) in &fp_rules {
            println!("| `{rule}` | {n} |");
        }
        println!();
    }
    println!("### Speed\n");
    println!("| texts | bytes | µs per KB |\n|---|---:|---:|");
    println!("| all benign | {all_bytes} | {all_us:.2} |");
    println!("| benign with no finding | {clean_bytes} | {clean_us:.2} |");
    println!("| benign joined into ~1 KB prompts | {kb_bytes} | {kb_us:.2} |\n");
    println!(
        "`detect` of `SecretRules::builtin()` ({} rules), per text the fastest of 30 calls, summed, one thread, release build.",
        palisade.len()
    );
    Ok(())
}

fn print_report(
    args: &Args,
    reference: &SecretRules,
    palisade: &SecretRules,
    results: &BTreeMap<String, RuleResult>,
) {
    let r = reference.report();
    let samples: usize = results.values().map(|x| x.samples).sum();
    let by_rule: usize = results.values().map(|x| x.found_by_rule).sum();
    let by_any: usize = results.values().map(|x| x.found_by_any).sum();
    let ungen: usize = results.values().map(|x| x.ungeneratable).sum();
    let full = results
        .values()
        .filter(|x| x.samples > 0 && x.found_by_rule == x.samples)
        .count();
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!("## Secret detection coverage (gitleaks reference)\n");
    println!(
        "Generated by `examples/eval_secrets.rs` (seed {}, {} samples per rule).\n",
        args.seed, args.samples
    );
    println!("| | count |\n|---|---:|");
    println!("| rules in the gitleaks file | {} |", r.total());
    println!("| loaded | {} |", r.loaded);
    println!("| path-only, skipped | {} |", r.path_only.len());
    println!("| path + regex, path ignored | {} |", r.path_ignored.len());
    println!("| failed to compile | {} |", r.failed.len());
    println!(
        "| Palisade builtin rules (gitleaks + extra) | {} |",
        palisade.len()
    );
    println!(
        "| builtin rules run only around their keywords | {} |",
        palisade.windowed_rules()
    );
    println!(
        "| rules with 100% recall | {} of {} |\n",
        full,
        results.len()
    );
    for f in &r.failed {
        println!("- not loadable: `{}`: {}", f.rule, f.reason);
    }
    for p in &r.path_only {
        println!("- path-only (not applicable to prompts): `{p}`");
    }
    println!();
    println!(
        "| samples | found by the same rule | found by any rule | entropy floor not reachable |"
    );
    println!("|---:|---:|---:|---:|");
    println!(
        "| {samples} | {by_rule} ({:.1}%) | {by_any} ({:.1}%) | {ungen} |\n",
        pct(by_rule, samples),
        pct(by_any, samples)
    );
    println!("Rules below 100% recall (by the same rule):\n");
    println!("| rule | samples | same rule | any rule | note |\n|---|---:|---:|---:|---|");
    for (id, x) in results {
        if x.samples == 0 || x.found_by_rule < x.samples {
            println!(
                "| `{id}` | {} | {} | {} | {}{} |",
                x.samples,
                x.found_by_rule,
                x.found_by_any,
                x.note,
                if x.ungeneratable > 0 {
                    format!("{} draws below the entropy floor", x.ungeneratable)
                } else {
                    String::new()
                }
            );
        }
    }
    println!();
}
