//! `palisade config check FILE` and `palisade config default`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file and the files it names (policies, secret rules, TLS);
    /// errors name the offending key.
    Check { file: PathBuf },
    /// Print the documented default config.
    Default,
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check { file } => {
            let cfg = palisade_config::load_file(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            // The files the config names, read as `serve` would: a Cedar policy that
            // does not validate, an unreadable rule file or TLS key fails here, not at
            // the next restart.
            let (_, warnings) = crate::access::policy_engine(&cfg.policy, &cfg.models)
                .with_context(|| format!("{}: [policy]", file.display()))?;
            for warning in warnings {
                eprintln!("warning: {}: [policy]: {warning}", file.display());
            }
            crate::scan_setup::build(&cfg.scan)
                .with_context(|| format!("{}: [scan]", file.display()))?;
            if let Some(tls) = &cfg.server.tls {
                palisade_gateway::tls::acceptor(&tls.cert_file, &tls.key_file)
                    .with_context(|| format!("{}: [server.tls]", file.display()))?;
            }
            println!(
                "{}: ok ({} providers, {} models; data plane {}, admin {})",
                file.display(),
                cfg.providers.len(),
                cfg.models.len(),
                cfg.server.listen,
                cfg.server.admin_listen
            );
            Ok(())
        }
        ConfigCommand::Default => {
            print!("{}", palisade_config::defaults::DEFAULT_CONFIG_TOML);
            Ok(())
        }
    }
}
