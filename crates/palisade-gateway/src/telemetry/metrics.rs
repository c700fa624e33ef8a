//! Prometheus metrics of the data plane. Names follow `palisade_<name>_<unit>[_total]`;
//! label values are bounded (endpoint, configured model names, provider names, status,
//! error code). `docs/metrics.md` lists them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: &'static str,
    pub model: String,
    pub status: u16,
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    pub provider: String,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub model: String,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub direction: &'static str,
    pub kind: String,
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    pub direction: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 µs … ~100 s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 22))
}

fn overhead_histogram() -> Histogram {
    // 5 µs … ~80 ms: the gateway's own time is small and needs fine buckets.
    Histogram::new(exponential_buckets(0.000_005, 2.0, 15))
}

fn scan_histogram() -> Histogram {
    // 2 µs … ~65 ms: a 1 KB prompt scans in tens of µs, a 1 MB one in tens of ms.
    Histogram::new(exponential_buckets(0.000_002, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: HistogramFamily<EndpointLabels>,
    pub overhead: HistogramFamily<EndpointLabels>,
    pub upstream_duration: HistogramFamily<ProviderLabels>,
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    pub tokens: Family<TokenLabels, Counter>,
    pub in_flight: Gauge,
    pub auth_failures: Counter,
    pub policy_denials: Counter,
    pub limit_refusals: Family<RefusalLabels, Counter>,
    pub limits_backend_errors: Counter,
    /// Requests whose audit record could not be written (gateway side).
    pub audit_failures: Counter,
    /// Ledger counters, synced from the ledger when metrics are rendered.
    pub audit_records: Counter,
    pub audit_dropped: Counter,
    pub audit_commits: Counter,
    pub audit_checkpoints: Counter,
    /// Records queued and not yet committed: the audit lag.
    pub audit_pending: Gauge,
    /// Scanner findings acted on, by direction, kind (a bounded set) and action.
    pub scan_findings: Family<FindingLabels, Counter>,
    /// Requests refused (input) or answers ended (output) by a `block`.
    pub scan_blocks: Family<DirectionLabels, Counter>,
    /// Time spent scanning a request's input, or its output (a stream's chunks summed).
    pub scan_duration: HistogramFamily<DirectionLabels>,
}

impl Metrics {
    pub fn scan_finding(&self, direction: &'static str, kind: &str, action: &str) {
        self.scan_findings
            .get_or_create(&FindingLabels {
                direction,
                kind: kind.to_owned(),
                action: action.to_owned(),
            })
            .inc();
    }

    pub fn scan_blocked(&self, direction: &'static str) {
        self.scan_blocks
            .get_or_create(&DirectionLabels { direction })
            .inc();
    }

    pub fn scan_time(&self, direction: &'static str, spent: std::time::Duration) {
        self.scan_duration
            .get_or_create(&DirectionLabels { direction })
            .observe(spent.as_secs_f64());
    }

    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("palisade");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Data-plane requests by endpoint, model, status and error code",
            requests.clone(),
        );
        let request_duration: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time from request to response headers (streams: to completion)",
            Unit::Seconds,
            request_duration.clone(),
        );
        let overhead: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(overhead_histogram);
        registry.register_with_unit(
            "gateway_overhead",
            "Time spent in the gateway itself, excluding upstream waits",
            Unit::Seconds,
            overhead.clone(),
        );
        let upstream_duration: HistogramFamily<ProviderLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "upstream_duration",
            "Time waiting on the upstream until its answer (streams: until the stream opened)",
            Unit::Seconds,
            upstream_duration.clone(),
        );
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        registry.register(
            "upstream_errors",
            "Upstream failures by provider and kind",
            upstream_errors.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Tokens by model and kind (prompt, completion)",
            tokens.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "Data-plane requests being served now",
            in_flight.clone(),
        );
        let auth_failures = Counter::default();
        registry.register(
            "auth_failures",
            "Data-plane requests refused for bad or missing credentials",
            auth_failures.clone(),
        );
        let policy_denials = Counter::default();
        registry.register(
            "policy_denials",
            "Requests denied by access policy",
            policy_denials.clone(),
        );
        let limit_refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "limit_refusals",
            "Requests refused by limits, by code",
            limit_refusals.clone(),
        );
        let limits_backend_errors = Counter::default();
        registry.register(
            "limits_backend_errors",
            "Failed calls to the shared limits backend (Redis)",
            limits_backend_errors.clone(),
        );
        let audit_failures = Counter::default();
        registry.register(
            "audit_failures",
            "Requests refused because their audit record could not be written",
            audit_failures.clone(),
        );
        let audit_records = Counter::default();
        registry.register(
            "audit_records",
            "Audit records committed",
            audit_records.clone(),
        );
        let audit_dropped = Counter::default();
        registry.register(
            "audit_dropped",
            "Audit records dropped because the queue was full (best_effort durability only)",
            audit_dropped.clone(),
        );
        let audit_commits = Counter::default();
        registry.register(
            "audit_commits",
            "Audit group commits (transactions)",
            audit_commits.clone(),
        );
        let audit_checkpoints = Counter::default();
        registry.register(
            "audit_checkpoints",
            "Signed audit checkpoints written",
            audit_checkpoints.clone(),
        );
        let audit_pending = Gauge::default();
        registry.register(
            "audit_pending_records",
            "Audit records queued and not yet committed",
            audit_pending.clone(),
        );
        let scan_findings = Family::<FindingLabels, Counter>::default();
        registry.register(
            "scan_findings",
            "Content-scanner findings acted on, by direction, kind and action",
            scan_findings.clone(),
        );
        let scan_blocks = Family::<DirectionLabels, Counter>::default();
        registry.register(
            "scan_blocks",
            "Requests refused (input) or answers ended with content_filter (output) by a scanner",
            scan_blocks.clone(),
        );
        let scan_duration: HistogramFamily<DirectionLabels> =
            Family::new_with_constructor(scan_histogram);
        registry.register_with_unit(
            "scan_duration",
            "Time spent scanning one request's input, or its output (a stream's chunks summed)",
            Unit::Seconds,
            scan_duration.clone(),
        );
        Metrics {
            registry,
            scan_findings,
            scan_blocks,
            scan_duration,
            requests,
            request_duration,
            overhead,
            upstream_duration,
            upstream_errors,
            tokens,
            in_flight,
            auth_failures,
            policy_denials,
            limit_refusals,
            limits_backend_errors,
            audit_failures,
            audit_records,
            audit_dropped,
            audit_commits,
            audit_checkpoints,
            audit_pending,
        }
    }

    /// Brings a counter kept elsewhere (e.g. by the limiter) up to `total`.
    pub fn sync_counter(counter: &Counter, total: u64) {
        let seen = counter.get();
        if total > seen {
            counter.inc_by(total - seen);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Counts a request in `palisade_in_flight_requests` until dropped.
pub struct InFlight(Gauge);

impl InFlight {
    pub fn enter(metrics: &Metrics) -> Self {
        metrics.in_flight.inc();
        InFlight(metrics.in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
