//! Rust side of the scan benchmark: cerberust's deterministic scanners and (with the
//! `palisade` feature) palisade-scan, over the same corpus as the Python tools.
//!
//! For every tool:
//! * one un-measured warm-up pass over the corpus;
//! * throughput: whole passes with no per-prompt clock reads, repeated until `--min-secs`
//!   (at least one pass); the median pass gives prompts/s and mean µs per 1 KB;
//! * latency: passes with a clock read around each scan, repeated until `--min-secs`;
//!   p50/p99 over all samples, raw and normalised to 1 KB (1,024 bytes) of prompt;
//! * predictions: one more pass, outside any timing, converted to the common label types with
//!   BYTE offsets. Precision/recall are computed by report.py, the same code for every tool.
//!
//! Usage: palisade-bench-scan [--corpus PATH] [--out PATH] [--tools a,b,..] [--min-secs S]

use std::hint::black_box;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Prompt {
    id: String,
    text: String,
}

/// One predicted span: common type, byte start, byte end, the tool's own type, score.
struct Pred {
    label: Option<&'static str>,
    start: usize,
    end: usize,
    raw: String,
    score: f32,
}

struct Tool {
    name: &'static str,
    version: String,
    /// Common label types the tool claims to detect (precision/recall are reported on these).
    claims: Vec<&'static str>,
    notes: Vec<String>,
    /// The measured call: scan one prompt, keep the result alive with black_box.
    run: Box<dyn Fn(&str)>,
    /// Spans for accuracy; None for a tool that only scores (the classifier).
    predict: Option<Box<dyn Fn(&str) -> Vec<Pred>>>,
}

fn cerberust_label(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "EMAIL" => "EMAIL",
        "PHONE" => "PHONE",
        "CREDIT_CARD" => "CREDIT_CARD",
        "IBAN" => "IBAN",
        "US_SSN" => "US_SSN",
        "IP_ADDRESS" => "IP_ADDRESS",
        "AWS_ACCESS_KEY" | "GITHUB_TOKEN" | "STRIPE_KEY" | "OPENAI_KEY" | "GOOGLE_API_KEY"
        | "SLACK_WEBHOOK" | "PRIVATE_KEY" | "SECRET" => "SECRET",
        _ => return None,
    })
}

const ALL_TYPES: [&str; 7] = ["CREDIT_CARD", "EMAIL", "IBAN", "IP_ADDRESS", "PHONE", "SECRET", "US_SSN"];

/// What cerberust's `PiiScanner` and `SecretScanner` compute before they rewrite the text:
/// `resolve_overlaps(detect_structured(t))` and `resolve_overlaps(detect_secrets(t))`.
fn cerberust_detect(text: &str) -> Vec<cerberust::scanner::detect::Span> {
    use cerberust::scanner::detect::{detect_secrets, detect_structured, resolve_overlaps};
    let mut spans = resolve_overlaps(detect_structured(text));
    spans.extend(resolve_overlaps(detect_secrets(text)));
    spans
}

fn cerberust_tools() -> Vec<Tool> {
    use cerberust::{PiiScanner, ScanCtx, Scanner, SecretScanner};
    let version = locked_version("cerberust");
    let detect = Tool {
        name: "cerberust",
        version: version.clone(),
        claims: ALL_TYPES.to_vec(),
        notes: vec![
            "cerberust::scanner::detect: resolve_overlaps(detect_structured(t)) + resolve_overlaps(detect_secrets(t)), \
             i.e. the detection step of PiiScanner + SecretScanner without redaction; default features (no ML)"
                .into(),
        ],
        run: Box::new(|t| {
            black_box(cerberust_detect(black_box(t)));
        }),
        predict: Some(Box::new(|t| {
            cerberust_detect(t)
                .into_iter()
                .map(|s| Pred { label: cerberust_label(&s.ty), start: s.start, end: s.end, raw: s.ty, score: s.confidence })
                .collect()
        })),
    };
    let pii = PiiScanner::new();
    let secrets = SecretScanner::new();
    let scanners = Tool {
        name: "cerberust-redact",
        version,
        claims: vec![],
        notes: vec![
            "timing only: SecretScanner::scan then PiiScanner::scan through the Scanner trait with a fresh \
             ScanCtx (vault) per prompt: detection + tokenizing redaction, as on cerberust's input path"
                .into(),
        ],
        run: Box::new(move |t| {
            let mut ctx = ScanCtx::new();
            let masked = match secrets.scan(black_box(t), &mut ctx) {
                Ok(v) => v.text.into_owned(),
                Err(_) => t.to_owned(),
            };
            black_box(pii.scan(&masked, &mut ctx).map(|v| v.text.len()).ok());
        }),
        predict: None,
    };
    vec![detect, scanners]
}

#[cfg(feature = "palisade")]
fn palisade_label(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "email" => "EMAIL",
        "phone" => "PHONE",
        "credit_card" => "CREDIT_CARD",
        "iban" => "IBAN",
        "us_ssn" => "US_SSN",
        "ip_address" => "IP_ADDRESS",
        "secret" => "SECRET",
        _ => return None,
    })
}

#[cfg(feature = "palisade")]
fn palisade_tools() -> Vec<Tool> {
    use palisade_scan::engine::Scanner;
    use palisade_scan::injection::Classifier;

    fn preds(findings: Vec<palisade_scan::Finding>) -> Vec<Pred> {
        findings
            .into_iter()
            .map(|f| Pred {
                label: palisade_label(&f.kind),
                start: f.start,
                end: f.end,
                raw: format!("{}:{}", f.kind, f.detector),
                score: f.score,
            })
            .collect()
    }

    let version = locked_version("palisade-scan");
    let deterministic = Scanner::deterministic().expect("palisade scanner");
    let deterministic2 = Scanner::deterministic().expect("palisade scanner");
    let standard = Scanner::standard().expect("palisade scanner");
    let standard2 = Scanner::standard().expect("palisade scanner");
    let classifier = Classifier::builtin().expect("palisade classifier");
    vec![
        Tool {
            name: "palisade",
            version: version.clone(),
            claims: ALL_TYPES.to_vec(),
            notes: vec!["palisade_scan::engine::Scanner::deterministic(): normalization + PII + secrets + injection rules".into()],
            run: Box::new(move |t| {
                black_box(deterministic.scan(black_box(t)));
            }),
            predict: Some(Box::new(move |t| preds(deterministic2.scan(t)))),
        },
        Tool {
            name: "palisade-standard",
            version: version.clone(),
            claims: ALL_TYPES.to_vec(),
            notes: vec!["palisade_scan::engine::Scanner::standard(): deterministic + learned injection classifier".into()],
            run: Box::new(move |t| {
                black_box(standard.scan(black_box(t)));
            }),
            predict: Some(Box::new(move |t| preds(standard2.scan(t)))),
        },
        Tool {
            name: "palisade-classifier",
            version,
            claims: vec![],
            notes: vec!["palisade_scan::injection::Classifier::builtin().score(text) alone; timing only".into()],
            run: Box::new(move |t| {
                black_box(classifier.score(black_box(t)));
            }),
            predict: None,
        },
    ]
}

#[cfg(not(feature = "palisade"))]
fn palisade_tools() -> Vec<Tool> {
    Vec::new()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((q / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn measure(tool: &Tool, prompts: &[Prompt], min_secs: f64) -> Value {
    let total_bytes: usize = prompts.iter().map(|p| p.text.len()).sum();
    let n = prompts.len();

    // Warm-up: one full pass.
    for p in prompts {
        (tool.run)(&p.text);
    }

    // Throughput: whole passes, no per-prompt clock.
    let mut pass_secs = Vec::new();
    let started = Instant::now();
    while pass_secs.is_empty() || started.elapsed().as_secs_f64() < min_secs {
        let t0 = Instant::now();
        for p in prompts {
            (tool.run)(&p.text);
        }
        pass_secs.push(t0.elapsed().as_secs_f64());
    }
    let mut sorted_passes = pass_secs.clone();
    sorted_passes.sort_by(f64::total_cmp);
    let median_pass = percentile(&sorted_passes, 50.0);

    // Latency: a clock read around each scan.
    let mut lat_us = Vec::new();
    let mut per_kb_us = Vec::new();
    let started = Instant::now();
    let mut latency_passes = 0;
    // (µs, bytes) summed over ASCII-only prompts [0] and prompts with non-ASCII text [1].
    let mut by_script = [(0.0f64, 0usize); 2];
    while latency_passes == 0 || started.elapsed().as_secs_f64() < min_secs {
        for p in prompts {
            let t0 = Instant::now();
            (tool.run)(&p.text);
            let us = t0.elapsed().as_secs_f64() * 1e6;
            lat_us.push(us);
            per_kb_us.push(us * 1024.0 / p.text.len() as f64);
            let slot = &mut by_script[usize::from(!p.text.is_ascii())];
            slot.0 += us;
            slot.1 += p.text.len();
        }
        latency_passes += 1;
    }
    let mean_lat = lat_us.iter().sum::<f64>() / lat_us.len() as f64;
    lat_us.sort_by(f64::total_cmp);
    per_kb_us.sort_by(f64::total_cmp);

    // Predictions, untimed.
    let mut predictions = serde_json::Map::new();
    let mut unscored: std::collections::BTreeMap<String, u64> = Default::default();
    if let Some(predict) = &tool.predict {
        for p in prompts {
            let mut spans = Vec::new();
            for pred in predict(&p.text) {
                match pred.label {
                    Some(label) => spans.push(json!([label, pred.start, pred.end, pred.raw, pred.score])),
                    None => *unscored.entry(pred.raw).or_default() += 1,
                }
            }
            predictions.insert(p.id.clone(), Value::Array(spans));
        }
    }

    json!({
        "tool": tool.name,
        "version": tool.version,
        "versions": { tool.name: tool.version },
        "offsets": "byte",
        "claims": tool.claims,
        "notes": tool.notes,
        "n_prompts": n,
        "total_bytes": total_bytes,
        "throughput_passes": pass_secs.len(),
        "latency_passes": latency_passes,
        "total_s": median_pass,
        "pass_s_min": sorted_passes[0],
        "pass_s_max": sorted_passes[sorted_passes.len() - 1],
        "prompts_per_s": n as f64 / median_pass,
        "mb_per_s": total_bytes as f64 / 1e6 / median_pass,
        "us_per_kb_mean": median_pass * 1e6 * 1024.0 / total_bytes as f64,
        "us_per_kb_p50": percentile(&per_kb_us, 50.0),
        "us_per_kb_p99": percentile(&per_kb_us, 99.0),
        "latency_us_mean": mean_lat,
        "latency_us_p50": percentile(&lat_us, 50.0),
        "latency_us_p99": percentile(&lat_us, 99.0),
        "us_per_kb_ascii": if by_script[0].1 > 0 { by_script[0].0 * 1024.0 / by_script[0].1 as f64 } else { f64::NAN },
        "us_per_kb_non_ascii": if by_script[1].1 > 0 { by_script[1].0 * 1024.0 / by_script[1].1 as f64 } else { f64::NAN },
        "unscored_entity_counts": unscored,
        "predictions": if tool.predict.is_some() { Value::Object(predictions) } else { Value::Null },
    })
}

fn main() {
    let mut corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../out/corpus.jsonl").to_string();
    let mut out = concat!(env!("CARGO_MANIFEST_DIR"), "/../out/rust.json").to_string();
    let mut only: Option<Vec<String>> = None;
    let mut min_secs = 1.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| die(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--corpus" => corpus = value(),
            "--out" => out = value(),
            "--tools" => only = Some(value().split(',').map(str::to_string).collect()),
            "--min-secs" => min_secs = value().parse().unwrap_or_else(|_| die("--min-secs: not a number")),
            "-h" | "--help" => {
                println!("palisade-bench-scan [--corpus PATH] [--out PATH] [--tools a,b] [--min-secs S]");
                return;
            }
            other => die(&format!("unknown argument {other}")),
        }
    }

    let text = std::fs::read_to_string(&corpus).unwrap_or_else(|e| die(&format!("{corpus}: {e}")));
    let prompts: Vec<Prompt> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| die(&format!("{corpus}: {e}"))))
        .collect();

    let mut tools = cerberust_tools();
    tools.extend(palisade_tools());
    if let Some(only) = &only {
        tools.retain(|t| only.iter().any(|o| o == t.name));
    }

    let mut results = Vec::new();
    for tool in &tools {
        let started = Instant::now();
        let result = measure(tool, &prompts, min_secs);
        eprintln!(
            "{}: {} prompts, {:.2} us/KB mean, p50 {:.2} us/KB, p99 {:.2} us/KB, {:.0} prompts/s ({:.1} s)",
            tool.name,
            prompts.len(),
            result["us_per_kb_mean"].as_f64().unwrap_or(f64::NAN),
            result["us_per_kb_p50"].as_f64().unwrap_or(f64::NAN),
            result["us_per_kb_p99"].as_f64().unwrap_or(f64::NAN),
            result["prompts_per_s"].as_f64().unwrap_or(f64::NAN),
            started.elapsed().as_secs_f64()
        );
        results.push(result);
    }

    let doc = json!({ "palisade_feature": cfg!(feature = "palisade"), "tools": results });
    std::fs::write(&out, serde_json::to_string(&doc).unwrap_or_default())
        .unwrap_or_else(|e| die(&format!("{out}: {e}")));
    eprintln!("wrote {out}");
}

/// The version Cargo.lock pins for `name` (the harness is always run from its source tree).
fn locked_version(name: &str) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap_or_default();
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| lock[i + needle.len()..].split('"').next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn die(msg: &str) -> ! {
    eprintln!("palisade-bench-scan: {msg}");
    std::process::exit(2);
}
