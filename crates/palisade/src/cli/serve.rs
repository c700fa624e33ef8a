//! `palisade serve --config FILE`: load and validate the config, open the store, run
//! both listeners until SIGTERM. The bootstrap admin token comes from
//! `PALISADE_ADMIN_TOKEN`.

use std::path::Path;

use anyhow::Context as _;
use palisade_policy::identity::secret::{self, SecretKind};
use palisade_policy::identity::store::every;

use crate::{app, logging};

pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    if !config_path.exists() {
        anyhow::bail!(
            "no config file {path}: write one with `palisade config default > {path}` (or try `palisade demo`)",
            path = config_path.display()
        );
    }
    let config = palisade_config::load_file(config_path)
        .with_context(|| format!("invalid config {}", config_path.display()))?;
    logging::init(&config.log_level, config.log_format);
    // Checked before anything is created or migrated.
    let bootstrap = std::env::var("PALISADE_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if bootstrap.as_deref().is_some_and(|t| t.len() < 24) {
        anyhow::bail!("PALISADE_ADMIN_TOKEN must be at least 24 characters");
    }
    if bootstrap.as_deref().is_some_and(is_stored_secret) {
        // The CLI reads the same variable: a token exported to run `palisade keys …` would
        // otherwise make whoever holds it an admin no revocation stops.
        anyhow::bail!(
            "PALISADE_ADMIN_TOKEN holds a stored admin token or API key (pat_…, pal_…), as the \
             CLI uses it: the server's bootstrap token must be a secret of its own (unset the \
             variable for `palisade serve`, or set another value)"
        );
    }
    let store = crate::app::connect_store(&config)
        .await
        .context("cannot open the store (store.url)")?;
    if bootstrap.is_none() {
        warn_if_no_admin_can_sign_in(&store).await;
    }
    let running = app::start(&config, &store, bootstrap.as_deref()).await?;
    let result = running.run_until_signal().await;
    // Closing the pool lets SQLite fold its WAL back into the database file.
    store.close().await;
    result
}

/// Without `PALISADE_ADMIN_TOKEN` only admin tokens created before can use the admin
/// API; on a fresh store there are none, and nobody could ever administer the gateway.
async fn warn_if_no_admin_can_sign_in(store: &palisade_store::Store) {
    let identity = &store.identity;
    match every(|page| async move { identity.list_admin_tokens(&page).await }).await {
        Ok(tokens) if tokens.iter().all(|t| t.revoked_at.is_some()) => tracing::warn!(
            "PALISADE_ADMIN_TOKEN is not set and the store holds no usable admin token: \
             nobody can use the admin API; set PALISADE_ADMIN_TOKEN (24+ characters) and restart"
        ),
        _ => {}
    }
}

/// Whether `token` has the shape of a stored admin token or API key.
fn is_stored_secret(token: &str) -> bool {
    [SecretKind::AdminToken, SecretKind::ApiKey]
        .into_iter()
        .any(|kind| secret::parse(kind, token).is_some())
}
