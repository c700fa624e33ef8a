//! `palisade scan [FILE…|-]`: the gateway's detectors over files or stdin, for CI
//! pipelines and data checks. Findings are printed by position, kind, detector, score
//! and action — never the matched text, so a CI log does not become the leak. Exit code:
//! 0 clean, 1 when a finding at or above the threshold is present, 2 on an error.
//! `--redact` writes the text with every finding replaced by `[REDACTED_<KIND>]`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use palisade_scan::engine::Scanner;
use palisade_scan::profile::{Action, Direction, Profile};
use palisade_scan::transform::{Applied, decide, rewrite};
use palisade_scan::vault::Vault;
use serde_json::json;

use crate::scan_setup;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively, skipping hidden entries,
    /// symbolic links and binary files); `-` or nothing reads stdin.
    pub files: Vec<PathBuf>,
    /// The profile whose actions and threshold apply (from --config, or the built-in `default`).
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// A Palisade config file: its [scan] profiles, secret-rule files and options.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// More secret rules in gitleaks TOML format.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Minimum score for a finding to count, 0 to 1 (default: the profile's threshold).
    #[arg(long, value_parser = parse_threshold)]
    pub threshold: Option<f32>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the redacted text to stdout instead of a report (one input at a time).
    #[arg(long)]
    pub redact: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

/// A score threshold: a number from 0 to 1 (a percentage typed by mistake would let
/// every finding pass a CI gate).
fn parse_threshold(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(t) if (0.0..=1.0).contains(&t) => Ok(t),
        _ => Err(format!("`{s}` is not a score from 0 to 1")),
    }
}

/// One input's findings.
struct Scanned {
    name: String,
    text: String,
    applied: Vec<Applied>,
}

pub fn run(args: ScanArgs) -> ExitCode {
    match scan(args) {
        Ok(found) if found => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn scan(args: ScanArgs) -> anyhow::Result<bool> {
    let (scanner, mut profile) = setup(&args)?;
    if let Some(t) = args.threshold {
        profile.threshold = t;
    }
    let inputs = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        let mut files = Vec::new();
        for path in &args.files {
            expand(path, &mut files)?;
        }
        files
    };
    if args.redact && inputs.len() > 1 {
        anyhow::bail!("--redact takes one input at a time");
    }
    let mut results = Vec::new();
    for input in &inputs {
        let (name, text) = read_input(input)?;
        let findings = scanner.scan_for(&text, &profile, Direction::Input);
        let applied = decide(findings, &profile);
        results.push(Scanned {
            name,
            text,
            applied,
        });
    }
    let found = results.iter().any(|r| !r.applied.is_empty());
    match write_results(&args, &results) {
        // The reader went away (`| head`): what it read is all it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(found),
        written => written.map(|()| found).map_err(Into::into),
    }
}

/// Writes the findings (or the redacted text) to stdout in the asked format.
fn write_results(args: &ScanArgs, results: &[Scanned]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.redact {
        for r in results {
            let all_redacted: Vec<Applied> = r
                .applied
                .iter()
                .map(|a| Applied {
                    finding: a.finding.clone(),
                    action: Action::Redact,
                })
                .collect();
            let text = rewrite(&r.text, &all_redacted, &mut Vault::new(), Direction::Input)
                .unwrap_or_else(|| r.text.clone());
            out.write_all(text.as_bytes())?;
            for a in &r.applied {
                eprintln!("{}", text_line(r, a));
            }
        }
        return Ok(());
    }
    match args.format {
        Format::Text => {
            for r in results {
                for a in &r.applied {
                    writeln!(out, "{}", text_line(r, a))?;
                }
            }
            let total: usize = results.iter().map(|r| r.applied.len()).sum();
            writeln!(out, "{total} finding(s) in {} input(s)", results.len())?;
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = results
                .iter()
                .flat_map(|r| r.applied.iter().map(move |a| json_finding(r, a)))
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        }
        Format::Sarif => writeln!(out, "{}", serde_json::to_string_pretty(&sarif(results))?)?,
    }
    Ok(())
}

fn setup(args: &ScanArgs) -> anyhow::Result<(Arc<Scanner>, Profile)> {
    let scan_config = match &args.config {
        Some(file) => palisade_config::load_scan_section(file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
        None => palisade_config::ScanConfig::builtin().context("built-in scan defaults")?,
    };
    let mut rules = scan_setup::read_rule_files(&scan_config.secret_rule_files)?;
    rules.extend(scan_setup::read_rule_files(&args.rules)?);
    let scanning = palisade_gateway::scanning::Scanning::build(&scan_config, rules)
        .context("invalid [scan] profile")?;
    let profile = scanning
        .profile(&args.profile)
        .ok_or_else(|| anyhow::anyhow!("no scan profile named `{}`", args.profile))?;
    Ok((Arc::clone(scanning.scanner()), profile))
}

/// `path` itself, or every file under it when it is a directory, in name order: hidden
/// entries (`.git`), symbolic links (which could loop) and binary files (a NUL byte in
/// their first 8 KiB) are left out.
fn expand(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.as_os_str() == "-" || !path.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)
        .and_then(|dir| dir.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the directory {}", path.display()))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let kind = entry.file_type()?;
        if hidden || kind.is_symlink() {
            continue;
        }
        let p = entry.path();
        if kind.is_dir() {
            expand(&p, out)?;
        } else if kind.is_file() && !is_binary(&p)? {
            out.push(p);
        }
    }
    Ok(())
}

fn is_binary(path: &Path) -> anyhow::Result<bool> {
    let mut head = Vec::with_capacity(8192);
    std::fs::File::open(path)
        .and_then(|f| f.take(8192).read_to_end(&mut head))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(head.contains(&0))
}

fn read_input(path: &PathBuf) -> anyhow::Result<(String, String)> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read stdin")?;
        return Ok(("-".into(), String::from_utf8_lossy(&bytes).into_owned()));
    }
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok((
        path.display().to_string(),
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn text_line(r: &Scanned, a: &Applied) -> String {
    let (line, col) = line_col(&r.text, a.finding.start);
    format!(
        "{}:{line}:{col}: {} ({}, score {:.2}) {}",
        r.name,
        a.finding.kind,
        a.finding.detector,
        a.finding.score,
        a.action.as_str()
    )
}

fn json_finding(r: &Scanned, a: &Applied) -> serde_json::Value {
    let (line, column) = line_col(&r.text, a.finding.start);
    json!({
        "file": r.name,
        "line": line,
        "column": column,
        "start": a.finding.start,
        "end": a.finding.end,
        "kind": a.finding.kind,
        "category": a.finding.category.as_str(),
        "detector": a.finding.detector,
        "score": a.finding.score,
        "action": a.action.as_str(),
    })
}

/// A file name as a URI reference (SARIF's `artifactLocation.uri`): `/` separators, and
/// every byte outside RFC 3986's unreserved characters percent-encoded (a space, `#` or
/// `%` in a name would otherwise change what the reference means).
fn uri_reference(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.replace('\\', "/").as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SARIF 2.1.0, one rule per finding kind.
fn sarif(results: &[Scanned]) -> serde_json::Value {
    let mut kinds: Vec<&str> = results
        .iter()
        .flat_map(|r| r.applied.iter().map(|a| a.finding.kind.as_ref()))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let rules: Vec<serde_json::Value> = kinds
        .iter()
        .map(|k| json!({"id": k, "shortDescription": {"text": format!("Palisade finding: {k}")}}))
        .collect();
    let items: Vec<serde_json::Value> = results
        .iter()
        .flat_map(|r| {
            r.applied.iter().map(move |a| {
                let (start_line, start_col) = line_col(&r.text, a.finding.start);
                let (end_line, end_col) = line_col(&r.text, a.finding.end);
                json!({
                    "ruleId": a.finding.kind,
                    "level": if a.action == Action::Block { "error" } else { "warning" },
                    "message": {"text": format!("{} found by {} (score {:.2}); profile action: {}",
                        a.finding.kind, a.finding.detector, a.finding.score, a.action.as_str())},
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": uri_reference(&r.name)},
                        "region": {
                            "startLine": start_line, "startColumn": start_col,
                            "endLine": end_line, "endColumn": end_col,
                            "byteOffset": a.finding.start,
                            "byteLength": a.finding.end - a.finding.start,
                        }
                    }}],
                })
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "palisade",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": items,
        }],
    })
}
