//! `injection_thresholds`: precision, recall, F1 and false-positive rate of the shipped
//! injection detector (rules + classifier) at a range of classifier thresholds, on a
//! labelled CSV — to choose `scan.injection_threshold` for a deployment's tolerance of
//! false positives. `cargo run --release -p palisade-scan --example injection_thresholds -- <file.csv>`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use palisade_scan::Detector;
use palisade_scan::injection::InjectionDetector;
use palisade_scan::injection::csv::parse_labelled;
use palisade_scan::injection::train::Confusion;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: injection_thresholds <labelled.csv>")?;
    let rows = parse_labelled(&std::fs::read_to_string(&path)?)?;
    let base = InjectionDetector::builtin()?;
    let classifier = base.classifier().ok_or("no classifier")?;
    let rules_only = InjectionDetector::builtin()?.without_classifier();
    let labels: Vec<bool> = rows.iter().map(|r| r.label).collect();
    let scored: Vec<(f32, bool)> = rows
        .iter()
        .map(|r| {
            let mut found = Vec::new();
            rules_only.detect(&r.text, &mut found);
            (classifier.score_window(&r.text).0, !found.is_empty())
        })
        .collect();
    println!("| threshold | precision | recall | F1 | FPR |\n|---:|---:|---:|---:|---:|");
    for t in [base.threshold(), 0.6, 0.7, 0.8, 0.9, 0.95] {
        let predicted: Vec<bool> = scored
            .iter()
            .map(|&(score, rule)| score >= t || rule)
            .collect();
        let c = Confusion::from_predictions(&predicted, &labels);
        println!(
            "| {t:.3} | {:.4} | {:.4} | {:.4} | {:.4} |",
            c.precision(),
            c.recall(),
            c.f1(),
            c.fpr()
        );
    }
    Ok(())
}
