//! What the injection evaluation examples (`eval_injection`, `injection_lab`) read the
//! same way: Palisade's hand-written prompt lists, files, JSONL corpora and long benign
//! prompts made by joining validation rows.
#![allow(dead_code)]

use palisade_scan::injection::csv::Example;

/// Everyday benign prompts and attacks written for Palisade's evaluation, never trained on.
pub const EVERYDAY: &str = include_str!("../data/everyday_benign.txt");
pub const ATTACKS: &str = include_str!("../data/attacks_written.txt");

/// The non-empty, non-comment lines of a prompt list.
pub fn lines(data: &str) -> Vec<String> {
    data.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

pub fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

/// The `text` field of every line of a JSONL file.
pub fn jsonl_texts(path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for line in read(path)?.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if let Some(t) = v["text"].as_str() {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// Benign texts joined into prompts of about `size` bytes, in file order.
pub fn benign_prompts(examples: &[Example], size: usize) -> Vec<String> {
    let mut prompts = Vec::new();
    let mut cur = String::new();
    for (i, e) in examples.iter().filter(|e| !e.label).enumerate() {
        cur.push_str(&e.text);
        cur.push_str(if i % 3 == 2 { "\n\n" } else { " " });
        if cur.len() >= size {
            prompts.push(std::mem::take(&mut cur));
        }
    }
    prompts
}
