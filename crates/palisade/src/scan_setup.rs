//! Builds the data plane's content scanning from `[scan]`: reads the user's secret-rule
//! files (gitleaks TOML) and compiles the scanner and profiles once, at startup. A rule
//! file that cannot be read or parsed stops startup: a guardrail that silently loads
//! fewer rules than configured is not one.

use anyhow::Context as _;
use palisade_config::ScanConfig;
use palisade_gateway::scanning::Scanning;
use palisade_scan::secrets::SecretRules;

pub fn build(config: &ScanConfig) -> anyhow::Result<Option<Scanning>> {
    if !config.enabled {
        return Ok(None);
    }
    let rules = read_rule_files(&config.secret_rule_files)?;
    let scanning = Scanning::build(config, rules).context("invalid [scan] profile")?;
    Ok(Some(scanning))
}

/// Reads and parses gitleaks-format rule files.
pub fn read_rule_files(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<SecretRules>> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read secret rules {}", file.display()))?;
        let rules = SecretRules::from_toml(&text)
            .with_context(|| format!("invalid secret rules in {}", file.display()))?;
        out.push(rules);
    }
    Ok(out)
}
