//! `injection_lab`: the model-selection bench for the injection classifier. Trains
//! candidate configurations in process and reports, for each, grouped k-fold
//! cross-validation on the training set (project-written rows always on the training
//! side, never scored) and the out-of-distribution checks: benign prompts of the scan
//! benchmark corpus, long benign texts, an injection after a long benign preamble,
//! hand-written everyday prompts (`examples/data/everyday_benign.txt`) and multilingual
//! recall, at several window penalties. The threshold for those checks comes from the
//! cross-validation scores (best F1 with FPR ≤ 1 %), not from validation.
//!
//! The out-of-distribution columns use the threshold tuned on validation (best F1 with
//! FPR ≤ 1 %, or `LAB_FPR`), as shipping does; everyday prompts are split into a
//! development half (even lines, which may be looked at) and a held-out half (odd lines,
//! only counted). Diagnostics, by environment variable: `LAB_CURVE` (metrics at fixed
//! thresholds), `LAB_LIST` (flagged everyday prompts), `LAB_VAL` (worst validation
//! rows), `LAB_SHOW=n` (top benign windows of long texts), `LAB_OOD` (flagged
//! `--ood-benign` texts).
//!
//! `cargo run --release -p palisade-scan --example injection_lab -- --data <shared/data>
//! --bench <corpus.jsonl> [--bits 17] [--chars 3-5] [--l2 1e-6,1e-5] [--epochs 10]
//! [--lr 0.1] [--window 32] [--penalty 0,0.5] [--no-augment] [--no-prose | --prose-file <file>] [--no-punct]
//! [--ood-benign <file>] [--folds 5] [--time]`
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::process::ExitCode;

use common::{ATTACKS, EVERYDAY, benign_prompts, jsonl_texts, lines, read};
use std::time::Instant;

use palisade_scan::injection::Classifier;
use palisade_scan::injection::augment;
use palisade_scan::injection::csv::{Example, parse_first_column, parse_labelled};
use palisade_scan::injection::train::{
    Confusion, TrainConfig, cross_validate_with, log_loss, train as train_model, tune_threshold,
};

/// This thread's time on a CPU in ns (Linux schedstat), so that timings on a shared
/// machine do not count time spent descheduled; 0 where unavailable.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn list<T: std::str::FromStr>(s: &str) -> Result<Vec<T>, String> {
    s.split(',')
        .map(|x| x.trim().parse().map_err(|_| format!("bad value {x}")))
        .collect()
}

struct Sets {
    train: Vec<Example>,
    validation: Vec<Example>,
    multilingual: Vec<String>,
    bench: Vec<String>,
    everyday: Vec<String>,
    /// Benign texts from elsewhere (`--ood-benign`, one per line), only counted.
    ood: Vec<String>,
    long1: Vec<String>,
    long8: Vec<String>,
    tail: Vec<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("injection_lab: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut it = std::env::args().skip(1);
    let (mut data, mut bench) = (None, None);
    let mut cfg = TrainConfig::default();
    let mut l2s = vec![cfg.l2];
    let mut penalties = vec![0.0f32];
    let mut augment_on = true;
    let mut folds = 5usize;
    let mut timing = false;
    let mut prose = true;
    let mut prose_file: Option<String> = None;
    let mut ood = Vec::new();
    while let Some(flag) = it.next() {
        if flag == "--no-punct" {
            cfg.features.punctuation = false;
            continue;
        }
        if flag == "--no-prose" {
            prose = false;
            continue;
        }
        if flag == "--no-augment" {
            augment_on = false;
            continue;
        }
        if flag == "--time" {
            timing = true;
            continue;
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = Some(v),
            "--bench" => bench = Some(v),
            "--bits" => cfg.features.bits = v.parse().map_err(|_| "bits")?,
            "--chars" => {
                let (a, b) = v.split_once('-').ok_or("--chars a-b")?;
                cfg.features.char_min = a.parse().map_err(|_| "chars")?;
                cfg.features.char_max = b.parse().map_err(|_| "chars")?;
            }
            "--l2" => l2s = list(&v)?,
            "--epochs" => cfg.epochs = v.parse().map_err(|_| "epochs")?,
            "--lr" => cfg.learning_rate = v.parse().map_err(|_| "lr")?,
            "--window" => cfg.window = v.parse().map_err(|_| "window")?,
            "--penalty" => penalties = list(&v)?,
            "--folds" => folds = v.parse().map_err(|_| "folds")?,
            "--ood-benign" => ood = lines(&read(&v)?),
            "--prose-file" => prose_file = Some(v),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let data = data.ok_or("--data <shared/data> required")?;
    let train = parse_labelled(&read(&format!("{data}/injection/s-labs/train.csv"))?)
        .map_err(|e| e.to_string())?;
    let validation = parse_labelled(&read(&format!("{data}/injection/s-labs/validation.csv"))?)
        .map_err(|e| e.to_string())?;
    let multilingual = parse_first_column(&read(&format!(
        "{data}/injection/yanismiraoui/prompt_injections.csv"
    ))?)
    .map_err(|e| e.to_string())?;
    let bench = match bench {
        Some(p) => jsonl_texts(&p)?,
        None => Vec::new(),
    };
    let everyday = lines(EVERYDAY);
    let long8 = benign_prompts(&validation, 8192);
    let preamble = long8
        .first()
        .map(|p| p.get(..4096).unwrap_or(p))
        .unwrap_or("");
    let preamble = preamble
        .get(..preamble.rfind(' ').unwrap_or(0))
        .unwrap_or("");
    let tail = validation
        .iter()
        .filter(|e| e.label)
        .map(|e| format!("{preamble}\n\n{}", e.text))
        .collect();
    let sets = Sets {
        long1: benign_prompts(&validation, 1024),
        long8,
        tail,
        train,
        validation,
        multilingual,
        bench,
        everyday,
        ood,
    };
    let extra = if augment_on && prose {
        let mut base = augment::all_but_prose();
        let rows = match &prose_file {
            Some(f) => lines(&read(f)?)
                .into_iter()
                .map(|text| Example { text, label: false })
                .collect(),
            None => palisade_scan::injection::augment_prose::rows(),
        };
        base.extend(rows);
        base
    } else if augment_on {
        augment::all_but_prose()
    } else {
        Vec::new()
    };
    println!(
        "train {} + extra {} ({} injection); bits={} chars={}-{} epochs={} lr={} window={}",
        sets.train.len(),
        extra.len(),
        extra.iter().filter(|e| e.label).count(),
        cfg.features.bits,
        cfg.features.char_min,
        cfg.features.char_max,
        cfg.epochs,
        cfg.learning_rate,
        cfg.window
    );
    for l2 in l2s {
        let cfg = TrainConfig { l2, ..cfg.clone() };
        evaluate(&sets, &extra, &cfg, &penalties, folds, timing)?;
    }
    Ok(())
}

fn evaluate(
    sets: &Sets,
    extra: &[Example],
    cfg: &TrainConfig,
    penalties: &[f32],
    folds: usize,
    timing: bool,
) -> Result<(), String> {
    let t0 = Instant::now();
    let ys: Vec<bool> = sets.train.iter().map(|e| e.label).collect();
    let (cv_t, cv_line) = if folds > 1 {
        let oof = cross_validate_with(&sets.train, extra, folds, cfg);
        let t = tune_threshold(&oof, &ys, 0.01);
        let c = Confusion::at(&oof, &ys, t);
        let c5 = Confusion::at(&oof, &ys, 0.5);
        (
            t,
            format!(
                "CV loss {:.4} F1@.5 {:.4} (FPR {:.4}) | @t={t:.3}: P {:.4} R {:.4} F1 {:.4} FPR {:.4}",
                log_loss(&oof, &ys),
                c5.f1(),
                c5.fpr(),
                c.precision(),
                c.recall(),
                c.f1(),
                c.fpr()
            ),
        )
    } else {
        (0.5, "CV skipped".to_owned())
    };
    let mut all = sets.train.clone();
    all.extend_from_slice(extra);
    let model = train_model(&all, cfg);
    let clf = Classifier::from_bytes(&Classifier::from_model(model).to_bytes())
        .map_err(|e| e.to_string())?;
    println!(
        "\n## l2={:e}  ({:.1}s)\n{cv_line}",
        cfg.l2,
        t0.elapsed().as_secs_f32()
    );
    let win = |texts: &[String]| -> Vec<(f32, usize)> {
        texts
            .iter()
            .map(|t| {
                let w = clf.best_window(t);
                (w.margin, w.windows)
            })
            .collect()
    };
    let vy: Vec<bool> = sets.validation.iter().map(|e| e.label).collect();
    let vtexts: Vec<String> = sets.validation.iter().map(|e| e.text.clone()).collect();
    let sv = win(&vtexts);
    let (sb, s1, s8, st, se, sm) = (
        win(&sets.bench),
        win(&sets.long1),
        win(&sets.long8),
        win(&sets.tail),
        win(&sets.everyday),
        win(&sets.multilingual),
    );
    println!(
        "| penalty | val-t | val P | val R | val F1 | val FPR | val F1 at CV-t {cv_t:.3} | multiling R | bench flags | 1KB | 8KB | tail R | everyday FP |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &pen in penalties {
        let prob = |s: &[(f32, usize)]| -> Vec<f32> {
            s.iter()
                .map(|&(m, n)| 1.0 / (1.0 + (-(m - pen * (n.max(1) as f32).ln())).exp()))
                .collect()
        };
        let count = |s: &[(f32, usize)], t: f32| prob(s).iter().filter(|&&p| p >= t).count();
        let pv = prob(&sv);
        let c = Confusion::at(&pv, &vy, cv_t);
        let max_fpr: f64 = std::env::var("LAB_FPR")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.01);
        let vt = tune_threshold(&pv, &vy, max_fpr);
        let cvt = Confusion::at(&pv, &vy, vt);
        // Out-of-distribution checks at the threshold that would ship (validation-tuned).
        let cv_t = vt;
        let half = |s: &[(f32, usize)], odd: usize| {
            let p = prob(s);
            p.iter()
                .skip(odd)
                .step_by(2)
                .filter(|&&x| x >= cv_t)
                .count()
        };
        println!(
            "everyday dev half {}/{}, held-out half {}/{}",
            half(&se, 0),
            se.len().div_ceil(2),
            half(&se, 1),
            se.len() / 2
        );
        if std::env::var("LAB_CURVE").is_ok() {
            for t in [0.45f32, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75] {
                let c = Confusion::at(&pv, &vy, t);
                let ev = prob(&se).iter().filter(|&&p| p >= t).count();
                let ml = prob(&sm).iter().filter(|&&p| p >= t).count();
                let bf = prob(&sb).iter().filter(|&&p| p >= t).count();
                println!(
                    "  t={t:.2}: val F1 {:.4} R {:.4} FPR {:.4} | everyday {ev} | multiling {ml} | bench {bf}",
                    c.f1(),
                    c.recall(),
                    c.fpr()
                );
            }
        }
        if std::env::var("LAB_LIST").is_ok() {
            for (t, p) in sets.everyday.iter().zip(prob(&se)) {
                if p >= cv_t {
                    println!("  flagged everyday {p:.3}: {t}");
                }
            }
        }
        if !sets.ood.is_empty() {
            let so = win(&sets.ood);
            println!("ood benign flagged {}/{}", count(&so, cv_t), so.len());
            if std::env::var("LAB_OOD").is_ok() {
                for (t, p) in sets.ood.iter().zip(prob(&so)) {
                    if p >= cv_t {
                        println!("  flagged ood {p:.3}: {}", t.get(..160).unwrap_or(t));
                    }
                }
            }
        }
        let sa = win(&lines(ATTACKS));
        let caught: Vec<bool> = prob(&sa).iter().map(|&p| p >= cv_t).collect();
        println!(
            "written attacks caught {}/{}; missed: {:?}",
            caught.iter().filter(|&&c| c).count(),
            caught.len(),
            caught
                .iter()
                .enumerate()
                .filter(|(_, c)| !**c)
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        );
        println!(
            "| {pen} | {cv_t:.3} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {}/{} | {}/{} | {}/{} | {:.4} | {}/{} |",
            cvt.precision(),
            cvt.recall(),
            cvt.f1(),
            cvt.fpr(),
            c.f1(),
            count(&sm, cv_t) as f64 / sm.len().max(1) as f64,
            count(&sb, cv_t),
            sb.len(),
            count(&s1, cv_t),
            s1.len(),
            count(&s8, cv_t),
            s8.len(),
            count(&st, cv_t) as f64 / st.len().max(1) as f64,
            count(&se, cv_t),
            se.len()
        );
    }
    if std::env::var("LAB_VAL").is_ok() {
        let mut rows: Vec<(f32, bool, &str)> = sets
            .validation
            .iter()
            .map(|e| (clf.score(&e.text), e.label, e.text.as_str()))
            .collect();
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (p, _, t) in rows.iter().filter(|r| !r.1).take(25) {
            println!("  benign {p:.3}: {t}");
        }
        for (p, _, t) in rows.iter().rev().filter(|r| r.1).take(40) {
            println!("  missed {p:.3}: {t}");
        }
    }
    if let Ok(n) = std::env::var("LAB_SHOW") {
        let n: usize = n.parse().unwrap_or(5);
        let mut ws: Vec<(f32, String)> = sets
            .bench
            .iter()
            .chain(&sets.long8)
            .map(|t| {
                let w = clf.best_window(t);
                (w.margin, t.get(w.span).unwrap_or("").to_owned())
            })
            .collect();
        ws.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (m, t) in ws.iter().take(n) {
            println!("  window {m:.2}: {t}");
        }
    }
    let pe = |t: &str| clf.score(t);
    // Even lines are the development half (looked at while writing training data), odd
    // lines the held-out half (only counted).
    let mut worst: Vec<(f32, &String)> = sets
        .everyday
        .iter()
        .step_by(2)
        .map(|t| (pe(t), t))
        .collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    let shown: Vec<String> = worst
        .iter()
        .take(10)
        .map(|(p, t)| format!("{p:.2} {t}"))
        .collect();
    println!("top everyday (dev half): {}", shown.join(" | "));
    if timing && !sets.bench.is_empty() {
        let bytes: usize = sets.bench.iter().map(String::len).sum();
        let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..7 {
            let (start, cpu) = (Instant::now(), cpu_ns());
            let mut acc = 0.0f32;
            for t in &sets.bench {
                acc += clf.score(std::hint::black_box(t));
            }
            std::hint::black_box(acc);
            best = best.min(start.elapsed().as_secs_f64() * 1e6 * 1024.0 / bytes as f64);
            best_cpu = best_cpu.min((cpu_ns() - cpu) as f64 * 1e-3 * 1024.0 / bytes as f64);
        }
        println!(
            "classifier: {best:.2} µs/KB wall, {best_cpu:.2} µs/KB on-CPU (best of 7 passes over the bench corpus)"
        );
    }
    Ok(())
}
