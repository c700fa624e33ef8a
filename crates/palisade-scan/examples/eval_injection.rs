//! Evaluates the prompt-injection detector and prints a Markdown section for
//! `docs/detection.md`: precision, recall, F1, false-positive rate and confusion matrix
//! on the validation set for the classifier alone, the rules alone and the combined
//! detector as shipped, each behind the scanner's normalisation as the gateway runs it; recall on an all-positive multilingual set; out-of-distribution
//! checks (long benign inputs, the scan benchmark corpus, hand-written everyday prompts
//! and attacks in `examples/data/`, and `--docs` / `--code`: documentation paragraphs
//! and code snippets from elsewhere, one per line); and microseconds per KB. Deterministic apart from
//! the timings.
//!
//! `cargo run --release -p palisade-scan --example eval_injection -- --validation <csv>
//! --multilingual <csv> [--train <csv>] [--bench <corpus.jsonl>] [--docs <txt>] [--code <txt>] [--model <weights.bin>]`
//!
//! `--model` evaluates a weights file from `train-injection` instead of the built-in one,
//! to judge a candidate by the same numbers before it replaces `models/injection-v2.bin`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::hint::black_box;
use std::process::ExitCode;

use common::{ATTACKS, EVERYDAY, benign_prompts, jsonl_texts, lines, read};
use std::time::Instant;

use palisade_scan::Category;
use palisade_scan::engine::{Scanner, Selection};
use palisade_scan::injection::csv::{Example, parse_first_column, parse_labelled};
use palisade_scan::injection::train::Confusion;
use palisade_scan::injection::{Classifier, Family, InjectionDetector, InjectionRules};

const USAGE: &str = "usage: eval_injection --validation <csv> --multilingual <csv> [--train <csv>] [--bench <corpus.jsonl>] [--docs <txt>] [--code <txt>] [--model <weights.bin>]";

/// Prompt injection as the gateway scans for it: normalisation (obfuscation undone,
/// encoded runs decoded), then `detector`.
fn scanner(detector: InjectionDetector) -> Result<Scanner, String> {
    Scanner::builder()
        .pii(false)
        .builtin_secrets(false)
        .injection_detector(detector)
        .build()
        .map_err(|e| e.to_string())
}

const INJECTION: Selection<'static> = Selection {
    categories: &[Category::Injection],
    banned: None,
};

fn fires(d: &Scanner, text: &str) -> bool {
    !d.scan_selected(text, INJECTION).is_empty()
}

fn micros_per_prompt(d: &Scanner, prompts: &[String]) -> f64 {
    // Best of five timed rounds, so that a busy machine inflates the figure less.
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let mut runs = 0usize;
        let start = Instant::now();
        while runs < 20_000 && (runs < prompts.len() * 3 || start.elapsed().as_millis() < 200) {
            black_box(d.scan_selected(black_box(&prompts[runs % prompts.len()]), INJECTION));
            runs += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / runs as f64);
    }
    best
}

fn run() -> Result<(), String> {
    let mut it = std::env::args().skip(1);
    let (mut validation, mut multilingual, mut train, mut bench) = (None, None, None, None);
    let (mut model, mut docs, mut code) = (None, None, None);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--validation" => validation = Some(value),
            "--multilingual" => multilingual = Some(value),
            "--train" => train = Some(value),
            "--bench" => bench = Some(value),
            "--model" => model = Some(value),
            "--docs" => docs = Some(value),
            "--code" => code = Some(value),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let (Some(validation), Some(multilingual)) = (validation, multilingual) else {
        return Err(USAGE.to_owned());
    };
    let validation = parse_labelled(&read(&validation)?).map_err(|e| e.to_string())?;
    let multilingual = parse_first_column(&read(&multilingual)?).map_err(|e| e.to_string())?;
    let train = match train {
        Some(p) => Some(parse_labelled(&read(&p)?).map_err(|e| e.to_string())?),
        None => None,
    };

    let detector = || -> Result<InjectionDetector, String> {
        let builtin = InjectionDetector::builtin().map_err(|e| e.to_string())?;
        let Some(path) = &model else {
            return Ok(builtin);
        };
        let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let classifier = Classifier::from_bytes(&bytes).map_err(|e| format!("{path}: {e}"))?;
        let rules = InjectionRules::new().map_err(|e| e.to_string())?;
        Ok(InjectionDetector::new(Some(rules), Some(classifier)))
    };
    let shipped = detector()?;
    let threshold = shipped.threshold();
    let combined = scanner(shipped)?;
    let classifier = scanner(detector()?.without_rules())?;
    let rules = scanner(detector()?.without_classifier())?;
    let variants = [
        ("classifier alone", &classifier),
        ("rules alone", &rules),
        ("combined (shipped)", &combined),
    ];
    let ys: Vec<bool> = validation.iter().map(|e| e.label).collect();

    println!("### Prompt-injection detector\n");
    println!(
        "Validation: S-Labs `validation.csv`, {} rows ({} injection). Classifier threshold {:.4} \
         (tuned on validation: the best F1 with FPR ≤ 1 %). Multilingual: {} injection prompts, \
         never used for training or tuning. Every row is scanned as the gateway scans a \
         prompt: normalised first (invisible characters, homoglyphs, letter-spaced words, \
         encoded runs), then the detector.\n",
        validation.len(),
        ys.iter().filter(|&&y| y).count(),
        threshold,
        multilingual.len()
    );
    println!(
        "| detector | precision | recall | F1 | FPR | TP | FP | TN | FN | multilingual recall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, d) in variants {
        let pred: Vec<bool> = validation.iter().map(|e| fires(d, &e.text)).collect();
        let c = Confusion::from_predictions(&pred, &ys);
        let ml = multilingual.iter().filter(|t| fires(d, t)).count();
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {} | {} | {} | {} | {:.4} ({ml}/{}) |",
            c.precision(),
            c.recall(),
            c.f1(),
            c.fpr(),
            c.tp,
            c.fp,
            c.tn,
            c.fn_,
            ml as f64 / multilingual.len().max(1) as f64,
            multilingual.len()
        );
    }

    println!("\nRule hits by family (validation injections / validation benign / multilingual):\n");
    println!("| family | injection | benign | multilingual |\n|---|---|---|---|");
    for fam in Family::ALL {
        let hit = |t: &str| {
            rules
                .scan_selected(t, INJECTION)
                .iter()
                .any(|f| f.detector.starts_with(fam.detector()))
        };
        let pos = validation
            .iter()
            .filter(|e| e.label && hit(&e.text))
            .count();
        let neg = validation
            .iter()
            .filter(|e| !e.label && hit(&e.text))
            .count();
        let ml = multilingual.iter().filter(|t| hit(t)).count();
        println!("| {} | {pos} | {neg} | {ml} |", fam.as_str());
    }

    if let Some(train) = &train {
        let benign: Vec<&Example> = train.iter().filter(|e| !e.label).collect();
        let fp = benign.iter().filter(|e| fires(&rules, &e.text)).count();
        println!(
            "\nRules on `train.csv` benign rows: {fp}/{} fire (FPR {:.4}).",
            benign.len(),
            fp as f64 / benign.len().max(1) as f64
        );
    }

    // Long inputs: benign 1 KB / 8 KB prompts, and an injection after a 4 KB benign preamble.
    let kb1 = benign_prompts(&validation, 1024);
    let kb8 = benign_prompts(&validation, 8192);
    let fpr = |d: &Scanner, ps: &[String]| ps.iter().filter(|p| fires(d, p)).count();
    let preamble = kb8
        .first()
        .map(|p| p.get(..4096).unwrap_or(p).to_owned())
        .unwrap_or_default();
    let preamble = preamble
        .get(..preamble.rfind(' ').unwrap_or(0))
        .unwrap_or("")
        .to_owned();
    let tail: Vec<String> = validation
        .iter()
        .filter(|e| e.label)
        .map(|e| format!("{preamble}\n\n{}", e.text))
        .collect();
    let bench = match bench {
        Some(p) => jsonl_texts(&p)?,
        None => Vec::new(),
    };
    let (everyday, attacks) = (lines(EVERYDAY), lines(ATTACKS));
    let [docs, code] = [docs, code].map(|path| match path {
        Some(p) => read(&p).map(|text| lines(&text)),
        None => Ok(Vec::new()),
    });
    let (docs, code) = (docs?, code?);
    println!(
        "\nOut-of-distribution checks. Long inputs: benign validation rows joined; the \
         classifier scores windows of whole sentences up to 32 tokens, and the best window's \
         margin is lowered by the model's window penalty × ln(number of windows). Bench \
         corpus: `bench/scan/out/corpus.jsonl`, benign or PII prompts of ~1 KB, no \
         injections; its filler sentences are S-Labs validation benign rows, so the prompts \
         it flags repeat validation's own false positives (distinct sentences below the \
         table). Everyday prompts and written attacks: `examples/data/`, written for \
         Palisade, never trained on. Documentation and code: docstring paragraphs and snippets \
         of 1-4 code lines from Python's standard library (`scripts/stdlib-text`; technical \
         text the classifier never saw — its prose and code rows come from Palisade's docs and Rust's).\n"
    );
    println!("| check | classifier | rules | combined |\n|---|---|---|---|");
    let mut checks = vec![
        ("benign ~1 KB prompts flagged", &kb1),
        ("benign ~8 KB prompts flagged", &kb8),
        ("injection after 4 KB benign preamble caught", &tail),
        ("everyday benign prompts flagged", &everyday),
        ("written attacks (8 languages) caught", &attacks),
    ];
    if !bench.is_empty() {
        checks.push(("bench corpus prompts flagged", &bench));
    }
    if !docs.is_empty() {
        checks.push(("documentation paragraphs flagged", &docs));
    }
    if !code.is_empty() {
        checks.push(("code snippets flagged", &code));
    }
    for (name, ps) in checks {
        println!(
            "| {name} | {}/{n} | {}/{n} | {}/{n} |",
            fpr(&classifier, ps),
            fpr(&rules, ps),
            fpr(&combined, ps),
            n = ps.len()
        );
    }
    if !bench.is_empty() {
        // The sentences that decided: one validation false positive recurs in many prompts.
        let mut sentences = std::collections::BTreeSet::new();
        for t in &bench {
            for f in combined.scan_selected(t, INJECTION) {
                sentences.insert(t.get(f.span()).unwrap_or_default().to_owned());
            }
        }
        println!(
            "\nBench corpus prompts flagged (combined) come from {} distinct flagged passages.",
            sentences.len()
        );
    }

    println!(
        "\nLatency, µs per ~1 KB benign prompt ({} prompts, single thread, release build, best \
         of five rounds, normalisation included):\n",
        kb1.len()
    );
    println!("| detector | µs / prompt | µs / KB |\n|---|---|---|");
    let bytes = kb1.iter().map(String::len).sum::<usize>() as f64 / kb1.len().max(1) as f64;
    for (name, d) in variants {
        let us = micros_per_prompt(d, &kb1);
        println!("| {name} | {us:.1} | {:.1} |", us * 1024.0 / bytes);
    }
    if !bench.is_empty() {
        let bytes = bench.iter().map(String::len).sum::<usize>() as f64 / bench.len() as f64;
        let us = micros_per_prompt(&classifier, &bench);
        println!(
            "\nClassifier alone on the bench corpus ({} prompts): {us:.1} µs / prompt, {:.1} µs / KB.",
            bench.len(),
            us * 1024.0 / bytes
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eval_injection: {e}");
            ExitCode::FAILURE
        }
    }
}
