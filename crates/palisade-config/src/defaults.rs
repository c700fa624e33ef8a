//! Every default value, in one place, and the documented default config file that
//! `palisade config default` prints.

pub const LISTEN: &str = "127.0.0.1:8080";
pub const ADMIN_LISTEN: &str = "127.0.0.1:8081";
pub const STORE_URL: &str = "sqlite://palisade.db";
pub const STORE_MAX_CONNECTIONS: u32 = 8;
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
pub const MAX_JSON_DEPTH: usize = 64;
pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
pub const IDLE_TIMEOUT_MS: u64 = 60_000;
pub const REQUEST_TIMEOUT_MS: u64 = 600_000;
pub const SHUTDOWN_GRACE_MS: u64 = 30_000;
pub const KEY_CACHE_TTL_MS: u64 = 1_000;
pub const LOG_LEVEL: &str = "info";
pub const MAX_OUTPUT_TOKENS: u64 = 128_000;
pub const DEFAULT_OUTPUT_TOKENS: u64 = 1024;
pub const MAX_MESSAGES: usize = 2048;
pub const MAX_CONNECTIONS_PER_IP: usize = 1024;
pub const MAX_CONNECTIONS: usize = 10_000;
pub const AUTH_FAILURES_PER_MINUTE_PER_IP: u32 = 120;
pub const LIMITS_KEY_PREFIX: &str = "palisade:limits:";
pub const LIMITS_BACKEND_TIMEOUT_MS: u64 = 250;
pub const LIMITS_BACKEND_COOLDOWN_MS: u64 = 1000;
pub const AUDIT_ORIGIN: &str = "palisade/audit";
pub const AUDIT_SIGNING_KEY_FILE: &str = "palisade-audit.key";
pub const AUDIT_MASTER_KEY_FILE: &str = "palisade-master.key";
pub const AUDIT_CHECKPOINT_EVERY: u64 = 1000;
pub const AUDIT_CHECKPOINT_INTERVAL_MS: u64 = 10_000;
pub const AUDIT_COMMIT_TIMEOUT_MS: u64 = 10_000;
pub const AUDIT_BATCH_MAX: usize = 512;
pub const AUDIT_RETENTION_DAYS: u32 = 180;
pub const SCAN_THRESHOLD: f32 = 0.5;
pub const SCAN_STREAM_HOLDBACK_BYTES: usize = 48;
pub const SCAN_STREAM_MAX_HOLD_BYTES: usize = 16 * 1024;

pub const PROVIDER_TIMEOUT_MS: u64 = 120_000;
pub const PROVIDER_CONNECT_TIMEOUT_MS: u64 = 5_000;
pub const PROVIDER_MAX_RETRIES: u32 = 2;
pub const PROVIDER_RETRY_BACKOFF_MS: u64 = 200;
pub const PROVIDER_MAX_IDLE_PER_HOST: usize = 256;

pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u64 = 4096;

pub const SIMULATED_LATENCY_MS: u64 = 0;
pub const SIMULATED_CHUNK_INTERVAL_MS: u64 = 0;
pub const SIMULATED_WORDS_PER_CHUNK: usize = 1;
pub const SIMULATED_EMBEDDING_DIMENSIONS: usize = 256;

/// The documented default configuration (also in `docs/config.md`).
pub const DEFAULT_CONFIG_TOML: &str = r#"# Palisade configuration. Every key is optional unless marked required.
# Secrets are never written here: use ${ENV_VAR} references.

[server]
listen = "127.0.0.1:8080"          # data plane (OpenAI-compatible API)
admin_listen = "127.0.0.1:8081"    # admin API, /metrics
max_body_bytes = 4194304           # larger bodies get 413 request_too_large
max_header_bytes = 32768           # total request header size; over it 431 request_headers_too_large
max_json_depth = 64                # deeper JSON gets 400 invalid_request_error
header_read_timeout_ms = 10000     # slow-loris protection
idle_timeout_ms = 60000            # connections with nothing in flight and no traffic are closed; so are those whose client stops reading a response this long
request_timeout_ms = 600000        # whole request, streams included
shutdown_grace_ms = 30000          # in-flight requests finish on SIGTERM
key_cache_ttl_ms = 1000            # how long a verified key is trusted before re-reading the store (0-3600000; a revocation reaches other instances within it, a store outage spares keys verified within it)
metrics_require_auth = true        # /metrics needs an admin token (any role)
trusted_proxies = []               # load balancers whose X-Forwarded-For names the client (CIDRs)
admin_trusted_proxies = []         # the same for the admin plane (listed on their own)
cors_origins = []                  # web origins whose pages may call /v1 from a browser (CORS), e.g.
                                   # ["https://app.example.com"], or ["*"]; empty: none (the admin API never)
max_output_tokens = 128000         # largest max_tokens a request may ask for
default_output_tokens = 1024       # output assumed for limits/policy when a request sets no max_tokens
max_messages = 2048                # most messages in one chat request
max_connections_per_ip = 1024      # open connections from one client IP, per listener
max_connections = 10000            # open connections per listener, all clients; beyond, new ones are closed
auth_failures_per_minute_per_ip = 120  # bad keys and admin tokens; then 429 too_many_auth_failures
# [server.tls]                     # HTTPS on both listeners (rustls; TLS 1.2 and 1.3, HTTP/2 via ALPN)
# cert_file = "/etc/palisade/tls.crt"   # PEM certificate chain
# key_file = "/etc/palisade/tls.key"    # PEM private key (PKCS#8, PKCS#1 or SEC1)

[store]
url = "sqlite://palisade.db"       # or postgres://user:${PGPASSWORD}@host/db
max_connections = 8                # PostgreSQL: plus 3 of the audit writer's own; every session
                                   # has statement_timeout 60s, idle_in_transaction_session_timeout 30s

[logging]
level = "info"                     # or a tracing filter, e.g. "palisade=debug,info"
format = "json"                    # json | text

[policy]
# file = "policies.cedar"          # Cedar policies; default: the built-in set (`palisade policy default`)
utc_offset_minutes = 0             # local time for context.time in policies
explain_denials = true             # 403 bodies name the deciding policies; false: no names, and a model the caller may not list is a 404

[limits]
backend = "memory"                 # memory | redis (shared by all instances)
# redis_url = "redis://127.0.0.1:6379"   # rediss:// for TLS
key_prefix = "palisade:limits:"
on_backend_error = "fail_closed"   # fail_closed | fail_open | local (fall back to in-memory limits)
backend_timeout_ms = 250           # one Redis call slower than this is a backend failure (10-10000;
                                   # raise it for a remote Redis over TLS: the first handshake counts)
backend_cooldown_ms = 1000         # after a failure, admissions skip Redis this long (0-60000; 0: always try)
# [[limits.rules]]                 # every applicable rule must admit a request
# scope = "user"                   # key | user | group | model | global
# match = "alice"                  # only this key id/user/group/model; omit: each one separately
# requests_per_minute = 60
# tokens_per_minute = 100000
# concurrent = 4                   # streams count until they end
# daily_tokens = 1000000
# monthly_tokens = 20000000
# daily_cost = 5.0                 # needs model prices
# monthly_cost = 100.0

[audit]
enabled = true
durability = "strict"              # strict: a response completes only once its record is committed
                                   # best_effort: queued; records can be lost (never use for compliance)
sync = "full"                      # SQLite: full = fsync each group commit; normal = survives a crash, not power loss
origin = "palisade/audit"          # the log's name in signed checkpoints (and the signing key's name)
signing_key_file = "palisade-audit.key"   # Ed25519 note key; created 0600 if missing, public key in <file>.pub,
                                          # largest checkpoint it signed or started on in <file>.witness
master_key_file = "palisade-master.key"   # 32-byte key (base64) wrapping the per-subject data keys; created 0600 if missing
# master_key = "${PALISADE_AUDIT_MASTER_KEY}"  # instead of master_key_file
previous_master_key_files = []     # old master keys, still read; `palisade audit rotate-keys` re-wraps under the current one
capture = "none"                   # none | redacted | full (content is always encrypted)
end_user_scope = "user"            # the `user` field names an end user of the calling user (subject <user id>:<id>);
                                   # global: the same person in every application (subject <id>)
checkpoint_every = 1000            # sign a checkpoint every N records
checkpoint_interval_ms = 10000     # ... or this often when records arrived; and on shutdown
batch_max = 512                    # most records per group commit
commit_timeout_ms = 10000          # a group commit (or reading the log's tail) taking longer fails: 503 audit_unavailable, not a hang
retention_days = 180               # content older than this is purged; hashes stay, so the log still verifies
# [[audit.capture_rules]]          # the first matching rule wins; empty list = any
# models = ["gpt-4o"]
# groups = ["legal"]
# capture = "full"

[scan]
enabled = true
default_profile = "default"        # the profile for requests no rule matches; "none" = not scanned
builtin_secret_rules = true        # gitleaks' default rule set (v8.30.1) and Palisade's extra rules
secret_rule_files = []             # more rules in gitleaks TOML format
classifier = true                  # the learned prompt-injection classifier (beside the rules)
# injection_threshold = 0.5        # default: the threshold tuned when the classifier was trained
decode = true                      # decode base64 / hex / URL-encoded runs and scan what they hide
letter_spacing = true              # read letter-spaced words (i g n o r e, R-E-V-E-A-L) as words
stream_holdback_bytes = 48         # streamed output held back so a match split over chunks is caught
stream_max_hold_bytes = 16384      # most held for one unfinished token, key block or finding
# The built-in profile "default": injection, secret, banned and leak = block; pii = pseudonymize;
# obfuscation = flag. Redefine it, or add profiles and assign them:
# [[scan.profiles]]
# name = "strict"
# threshold = 0.5                  # findings scoring below are ignored
# scan_system = false              # also scan system/developer messages and tool definitions
# scan_output = true               # scan the model's answer (streams included)
# actions = { injection = "block", secret = "block", pii = "redact", credit_card = "mask", email = "pseudonymize", obfuscation = "flag", banned = "block" }
# banned_terms = ["project bluebird"]   # needs a `banned` action
# banned_topics = { weapons = ["nerve agent", "pipe bomb"] }
# [[scan.rules]]                   # the first matching rule wins; empty list = any
# models = ["gpt-4o"]
# groups = ["contractors"]
# profile = "strict"

# One [[providers]] table per upstream.
# kind = "openai"     any OpenAI-compatible server (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp)
# kind = "anthropic"  Anthropic's Messages API, translated to and from chat completions
# kind = "simulated"  built-in deterministic model for demos, tests and benchmarks
[[providers]]
name = "local"                     # required
kind = "openai"                    # required
base_url = "http://127.0.0.1:9000/v1"
# api_key = "${UPSTREAM_API_KEY}"
# api_key_header = "authorization" # or "api-key" (Azure OpenAI)
timeout_ms = 120000                # a plain answer's whole call; for a stream, the longest wait for its next bytes (request_timeout_ms bounds the whole)
connect_timeout_ms = 5000
max_retries = 2                    # 0..=10; on connect errors, 408, 409, 429 and 5xx, before any byte reached the client
retry_backoff_ms = 200             # doubled on each retry

# One [[models]] table per model clients may ask for.
[[models]]
name = "gpt-4o-mini"               # required: what clients ask for
provider = "local"                 # required: a provider name above
upstream_model = "gpt-4o-mini"     # default: same as name
aliases = []                       # other names clients may use
tier = "standard"                  # policy attribute resource.tier
labels = []                        # policy attribute resource.labels
status = "active"                  # active | quarantined | retired (policy attribute resource.status)
# price_input_per_million = 0.15   # for cost budgets
# price_output_per_million = 0.60
# token_encoding = "cl100k_base"   # vocabulary of token-id input (auto for text-embedding-… at OpenAI/Azure)
"#;
