//! `request_cost`: the CPU cost of scanning one chat request the way the gateway does it
//! (`palisade-gateway/src/pipeline/inspect.rs`), in median µs per request, single thread.
//!
//! One request is: a fresh pseudonym vault; every user message scanned on input with the
//! profile of `bench/scan/overhead.sh` (injection flag, secret block, PII pseudonymize,
//! obfuscation flag, banned block, leak block) and its findings decided and applied; the
//! system prompt turned into a leak detector; the mock upstream's answer scanned on output
//! (detectors plus leak), decided, rewritten and restored. Classifier and decoding on,
//! as in the gateway's default `[scan]`.
//!
//! Three modes: **hot** (the same request back to back: everything in cache, the best
//! case), **cold** (an 8 MiB buffer is written between requests, outside the timed part,
//! so the weight table, automata and regex caches are evicted as on a busy gateway) and
//! **idle** (the thread sleeps between requests, `REQUEST_COST_IDLE_US`, default 2,000 µs:
//! a gateway at 500 requests/s; on a shared VM the caches are lost while it sleeps).
//!
//! `taskset -c 1 cargo run --release -p palisade-scan --example request_cost -- bench/scan/chat-1k.json [iterations] [hot|cold|idle]`
//!
//! With a mode given, only that mode runs (for `perf record`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::hint::black_box;
use std::time::Instant;

use palisade_scan::Category;
use palisade_scan::engine::Scanner;
use palisade_scan::leak::PromptLeak;
use palisade_scan::profile::{Action, Direction, Profile};
use palisade_scan::transform::{blocking_kinds, decide, rewrite};
use palisade_scan::vault::Vault;

/// The mock upstream's answer (`palisade-testkit`'s `REPLY`), what the gateway scans on
/// output in the overhead benchmark.
const ANSWER: &str = "Hello from the mock upstream, one word at a time.";

/// Bytes written between cold requests: well over the L2 (2 × 1 MiB here) and a quarter
/// of the shared L3. `REQUEST_COST_EVICT_MIB` changes it: a buffer larger than the L3
/// (64 here) pushes everything out to memory, as a gateway sharing its machine sees at
/// low request rates.
const EVICT_BYTES: usize = 8 << 20;

fn evict_bytes() -> usize {
    std::env::var("REQUEST_COST_EVICT_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(EVICT_BYTES, |mib| mib << 20)
}

/// The request's messages as (role, text).
fn messages(path: &str) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let msgs = v["messages"].as_array().ok_or("no messages")?;
    Ok(msgs
        .iter()
        .filter_map(|m| {
            Some((
                m["role"].as_str()?.to_owned(),
                m["content"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

fn profile() -> Profile {
    Profile::new("default")
        .with_category(Category::Injection, Action::Flag)
        .with_category(Category::Secret, Action::Block)
        .with_category(Category::Pii, Action::Pseudonymize)
        .with_category(Category::Obfuscation, Action::Flag)
        .with_category(Category::Banned, Action::Block)
        .with_category(Category::Leak, Action::Block)
}

/// One request through input and output scanning; returns how many findings it acted on.
/// Never inlined, so `perf` tells its samples from the eviction loop's.
#[inline(never)]
fn request(scanner: &Scanner, profile: &Profile, msgs: &[(String, String)]) -> usize {
    let mut vault = Vault::new();
    let mut acted = 0;
    let mut blocked = Vec::new();
    for (role, text) in msgs {
        if matches!(role.as_str(), "system" | "developer") && !profile.scan_system {
            continue;
        }
        let findings = scanner.scan_for(text, profile, Direction::Input);
        if findings.is_empty() {
            continue;
        }
        let applied = decide(findings, profile);
        acted += applied.len();
        blocked.extend(blocking_kinds(&applied));
        if blocked.is_empty() {
            black_box(rewrite(text, &applied, &mut vault, Direction::Input));
        }
    }
    let leak = if profile.scan_output && profile.wants(Category::Leak, Direction::Output) {
        PromptLeak::new(
            msgs.iter()
                .filter(|(r, _)| matches!(r.as_str(), "system" | "developer"))
                .map(|(_, t)| t.as_str()),
        )
    } else {
        None
    };
    let mut findings = scanner.scan_for(ANSWER, profile, Direction::Output);
    if let Some(leak) = &leak {
        findings.extend(leak.find(ANSWER));
    }
    let applied = decide(findings, profile);
    acted += applied.len();
    let mut answer = rewrite(ANSWER, &applied, &mut vault, Direction::Output);
    if let Some(restored) = vault.restore(answer.as_deref().unwrap_or(ANSWER)) {
        answer = Some(restored);
    }
    black_box((answer, blocked));
    acted
}

/// Median µs of `iterations` requests; with `evict`, the buffer is rewritten before each;
/// with `idle`, the thread sleeps that long before each.
fn measure(
    scanner: &Scanner,
    profile: &Profile,
    msgs: &[(String, String)],
    iterations: usize,
    mut evict: Option<&mut [u8]>,
    idle: Option<std::time::Duration>,
) -> f64 {
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        if let Some(gap) = idle {
            std::thread::sleep(gap);
        }
        if let Some(buf) = evict.as_deref_mut() {
            // One write per 64-byte line, a different value each time so it is not elided.
            for line in buf.chunks_mut(64) {
                line[0] = line[0].wrapping_add(i as u8 | 1);
            }
            black_box(&buf[..]);
        }
        let start = Instant::now();
        black_box(request(scanner, profile, black_box(msgs)));
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: request_cost <chat.json> [iterations] [hot|cold]")?;
    let iterations: usize = args.next().map_or(Ok(20_000), |n| n.parse())?;
    let only = args.next();
    let (run_hot, run_cold, run_idle) = match only.as_deref() {
        None => (true, true, false),
        Some("hot") => (true, false, false),
        Some("cold") => (false, true, false),
        Some("idle") => (false, false, true),
        Some(other) => return Err(format!("mode must be hot, cold or idle, not {other}").into()),
    };
    let gap = std::time::Duration::from_micros(
        std::env::var("REQUEST_COST_IDLE_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000),
    );
    let msgs = messages(&path)?;
    let scanner = Scanner::standard()?;
    let profile = profile();
    let bytes: usize = msgs.iter().map(|(_, t)| t.len()).sum();
    let acted = request(&scanner, &profile, &msgs);
    println!(
        "{path}: {} messages, {bytes} bytes, {acted} findings acted on",
        msgs.len()
    );
    let mut buf = vec![0u8; evict_bytes()];
    // Warm-up, then alternate so both modes see the same machine conditions.
    measure(&scanner, &profile, &msgs, iterations / 10, None, None);
    let (mut hot, mut cold, mut idle) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        if run_hot {
            hot.push(measure(&scanner, &profile, &msgs, iterations, None, None));
        }
        if run_cold {
            let n = iterations / 4;
            cold.push(measure(&scanner, &profile, &msgs, n, Some(&mut buf), None));
        }
        if run_idle {
            let n = iterations / 4;
            idle.push(measure(&scanner, &profile, &msgs, n, None, Some(gap)));
        }
    }
    report("hot ", &mut hot);
    report("cold", &mut cold);
    report("idle", &mut idle);
    Ok(())
}

/// Prints the median of the rounds' medians, and every round.
fn report(mode: &str, rounds: &mut [f64]) {
    if rounds.is_empty() {
        return;
    }
    rounds.sort_by(f64::total_cmp);
    let all: Vec<String> = rounds.iter().map(|x| format!("{x:.2}")).collect();
    println!(
        "{mode} {:>7.2} µs/request median (rounds: {})",
        rounds[rounds.len() / 2],
        all.join(" ")
    );
}
