//! `scan_profile`: where a scan's time goes. Times normalization and each detector alone
//! over a JSONL corpus (`{"text": …}` per line, e.g. bench/scan/out/corpus.jsonl), in
//! µs per KB (median and fastest of five passes), single thread.
//! `cargo run --release -p palisade-scan --example scan_profile -- <corpus.jsonl> [texts]`
//! (`SCAN_PROFILE_IDLE_US=2000`: sleep before each text, see [`time`];
//! `SCAN_PROFILE_ONLY=secrets`: time only the passes whose name contains it, e.g. under
//! `perf record`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use palisade_scan::Detector;
use palisade_scan::engine::Scanner;
use palisade_scan::injection::InjectionDetector;
use palisade_scan::normalize::{NormalizeOptions, normalize_with};
use palisade_scan::pii::PiiDetector;
use palisade_scan::secrets::SecretRules;

fn texts(path: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for line in std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let Some(text) = v["text"].as_str() {
            out.push(text.to_owned());
        }
    }
    Ok(out)
}

/// Prints µs/KB for `f` over every text: the median and the fastest of `PASSES` passes
/// (the machine is shared; the fastest pass is the least disturbed one). With
/// `SCAN_PROFILE_IDLE_US` set, the thread sleeps that long before each text and only
/// the scans are timed: the cost on a gateway whose core idles between requests (on a
/// VM, caches and predictors are lost while it sleeps).
fn time(name: &str, texts: &[String], mut f: impl FnMut(&str)) {
    const PASSES: usize = 5;
    if std::env::var("SCAN_PROFILE_ONLY").is_ok_and(|only| !name.contains(only.as_str())) {
        return;
    }
    let idle = std::env::var("SCAN_PROFILE_IDLE_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_micros);
    let bytes: usize = texts.iter().map(String::len).sum();
    for t in texts.iter().take(200) {
        f(t);
    }
    let mut passes = [0f64; PASSES];
    for pass in &mut passes {
        let mut spent = std::time::Duration::ZERO;
        match idle {
            Some(gap) => {
                for t in texts {
                    std::thread::sleep(gap);
                    let start = Instant::now();
                    f(t);
                    spent += start.elapsed();
                }
            }
            None => {
                let start = Instant::now();
                for t in texts {
                    f(t);
                }
                spent = start.elapsed();
            }
        }
        *pass = spent.as_secs_f64() * 1e6 * 1024.0 / bytes as f64;
    }
    passes.sort_by(f64::total_cmp);
    println!(
        "{name:<34} {:>8.2} µs/KB median {:>8.2} best",
        passes[PASSES / 2],
        passes[0]
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: scan_profile <corpus.jsonl> [texts]")?;
    let mut texts = texts(&path)?;
    if let Some(n) = std::env::args().nth(2).and_then(|n| n.parse().ok()) {
        texts.truncate(n);
    }
    println!("{} texts", texts.len());
    let opts = NormalizeOptions::default();
    time("normalize (decode on)", &texts, |t| {
        std::hint::black_box(normalize_with(t, &opts));
    });
    let pii = PiiDetector::new();
    time("pii", &texts, |t| {
        let mut v = Vec::new();
        pii.detect(t, &mut v);
        std::hint::black_box(v);
    });
    let secrets = SecretRules::builtin();
    println!(
        "secret rules: {}, run on every text: {}",
        secrets.rules().count(),
        secrets.unfiltered_rules()
    );
    time("secrets", &texts, |t| {
        let mut v = Vec::new();
        secrets.detect(t, &mut v);
        std::hint::black_box(v);
    });
    // The secret rules most often selected by their keywords, each regex alone over the
    // whole text (an upper bound for rules that run only around their keywords).
    let mut selected: std::collections::BTreeMap<String, usize> = Default::default();
    for t in &texts {
        for d in secrets.candidate_rules(t) {
            *selected.entry(d.to_owned()).or_default() += 1;
        }
    }
    let mut selected: Vec<_> = selected.into_iter().collect();
    selected.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (d, n) in selected.iter().take(15) {
        if let Some(info) = secrets.rules().find(|r| r.detector == d.as_str()) {
            let re = regex::Regex::new(info.regex)?;
            time(&format!("  {d} ({n}×)"), &texts, |t| {
                std::hint::black_box(re.find_iter(t).count());
            });
        }
    }
    let rules = InjectionDetector::builtin()?.without_classifier();
    // The injection rules most often armed by their anchors (their regexes run).
    if let Some(set) = rules.rules() {
        let mut armed: std::collections::BTreeMap<&str, usize> = Default::default();
        for t in &texts {
            for name in set.armed_rules(t) {
                *armed.entry(name).or_default() += 1;
            }
        }
        let mut armed: Vec<_> = armed.into_iter().collect();
        armed.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        for (name, n) in armed.iter().take(15) {
            println!("  armed injection rule {name} ({n}×)");
        }
    }
    time("injection rules", &texts, |t| {
        let mut v = Vec::new();
        rules.detect(t, &mut v);
        std::hint::black_box(v);
    });
    let injection = InjectionDetector::builtin()?;
    time("injection (rules and classifier)", &texts, |t| {
        let mut v = Vec::new();
        injection.detect(t, &mut v);
        std::hint::black_box(v);
    });
    let det = Scanner::deterministic()?;
    time("engine: deterministic", &texts, |t| {
        std::hint::black_box(det.scan(t));
    });
    let nodecode = Scanner::builder()
        .classifier(false)
        .normalize(Some(NormalizeOptions {
            decode: false,
            ..NormalizeOptions::default()
        }))
        .build()?;
    time("engine: deterministic, no decode", &texts, |t| {
        std::hint::black_box(nodecode.scan(t));
    });
    let standard = Scanner::standard()?;
    time("engine: standard", &texts, |t| {
        std::hint::black_box(standard.scan(t));
    });
    Ok(())
}
