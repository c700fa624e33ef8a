//! Turns a presented bearer secret into a principal. Data-plane keys are checked against
//! a short-lived cache in front of the store, so a hot key costs one hash and one map
//! lookup; revocation through this process evicts at once, and other instances see it
//! within the cache TTL. Last-use times are batched and written in the background.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::model::{AdminPrincipal, AdminRole, ApiKeyRecord, Principal, User};
use super::secret::{self, SecretKind};
use super::store::{IdentityStore, StoreError};
use crate::time::unix_now;

/// Why a bearer was refused. Every variant but `Store` is the caller's problem and maps
/// to 401; `Store` means we could not check, and fails closed.
#[derive(Debug, Error)]
pub enum AuthError {
    #[error("no credentials were presented")]
    Missing,
    #[error("the credentials are malformed")]
    Malformed,
    #[error("the credentials are unknown")]
    Unknown,
    #[error("the credentials were revoked")]
    Revoked,
    #[error("the credentials expired")]
    Expired,
    #[error("the user is disabled")]
    Disabled,
    #[error("credentials could not be checked: {0}")]
    Store(#[from] StoreError),
}

const MAX_CACHED: usize = 100_000;

/// How long after its last store read a key still counts as known to this instance
/// ([`Authenticator::authenticate_known`]).
pub const RECENTLY_VERIFIED: Duration = Duration::from_secs(600);

struct CachedKey {
    key: ApiKeyRecord,
    user: User,
    fetched: Instant,
}

/// Authenticates data-plane API keys.
pub struct Authenticator {
    store: Arc<dyn IdentityStore>,
    ttl: Duration,
    cache: RwLock<HashMap<String, Arc<CachedKey>>>,
    /// Bumped (under the cache's write lock) by every eviction: a key read from the
    /// store before an eviction is not cached after it, so a revocation through this
    /// process takes effect at once even for an authentication already in flight.
    evictions: AtomicU64,
    pending_uses: Mutex<HashMap<String, i64>>,
}

impl Authenticator {
    pub fn new(store: Arc<dyn IdentityStore>, ttl: Duration) -> Self {
        Authenticator {
            store,
            ttl,
            cache: RwLock::new(HashMap::new()),
            evictions: AtomicU64::new(0),
            pending_uses: Mutex::new(HashMap::new()),
        }
    }

    /// Checks a bearer secret and returns who it belongs to.
    pub async fn authenticate(&self, presented: Option<&str>) -> Result<Principal, AuthError> {
        let presented = presented.ok_or(AuthError::Missing)?;
        let (id, secret) =
            secret::parse(SecretKind::ApiKey, presented).ok_or(AuthError::Malformed)?;
        let entry = match self.cached(id) {
            Some(entry) => entry,
            None => self.load(id).await?,
        };
        self.check(id, secret, &entry)
    }

    /// [`Authenticator::authenticate`] for a key this instance read in the last
    /// [`RECENTLY_VERIFIED`] (or its cache TTL, if longer) whose secret matches what it
    /// read: `None` for any other, without a store lookup. For an address refused for its failures, so that
    /// clients sharing it with a flood of bad keys (a NAT, a proxy) keep working while
    /// the flood costs no lookups.
    pub async fn authenticate_known(
        &self,
        presented: Option<&str>,
    ) -> Option<Result<Principal, AuthError>> {
        let (id, secret) = secret::parse(SecretKind::ApiKey, presented?)?;
        // The secret is checked against what this instance last read before the store is
        // asked again: a known id with a wrong secret costs no lookup.
        let entry = self.cache.read().ok()?.get(id).map(Arc::clone)?;
        let recent = entry.fetched.elapsed() < RECENTLY_VERIFIED.max(self.ttl);
        if !recent || !secret::verify(id, secret, &entry.key.secret_hash) {
            return None;
        }
        Some(self.authenticate(presented).await)
    }

    /// Checks a presented secret against its key's entry, and the key and its user.
    fn check(&self, id: &str, secret: &str, entry: &CachedKey) -> Result<Principal, AuthError> {
        if !secret::verify(id, secret, &entry.key.secret_hash) {
            return Err(AuthError::Unknown);
        }
        let now = unix_now();
        if entry.key.revoked_at.is_some() {
            return Err(AuthError::Revoked);
        }
        if entry.key.expires_at.is_some_and(|e| e <= now) {
            return Err(AuthError::Expired);
        }
        if entry.user.disabled {
            return Err(AuthError::Disabled);
        }
        if let Ok(mut uses) = self.pending_uses.lock() {
            match uses.get_mut(&entry.key.id) {
                Some(at) => *at = now,
                None => {
                    uses.insert(entry.key.id.clone(), now);
                }
            }
        }
        Ok(Principal {
            user_id: entry.user.id.clone(),
            user_name: entry.user.name.clone(),
            groups: entry.user.groups.clone(),
            key_id: entry.key.id.clone(),
        })
    }

    /// Drops a key from the cache (after revocation or a change to its user).
    pub fn evict(&self, key_id: &str) {
        if let Ok(mut cache) = self.cache.write() {
            self.evictions.fetch_add(1, Ordering::Relaxed);
            cache.remove(key_id);
        }
    }

    /// Drops every cached key.
    pub fn evict_all(&self) {
        if let Ok(mut cache) = self.cache.write() {
            self.evictions.fetch_add(1, Ordering::Relaxed);
            cache.clear();
        }
    }

    /// Writes batched last-use times to the store. Called periodically and at shutdown.
    pub async fn flush_key_uses(&self) -> Result<(), StoreError> {
        let uses: Vec<(String, i64)> = match self.pending_uses.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(()),
        };
        if uses.is_empty() {
            return Ok(());
        }
        self.store.record_key_use(&uses).await
    }

    /// Spawns the background task that flushes last-use times every `every`.
    pub fn spawn_use_flusher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = this.flush_key_uses().await {
                    tracing::warn!(error = %err, "could not record API key use");
                }
            }
        })
    }

    fn cached(&self, id: &str) -> Option<Arc<CachedKey>> {
        let cache = self.cache.read().ok()?;
        let entry = cache.get(id)?;
        (entry.fetched.elapsed() < self.ttl).then(|| Arc::clone(entry))
    }

    async fn load(&self, id: &str) -> Result<Arc<CachedKey>, AuthError> {
        let evictions = self.evictions.load(Ordering::Relaxed);
        let key = self
            .store
            .find_api_key(id)
            .await?
            .ok_or(AuthError::Unknown)?;
        let user = self
            .store
            .find_user(&key.user_id)
            .await?
            .ok_or(AuthError::Unknown)?;
        let entry = Arc::new(CachedKey {
            key,
            user,
            fetched: Instant::now(),
        });
        if let Ok(mut cache) = self.cache.write()
            && self.evictions.load(Ordering::Relaxed) == evictions
        {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(id.to_owned(), Arc::clone(&entry));
        }
        Ok(entry)
    }
}

/// Authenticates admin tokens: stored tokens, plus an optional bootstrap token (from
/// `PALISADE_ADMIN_TOKEN`) held only as a hash and compared in constant time.
pub struct AdminAuthenticator {
    store: Arc<dyn IdentityStore>,
    bootstrap_hash: Option<String>,
}

impl AdminAuthenticator {
    pub fn new(store: Arc<dyn IdentityStore>, bootstrap_token: Option<&str>) -> Self {
        let bootstrap_hash = bootstrap_token
            .filter(|t| !t.is_empty())
            .map(|t| secret::sha256_hex(t.as_bytes()));
        AdminAuthenticator {
            store,
            bootstrap_hash,
        }
    }

    /// Whether a bootstrap admin token is configured (`PALISADE_ADMIN_TOKEN`).
    pub fn has_bootstrap(&self) -> bool {
        self.bootstrap_hash.is_some()
    }

    /// Whether an already authenticated principal's token still exists and is not
    /// revoked (long-lived requests, such as the audit tail, re-check it).
    pub async fn still_valid(&self, principal: &AdminPrincipal) -> Result<bool, AuthError> {
        if principal.token_id == "bootstrap" && self.bootstrap_hash.is_some() {
            return Ok(true);
        }
        Ok(self
            .store
            .find_admin_token(&principal.token_id)
            .await?
            .is_some_and(|t| t.revoked_at.is_none() && t.role == principal.role))
    }

    pub async fn authenticate(&self, presented: Option<&str>) -> Result<AdminPrincipal, AuthError> {
        let presented = presented.ok_or(AuthError::Missing)?;
        if let Some(expected) = &self.bootstrap_hash {
            let got = secret::sha256_hex(presented.as_bytes());
            if subtle::ConstantTimeEq::ct_eq(got.as_bytes(), expected.as_bytes()).into() {
                return Ok(AdminPrincipal {
                    token_id: "bootstrap".to_owned(),
                    role: AdminRole::Admin,
                });
            }
        }
        let (id, secret) =
            secret::parse(SecretKind::AdminToken, presented).ok_or(AuthError::Malformed)?;
        let token = self
            .store
            .find_admin_token(id)
            .await?
            .ok_or(AuthError::Unknown)?;
        if !secret::verify(id, secret, &token.secret_hash) {
            return Err(AuthError::Unknown);
        }
        if token.revoked_at.is_some() {
            return Err(AuthError::Revoked);
        }
        Ok(AdminPrincipal {
            token_id: token.id,
            role: token.role,
        })
    }
}
