//! `palisade audit …` and `palisade subjects erase`: the audit ledger from the command
//! line. `verify` opens the store directly (no server, nothing written) and checks the
//! whole log against the checkpoint public key; every other verb goes through the admin
//! API: `search`, `export` (JSONL or CEF), `tail` (live, SSE), `checkpoint` and
//! `public-key` (what an auditor keeps to check the log later), `rotate-keys`, and
//! `subjects erase` (crypto-shredding one data subject).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::files::create_private;
use clap::{Args, Subcommand, ValueEnum};
use palisade_audit::Event;
use palisade_audit::checkpoint::NoteVerifier;
use palisade_audit::export::{RecordView, cef};
use palisade_audit::record::ContentRef;
use palisade_audit::verify::Report;
use serde::Deserialize;
use serde_json::Value;

use super::AdminArgs;
use crate::admin_client::{AdminClient, text, url_component};

/// Exit status of `audit verify` when the log has problems.
const EXIT_PROBLEMS: i32 = 1;
/// Exit status of `audit verify` when it could not verify (bad arguments, unreadable
/// files, store unreachable).
const EXIT_UNVERIFIED: i32 = 2;
/// The API's largest page.
const PAGE: u32 = 1000;

#[derive(Debug, Subcommand)]
pub enum AuditVerb {
    /// Verify the whole log in the store: every record, link, hash and signed checkpoint.
    ///
    /// Reads the store directly (no server needed). Exit status: 0 intact, 1 problems
    /// found, 2 could not verify.
    Verify {
        /// The store URL (default: `[store] url` of the config file).
        #[arg(long)]
        store: Option<String>,
        /// The config file to take the store URL from when `--store` is not given.
        #[arg(long, short, env = "PALISADE_CONFIG", default_value = "palisade.toml")]
        config: PathBuf,
        /// The checkpoint public key (`palisade audit public-key`, or the signing key's
        /// `.pub` file).
        #[arg(long)]
        public_key: PathBuf,
        /// A signed checkpoint kept from earlier (`palisade audit checkpoint`): the log
        /// must still contain what it covers (detects truncation and rewriting).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The log's name every checkpoint must carry (default: `audit.origin` of the
        /// config file, else the public key's name).
        #[arg(long)]
        origin: Option<String>,
    },
    /// Search records, newest first.
    Search {
        #[command(flatten)]
        filter: Filter,
        /// Records per page (1-1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue where a previous page ended (its `next_cursor`).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Export every matching record, as JSON lines or CEF (for SIEMs).
    ///
    /// Newest first unless `--oldest-first`.
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        #[command(flatten)]
        filter: Filter,
        /// Write here (created with mode 0600) instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Oldest record first. Holds the whole export in memory: bound it with
        /// `--since`/`--until`.
        #[arg(long)]
        oldest_first: bool,
        /// Records per API call (tests use small pages).
        #[arg(long, default_value_t = PAGE, hide = true)]
        page_size: u32,
    },
    /// Follow records as they are committed, until Ctrl-C.
    Tail {
        #[command(flatten)]
        filter: EventFilter,
    },
    /// Print (or save) the latest signed checkpoint.
    ///
    /// Keep it: `audit verify --checkpoint`
    /// later proves the log was neither truncated nor rewritten since.
    Checkpoint {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Print (or save) the public key that verifies checkpoint signatures.
    PublicKey {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Re-wrap every subject data key under the current master key.
    ///
    /// Run it after making a new key `audit.master_key_file` and listing the old one in
    /// `audit.previous_master_key_files`.
    RotateKeys,
}

#[derive(Debug, Subcommand)]
pub enum SubjectsVerb {
    /// Crypto-shred a data subject's captured content.
    ///
    /// Their content can never be decrypted again; the log still verifies.
    Erase {
        /// The subject id: `<user id>:<end-user id>` for an end user one user's
        /// requests named in `user` (the end-user id alone with
        /// `audit.end_user_scope = "global"`), or a user id.
        id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// One record per line, as the admin API returns it.
    Jsonl,
    /// ArcSight Common Event Format, one line per record.
    Cef,
}

/// What a record is about (the filters search and tail share).
#[derive(Debug, Args)]
pub struct EventFilter {
    /// API key id, admin token id or user id.
    #[arg(long)]
    actor: Option<String>,
    #[arg(long)]
    model: Option<String>,
    /// allow, deny, limit, block or error.
    #[arg(long)]
    decision: Option<String>,
    /// data or admin.
    #[arg(long)]
    plane: Option<String>,
}

impl EventFilter {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        present(&[
            ("actor", &self.actor),
            ("model", &self.model),
            ("decision", &self.decision),
            ("plane", &self.plane),
        ])
    }
}

/// The query pairs of the filters that were given.
fn present(pairs: &[(&'static str, &Option<String>)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v.clone())))
        .collect()
}

/// Search filters (every given one must match).
#[derive(Debug, Args)]
pub struct Filter {
    /// From this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    #[command(flatten)]
    event: EventFilter,
    #[arg(long)]
    request_id: Option<String>,
    /// A data subject id, as for `subjects erase` (matched through its pseudonymous
    /// reference).
    #[arg(long, conflicts_with = "subject_ref")]
    subject: Option<String>,
    /// A data subject's pseudonymous reference (`s_…`), as records show it.
    #[arg(long)]
    subject_ref: Option<String>,
}

impl Filter {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = present(&[("since", &self.since), ("until", &self.until)]);
        pairs.extend(self.event.pairs());
        pairs.extend(present(&[
            ("request_id", &self.request_id),
            ("subject", &self.subject),
            ("subject_ref", &self.subject_ref),
        ]));
        pairs
    }
}

pub async fn run(args: &AdminArgs, verb: AuditVerb) -> anyhow::Result<()> {
    match verb {
        AuditVerb::Verify {
            store,
            config,
            public_key,
            checkpoint,
            origin,
        } => {
            let log = LogToVerify {
                store,
                config: &config,
                public_key: &public_key,
                held: checkpoint.as_deref(),
                origin,
            };
            verify(args.json, log).await
        }
        AuditVerb::Search {
            filter,
            limit,
            cursor,
        } => search(args, &filter, limit, cursor).await,
        AuditVerb::Export {
            format,
            filter,
            output,
            oldest_first,
            page_size,
        } => {
            let order = Order {
                oldest_first,
                page_size,
            };
            export(args, format, &filter, output.as_deref(), order).await
        }
        AuditVerb::Tail { filter } => tail(args, &filter.pairs()).await,
        AuditVerb::Checkpoint { output } => {
            let note = AdminClient::new(args)?
                .get_text("/admin/v1/audit/checkpoint")
                .await?;
            emit_text(&note, output.as_deref())
        }
        AuditVerb::PublicKey { output } => {
            let key = AdminClient::new(args)?
                .get_text("/admin/v1/audit/public-key")
                .await?;
            emit_text(&key, output.as_deref())
        }
        AuditVerb::RotateKeys => {
            let answer = AdminClient::new(args)?
                .post("/admin/v1/audit/rotate-keys", &Value::Null)
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                println!(
                    "re-wrapped {} keys under the current master key",
                    answer["rewrapped"]
                );
            }
            Ok(())
        }
    }
}

pub async fn subjects(args: &AdminArgs, verb: SubjectsVerb) -> anyhow::Result<()> {
    match verb {
        SubjectsVerb::Erase { id } => {
            let answer = AdminClient::new(args)?
                .delete(&format!("/admin/v1/subjects/{}", url_component(&id)))
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else if answer["erased"].as_bool() == Some(true) {
                println!(
                    "erased: subject {} — their captured content can no longer be decrypted",
                    text(&answer["subject_ref"])
                );
            } else {
                println!(
                    "nothing to erase: no content was captured for subject {}",
                    text(&answer["subject_ref"])
                );
            }
            Ok(())
        }
    }
}

// -- verify ---------------------------------------------------------------------------

/// What `audit verify` checks: the store (or the config naming it), the public key, a
/// checkpoint kept from earlier, and the log's origin.
struct LogToVerify<'a> {
    store: Option<String>,
    config: &'a Path,
    public_key: &'a Path,
    held: Option<&'a Path>,
    origin: Option<String>,
}

/// Runs the verification and exits with its status (0, 1 or 2).
async fn verify(json: bool, log: LogToVerify<'_>) -> anyhow::Result<()> {
    let code = match check_log(log).await {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report);
            }
            if report.ok { 0 } else { EXIT_PROBLEMS }
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            EXIT_UNVERIFIED
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

async fn check_log(log: LogToVerify<'_>) -> anyhow::Result<Report> {
    let LogToVerify {
        store,
        config,
        public_key,
        held,
        origin,
    } = log;
    let key_text = std::fs::read_to_string(public_key)
        .with_context(|| format!("cannot read the public key {}", public_key.display()))?;
    if key_text.trim_start().starts_with("PRIVATE+KEY+") {
        anyhow::bail!(
            "{} is the private signing key: pass the public key (the `.pub` file beside it)",
            public_key.display()
        );
    }
    let verifier = NoteVerifier::parse(&key_text)
        .with_context(|| format!("{} is not a checkpoint public key", public_key.display()))?;
    // The checkpoints must name this log: a log signed with the same key under another
    // name is not it, however consistent in itself.
    let origin = match origin {
        Some(origin) => origin,
        None if config.exists() => palisade_config::load_audit_origin(config)
            .with_context(|| format!("cannot read audit.origin from {}", config.display()))?,
        None => verifier.name().to_owned(),
    };
    let held = held
        .map(|p| {
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the checkpoint {}", p.display()))
        })
        .transpose()?;
    let url = match store {
        Some(url) => url,
        None => palisade_config::load_store_url(config).with_context(|| {
            format!(
                "no --store given and the config {} is not usable",
                config.display()
            )
        })?,
    };
    if let Some(path) = sqlite_file(&url)
        && !path.exists()
    {
        anyhow::bail!("there is no SQLite database at {}", path.display());
    }
    // Read only: the log under verification (perhaps a copy kept as evidence) is not
    // migrated, checkpointed or otherwise written.
    let store = palisade_store::connect_read_only(&url)
        .await
        .context("cannot open the store")?;
    let report = palisade_audit::verify::verify_origin(
        std::sync::Arc::clone(&store.audit),
        &verifier,
        held.as_deref(),
        &origin,
    )
    .await;
    store.close().await;
    Ok(report?)
}

/// The database file a `sqlite:` URL names (none for in-memory databases).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn print_report(r: &Report) {
    if r.ok {
        println!("audit log: ok");
    } else {
        println!(
            "audit log: {} problem{} found",
            r.problems.len(),
            if r.problems.len() == 1 { "" } else { "s" }
        );
    }
    println!("records:              {}", r.records);
    println!("root:                 {}", r.root);
    println!(
        "checkpoints verified: {} (the latest covers {} records)",
        r.checkpoints_verified, r.latest_checkpoint
    );
    println!("unsigned tail:        {} records", r.unsigned_tail);
    println!(
        "content:              {} records with content, {} purged by retention",
        r.with_content, r.content_purged
    );
    for p in &r.problems {
        let kind = serde_json::to_value(p.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!("position {}: {kind}: {}", p.position, p.detail);
    }
}

// -- search and export ----------------------------------------------------------------

async fn search(
    args: &AdminArgs,
    filter: &Filter,
    limit: u32,
    cursor: Option<String>,
) -> anyhow::Result<()> {
    let client = AdminClient::new(args)?;
    let mut pairs = filter.pairs();
    pairs.push(("limit", limit.to_string()));
    if let Some(c) = cursor {
        pairs.push(("cursor", c));
    }
    let page = client
        .get(&format!("/admin/v1/audit{}", query(&pairs)))
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page["data"]
        .as_array()
        .map(|a| a.iter().map(row).collect())
        .unwrap_or_default();
    super::table::print(&COLUMNS, &rows);
    if let Some(next) = page["next_cursor"].as_str() {
        println!("\nmore: --cursor {next}");
    }
    Ok(())
}

const COLUMNS: [&str; 9] = [
    "seq", "time", "plane", "actor", "action", "model", "decision", "reason", "status",
];

/// One record as table cells, in [`COLUMNS`] order.
fn row(r: &Value) -> Vec<String> {
    let actor = &r["actor"];
    let id = actor["key_id"]
        .as_str()
        .or(actor["token_id"].as_str())
        .unwrap_or("-");
    let who = match (
        actor["user"].as_str(),
        actor["role"].as_str(),
        actor["attempted_key_id"].as_str(),
    ) {
        (Some(user), _, _) => format!("{id} ({user})"),
        (None, Some(role), _) => format!("{id} ({role})"),
        // A failed authentication under a key's id: not that key's traffic.
        (None, None, Some(tried)) => format!("- (tried {tried})"),
        (None, None, None) => id.to_owned(),
    };
    vec![
        text(&r["seq"]),
        text(&r["time"]),
        text(&r["plane"]),
        who,
        text(&r["action"]),
        text(&r["model"]),
        text(&r["decision"]),
        text(&r["reason"]),
        text(&r["status"]),
    ]
}

/// A record as the API returns it, read back into the shape [`cef`] takes.
#[derive(Deserialize)]
struct ApiRecord {
    seq: u64,
    time: String,
    leaf_hash: String,
    #[serde(flatten)]
    event: Event,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    content: Option<ContentRef>,
    #[serde(default)]
    content_stored: bool,
}

impl From<ApiRecord> for RecordView {
    fn from(r: ApiRecord) -> Self {
        RecordView {
            seq: r.seq,
            time: r.time,
            leaf_hash: r.leaf_hash,
            event: r.event,
            subject: r.subject,
            content: r.content,
            content_stored: r.content_stored,
        }
    }
}

fn render(format: ExportFormat, record: Value) -> anyhow::Result<String> {
    Ok(match format {
        ExportFormat::Jsonl => serde_json::to_string(&record)?,
        ExportFormat::Cef => {
            let api: ApiRecord = serde_json::from_value(record)
                .context("the admin API returned a record this CLI cannot read")?;
            cef(&RecordView::from(api), env!("CARGO_PKG_VERSION"))
        }
    })
}

/// How `export` pages and orders.
struct Order {
    oldest_first: bool,
    page_size: u32,
}

async fn export(
    args: &AdminArgs,
    format: ExportFormat,
    filter: &Filter,
    output: Option<&Path>,
    order: Order,
) -> anyhow::Result<()> {
    let client = AdminClient::new(args)?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(create_private(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut held: Vec<Vec<String>> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = 0u64;
    loop {
        let mut pairs = filter.pairs();
        pairs.push(("limit", order.page_size.to_string()));
        if let Some(c) = cursor.take() {
            pairs.push(("cursor", c));
        }
        let mut page = client
            .get(&format!("/admin/v1/audit{}", query(&pairs)))
            .await?;
        let records = match page["data"].take() {
            Value::Array(a) => a,
            _ => Vec::new(),
        };
        let mut lines = Vec::with_capacity(records.len());
        for record in records {
            lines.push(render(format, record)?);
        }
        total += lines.len() as u64;
        if order.oldest_first {
            held.push(lines);
        } else {
            for line in lines {
                writeln!(out, "{line}")?;
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    for page in held.into_iter().rev() {
        for line in page.into_iter().rev() {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    if let Some(path) = output {
        eprintln!("exported {total} records to {}", path.display());
    }
    Ok(())
}

fn emit_text(text: &str, output: Option<&Path>) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("saved to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

// -- tail -----------------------------------------------------------------------------

async fn tail(args: &AdminArgs, pairs: &[(&str, String)]) -> anyhow::Result<()> {
    let client = AdminClient::new(args)?;
    let mut resp = client
        .get_stream(&format!("/admin/v1/audit/stream{}", query(pairs)))
        .await?;
    let mut buf: Vec<u8> = Vec::new();
    // One listener for the whole tail: a Ctrl-C between two chunks is not lost.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let chunk = tokio::select! {
            _ = &mut interrupted => return Ok(()),
            chunk = resp.chunk() => chunk.context("the live tail broke off")?,
        };
        let Some(chunk) = chunk else {
            eprintln!("the server ended the live tail");
            return Ok(());
        };
        buf.extend_from_slice(&chunk);
        while let Some(end) = find_blank_line(&buf) {
            let block: Vec<u8> = buf.drain(..end.0 + end.1).collect();
            sse_block(args.json, &String::from_utf8_lossy(&block[..end.0]));
        }
        if buf.len() > 1 << 20 {
            anyhow::bail!("the live tail sent an event over 1 MiB");
        }
    }
}

/// Where the first SSE event ends: (its length, the separator's length).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn sse_block(json: bool, block: &str) {
    let mut event = "message";
    let mut data = String::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if data.is_empty() {
        return; // a heartbeat comment
    }
    match event {
        "lagged" => {
            let skipped: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
            eprintln!(
                "({} records skipped: this tail fell behind; search for them with `palisade audit search`)",
                text(&skipped["skipped"])
            );
        }
        _ if json => println!("{data}"),
        _ => match serde_json::from_str::<Value>(&data) {
            Ok(record) => println!("{}", row(&record).join("  ")),
            Err(_) => println!("{data}"),
        },
    }
}

// -- helpers --------------------------------------------------------------------------

fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", url_component(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://data/p.db"),
            Some(PathBuf::from("data/p.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///abs/p.db?mode=rwc"),
            Some(PathBuf::from("/abs/p.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    #[test]
    fn query_strings_escape_values() {
        let q = query(&[
            ("since", "2025-01-01T00:00:00+01:00".into()),
            ("actor", "a b".into()),
        ]);
        assert_eq!(q, "?since=2025-01-01T00%3A00%3A00%2B01%3A00&actor=a%20b");
        assert_eq!(query(&[]), "");
    }

    #[test]
    fn sse_events_split_on_blank_lines() {
        assert_eq!(find_blank_line(b"data: x\n\nrest"), Some((7, 2)));
        assert_eq!(find_blank_line(b"data: x\r\n\r\n"), Some((7, 4)));
        assert_eq!(find_blank_line(b"data: x\n"), None);
    }

    #[test]
    fn api_records_read_back_for_cef() {
        let record = serde_json::json!({
            "seq": 3, "time": "2025-01-01T00:00:00Z", "leaf_hash": "00",
            "time_us": 1_735_689_600_000_000_i64, "request_id": "r1", "plane": "admin",
            "actor": {"token_id": "bootstrap", "role": "admin"}, "action": "GET /admin/v1/users",
            "decision": "allow", "reason": "ok", "status": 200, "stream": false,
            "latency_ms": 1.5, "overhead_ms": 0.0, "content_stored": false
        });
        let line = render(ExportFormat::Cef, record).unwrap();
        assert!(line.starts_with("CEF:0|Palisade|Palisade|"), "{line}");
        assert!(line.contains("suid=bootstrap"), "{line}");
    }
}
