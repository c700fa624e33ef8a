//! `palisade serve --config FILE`: load and validate the config, open the store, run
//! both listeners until SIGTERM. The bootstrap admin token comes from
//! `PALISADE_ADMIN_TOKEN`.

use std::path::Path;

use anyhow::Context as _;

use crate::{app, logging};

pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = palisade_config::load_file(config_path)
        .with_context(|| format!("invalid config {}", config_path.display()))?;
    logging::init(&config.log_level, config.log_format);
    let store = crate::app::connect_store(&config)
        .await
        .context("cannot open the store (store.url)")?;
    let bootstrap = std::env::var("PALISADE_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if bootstrap.as_deref().is_some_and(|t| t.len() < 24) {
        anyhow::bail!("PALISADE_ADMIN_TOKEN must be at least 24 characters");
    }
    let running = app::start(&config, &store, bootstrap.as_deref()).await?;
    let result = running.run_until_signal().await;
    // Closing the pool lets SQLite fold its WAL back into the database file.
    store.close().await;
    result
}
