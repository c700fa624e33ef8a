//! `injection_thresholds`: precision, recall, F1 and false-positive rate of the shipped
//! injection detector (rules + classifier) at a range of classifier thresholds, on a
//! labelled CSV — to choose `scan.injection_threshold` for a deployment's tolerance of
//! false positives. `cargo run --release -p palisade-scan --example injection_thresholds -- <file.csv>`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use palisade_scan::Detector;
use palisade_scan::injection::InjectionDetector;
use palisade_scan::injection::csv::parse_labelled;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: injection_thresholds <labelled.csv>")?;
    let rows = parse_labelled(&std::fs::read_to_string(&path)?)?;
    let base = InjectionDetector::builtin()?;
    let classifier = base.classifier().ok_or("no classifier")?;
    let rules_only = InjectionDetector::builtin()?.without_classifier();
    let scored: Vec<(f32, bool, bool)> = rows
        .iter()
        .map(|r| {
            let mut found = Vec::new();
            rules_only.detect(&r.text, &mut found);
            (
                classifier.score_window(&r.text).0,
                !found.is_empty(),
                r.label,
            )
        })
        .collect();
    println!("| threshold | precision | recall | F1 | FPR |\n|---:|---:|---:|---:|---:|");
    for t in [base.threshold(), 0.6, 0.7, 0.8, 0.9, 0.95] {
        let (mut tp, mut fp, mut tn, mut fn_) = (0f64, 0f64, 0f64, 0f64);
        for &(score, rule, label) in &scored {
            match (score >= t || rule, label) {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, false) => tn += 1.0,
                (false, true) => fn_ += 1.0,
            }
        }
        let (p, r) = (tp / (tp + fp), tp / (tp + fn_));
        println!(
            "| {t:.3} | {p:.4} | {r:.4} | {:.4} | {:.4} |",
            2.0 * p * r / (p + r),
            fp / (fp + tn)
        );
    }
    Ok(())
}
