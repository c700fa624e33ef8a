//! `scan_findings`: every finding of the standard scanner (all detectors, classifier
//! included) over a set of texts, one line per text, so that a change meant to be a pure
//! speed-up can be checked byte for byte (`cmp before.txt after.txt`). Scores are printed
//! as their exact bits.
//!
//! Texts: the `text` of each line of `*.jsonl` files, the first column of `*.csv` files,
//! the non-comment lines of `*.txt` files.
//! Each text is also scanned in two obfuscated variants, so normalisation and decoding
//! are covered: with a zero-width space after every seventh character, and with its first
//! 120 bytes base64-encoded and appended.
//!
//! `cargo run --release -p palisade-scan --example scan_findings -- bench/scan/out/corpus.jsonl shared/data/injection/s-labs/validation.csv > findings.txt`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::io::Write as _;

use base64::Engine as _;
use palisade_scan::engine::Scanner;
use palisade_scan::injection::csv::parse_first_column;

#[path = "common/mod.rs"]
mod common;

fn texts(path: &str) -> Result<Vec<String>, String> {
    if path.ends_with(".csv") {
        parse_first_column(&common::read(path)?).map_err(|e| format!("{path}: {e}"))
    } else if path.ends_with(".txt") {
        Ok(common::lines(&common::read(path)?))
    } else {
        common::jsonl_texts(path)
    }
}

/// The text and its obfuscated variants.
fn variants(text: &str) -> [String; 3] {
    let mut zw = String::with_capacity(text.len() * 2);
    for (i, c) in text.chars().enumerate() {
        zw.push(c);
        if i % 7 == 6 {
            zw.push('\u{200B}');
        }
    }
    let mut cut = text.len().min(120);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[..cut]);
    [text.to_owned(), zw, format!("{text} {b64}")]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        return Err("usage: scan_findings <texts.jsonl|texts.csv|texts.txt>...".into());
    }
    let scanner = Scanner::standard()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut n = 0usize;
    for path in &paths {
        for text in texts(path)? {
            for (v, variant) in variants(&text).iter().enumerate() {
                let mut line = format!("{n}.{v}");
                for f in scanner.scan(variant) {
                    write!(
                        line,
                        " {}|{}|{}|{}..{}|{:08x}",
                        f.kind,
                        f.category.as_str(),
                        f.detector,
                        f.start,
                        f.end,
                        f.score.to_bits()
                    )?;
                }
                writeln!(out, "{line}")?;
            }
            n += 1;
        }
    }
    out.flush()?;
    eprintln!("{n} texts, 3 variants each");
    Ok(())
}
