//! Assembly: from a validated config and an opened store to two running listeners (data
//! plane and admin plane) sharing one identity store, key authenticator, policy engine,
//! limiter and metrics; policy reload on SIGHUP; and the orderly stop on SIGTERM/SIGINT
//! (stop accepting, drain, flush key-use times, sign the final audit checkpoint). The
//! audit ledger is shared by both planes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use palisade_admin::AdminState;
use palisade_config::Config;
use palisade_gateway::server::{ListenerLimits, serve};
use palisade_gateway::telemetry::metrics::Metrics;
use palisade_gateway::{GatewayState, RouteTable};
use palisade_policy::identity::{AdminAuthenticator, AuthFailures, Authenticator};
use palisade_store::Store;

use crate::{access, ledger_setup, scan_setup};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Both listeners, running.
pub struct Running {
    pub data_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    stop: watch::Sender<bool>,
    cut: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    authenticator: Arc<Authenticator>,
    ledger: Option<palisade_audit::Ledger>,
    /// The gateway's request flows and late records, awaited before the ledger closes.
    requests: TaskTracker,
    shutdown_grace: Duration,
}

/// Opens the configured store with the audit durability the config asks for.
pub async fn connect_store(config: &Config) -> Result<Store, palisade_store::StoreError> {
    palisade_store::connect_with(
        &config.store.url,
        palisade_store::StoreOptions {
            max_connections: config.store.max_connections,
            audit_sync: match config.audit.sync {
                palisade_config::AuditSync::Full => palisade_store::AuditSync::Full,
                palisade_config::AuditSync::Normal => palisade_store::AuditSync::Normal,
            },
        },
    )
    .await
}

pub async fn start(
    config: &Config,
    store: &Store,
    bootstrap_admin_token: Option<&str>,
) -> anyhow::Result<Running> {
    let routes = RouteTable::from_config(config).context("cannot set up providers")?;
    let authenticator = Arc::new(Authenticator::new(
        Arc::clone(&store.identity),
        config.server.key_cache_ttl,
    ));
    let flusher = authenticator.spawn_use_flusher(Duration::from_secs(5));
    let metrics = Arc::new(Metrics::new());
    let (policy, warnings) = access::policy_engine(&config.policy, &config.models)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let policy = Arc::new(policy);
    let limiter = Arc::new(access::limiter(&config.limits, config.server.request_timeout).await?);
    palisade_gateway::tokens::warm_up();
    let ledger = ledger_setup::open(&config.audit, store).await?;
    let scanning = scan_setup::build(&config.scan)?;

    // One count per plane: a service retrying a revoked key from the operators' address
    // must not lock them out of the admin API they need to fix it.
    let failures = || {
        Arc::new(AuthFailures::new(
            config.server.auth_failures_per_minute_per_ip,
        ))
    };
    let gateway = Arc::new(GatewayState {
        server: config.server.clone(),
        routes,
        authenticator: Arc::clone(&authenticator),
        identity: Arc::clone(&store.identity),
        metrics: Arc::clone(&metrics),
        policy: Arc::clone(&policy),
        explain_denials: config.policy.explain_denials,
        limiter: Arc::clone(&limiter),
        auth_failures: failures(),
        audit: ledger.clone(),
        audit_config: config.audit.clone(),
        scanning,
        requests: TaskTracker::new(),
    });
    let requests = gateway.requests.clone();
    let render = Arc::clone(&metrics);
    let admin = Arc::new(AdminState {
        identity: Arc::clone(&store.identity),
        admin_auth: AdminAuthenticator::new(Arc::clone(&store.identity), bootstrap_admin_token),
        auth_failures: failures(),
        key_auth: Arc::clone(&authenticator),
        render_metrics: {
            let limiter = Arc::clone(&limiter);
            let ledger = ledger.clone();
            Arc::new(move || {
                Metrics::sync_counter(&render.limits_backend_errors, limiter.backend_errors());
                if let Some(ledger) = &ledger {
                    sync_audit_metrics(&render, ledger);
                }
                render.render()
            })
        },
        metrics_require_auth: config.server.metrics_require_auth,
        policy: Arc::clone(&policy),
        policy_file: config.policy.file.clone(),
        limiter,
        models: access::model_attrs(&config.models),
        model_aliases: access::model_aliases(&config.models),
        audit: ledger.clone(),
    });
    let reloader = access::spawn_policy_reload_on_sighup(Arc::clone(&admin));

    let data = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {} (server.listen)", config.server.listen))?;
    let admin_listener = TcpListener::bind(config.server.admin_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (server.admin_listen)",
                config.server.admin_listen
            )
        })?;
    let data_addr = data.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let tls = match &config.server.tls {
        Some(files) => Some({
            crate::files::warn_if_readable_by_others(&files.key_file, "server.tls.key_file");
            palisade_gateway::tls::acceptor(&files.cert_file, &files.key_file)
                .context("cannot set up TLS (server.tls)")?
        }),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let limits = ListenerLimits {
        max_header_bytes: config.server.max_header_bytes,
        header_read_timeout: config.server.header_read_timeout,
        idle_timeout: config.server.idle_timeout,
        shutdown_grace: config.server.shutdown_grace,
        tls,
        max_connections_per_ip: config.server.max_connections_per_ip,
        trusted_proxies: config.server.trusted_proxies.clone(),
        max_connections: config.server.max_connections,
    };
    let (stop, stopped) = watch::channel(false);
    // Sent on a second signal: the listeners close their connections without waiting
    // for the grace period.
    let (cut, cut_rx) = watch::channel(false);
    let until_stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = vec![
        tokio::spawn(serve(
            data,
            palisade_gateway::router(gateway),
            limits.clone(),
            until_stop(stopped.clone()),
            until_stop(cut_rx.clone()),
        )),
        tokio::spawn(serve(
            admin_listener,
            palisade_admin::router_with_shutdown(admin, stopped.clone()),
            ListenerLimits {
                trusted_proxies: config.server.admin_trusted_proxies.clone(),
                ..limits
            },
            until_stop(stopped),
            until_stop(cut_rx),
        )),
        flusher,
        reloader,
    ];
    if let Some(ledger) = &ledger {
        tasks.push(ledger_setup::spawn_retention(
            ledger.clone(),
            config.audit.retention_days,
        ));
    }
    tracing::info!(data_plane = %data_addr, admin_plane = %admin_addr, scheme, store = ?store.backend, "palisade listening");
    Ok(Running {
        data_addr,
        admin_addr,
        stop,
        cut,
        tasks,
        authenticator,
        ledger,
        requests,
        shutdown_grace: config.server.shutdown_grace,
    })
}

fn sync_audit_metrics(metrics: &Metrics, ledger: &palisade_audit::Ledger) {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = ledger.stats();
    Metrics::sync_counter(&metrics.audit_records, stats.appended.load(Relaxed));
    Metrics::sync_counter(&metrics.audit_dropped, stats.dropped.load(Relaxed));
    Metrics::sync_counter(&metrics.audit_commits, stats.batches.load(Relaxed));
    Metrics::sync_counter(&metrics.audit_checkpoints, stats.checkpoints.load(Relaxed));
    metrics
        .audit_pending
        .set(i64::try_from(stats.pending.load(Relaxed)).unwrap_or(i64::MAX));
}

impl Running {
    /// Runs until SIGTERM or SIGINT, then stops gracefully; a second signal while it
    /// drains closes the open connections at once instead of waiting for the grace
    /// period. Either way a cut stream still records on its way out, and the ledger
    /// commits those records and signs its last checkpoint before the process ends.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        // One set of listeners for both signals: a second signal that arrives before the
        // first has been acted on is kept, not lost between two registrations.
        let mut signals = StopSignals::listen();
        signals.next().await;
        tracing::info!("shutting down: draining in-flight requests (a second signal stops now)");
        let cut = std::mem::replace(&mut self.cut, watch::channel(false).0);
        let stop = self.stop();
        tokio::pin!(stop);
        tokio::select! {
            stopped = &mut stop => return stopped,
            () = signals.next() => {}
        }
        tracing::warn!("second signal: closing connections without waiting for them");
        let _ = cut.send(true);
        stop.await
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        // The tasks after the two listeners (key-use flusher, policy reloader, audit
        // retention) run forever: stop them after the listeners have drained.
        let background = self.tasks.split_off(2);
        for task in self.tasks {
            let _ = task.await;
        }
        for task in background {
            task.abort();
        }
        // The listeners cut what outlived the grace period; those requests' flows and
        // records (a cut stream records on its way out) finish before the ledger closes.
        self.requests.close();
        if tokio::time::timeout(self.shutdown_grace, self.requests.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "request flows still running after the grace period; their records may be lost"
            );
        }
        if let Err(err) = self.authenticator.flush_key_uses().await {
            tracing::warn!(error = %err, "could not record API key use at shutdown");
        }
        if let Some(ledger) = &self.ledger {
            // Records of drained requests are committed; sign the final checkpoint.
            ledger.close().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The signals that stop the gateway: SIGTERM and SIGINT (Ctrl-C elsewhere), listened
/// to from creation on, so that none delivered in between two waits is missed.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            StopSignals {}
        }
    }

    /// Waits for the next stop signal.
    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(signal: Option<&mut tokio::signal::unix::Signal>) {
                let received = match signal {
                    Some(s) => s.recv().await.is_some(),
                    None => false,
                };
                if !received {
                    std::future::pending::<()>().await;
                }
            }
            let StopSignals { term, int } = self;
            if int.is_none() && term.is_none() {
                wait_for_ctrl_c().await;
                return;
            }
            tokio::select! {
                () = recv(term.as_mut()) => {}
                () = recv(int.as_mut()) => {}
            }
        }
        #[cfg(not(unix))]
        {
            wait_for_ctrl_c().await;
        }
    }
}

/// Waits for Ctrl-C; for ever when it cannot be listened to (logged), rather than
/// stopping at once.
async fn wait_for_ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "cannot listen for stop signals; stop the process with SIGKILL");
        std::future::pending::<()>().await;
    }
}
