//! `palisade config check FILE` and `palisade config default`.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file; errors name the offending key.
    Check { file: PathBuf },
    /// Print the documented default config.
    Default,
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check { file } => {
            let cfg = palisade_config::load_file(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
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
