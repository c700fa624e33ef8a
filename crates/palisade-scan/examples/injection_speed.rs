//! `injection_speed`: microseconds per KB of the injection classifier alone
//! (`Classifier::score`) over a JSONL corpus (`{"text": …}` per line, e.g.
//! `bench/scan/out/corpus.jsonl`), single thread. Reports the best of `--passes` passes
//! both in wall time and in time on a CPU (Linux `/proc/thread-self/schedstat`), which
//! leaves out the time the thread waited for a core on a shared machine.
//!
//! `taskset -c 1 cargo run --release -p palisade-scan --example injection_speed -- <corpus.jsonl> [passes]`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::hint::black_box;
use std::time::Instant;

use palisade_scan::injection::Classifier;

/// This thread's time on a CPU in ns; 0 where schedstat is unavailable.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: injection_speed <corpus.jsonl> [passes]")?;
    let passes: usize = args.next().map_or(Ok(10), |p| p.parse())?;
    let mut texts = Vec::new();
    for line in std::fs::read_to_string(&path)?.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let Some(t) = v["text"].as_str() {
            texts.push(t.to_owned());
        }
    }
    let kb = texts.iter().map(String::len).sum::<usize>() as f64 / 1024.0;
    let classifier = Classifier::builtin()?;
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..passes.max(1) {
        let (start, start_cpu) = (Instant::now(), cpu_ns());
        let mut acc = 0.0f32;
        for t in &texts {
            acc += classifier.score(black_box(t));
        }
        black_box(acc);
        wall = wall.min(start.elapsed().as_secs_f64() * 1e6 / kb);
        cpu = cpu.min(cpu_ns().saturating_sub(start_cpu) as f64 * 1e-3 / kb);
    }
    println!(
        "{} texts, {kb:.0} KB: classifier {wall:.2} µs/KB wall, {cpu:.2} µs/KB on CPU (best of {passes})",
        texts.len()
    );
    Ok(())
}
