//! Record views for people and SIEMs: [`RecordView`] (the JSON shape of the admin API and
//! of `audit export --format jsonl`) and [`cef`] (ArcSight Common Event Format, one line
//! per record, which Splunk, QRadar, Sentinel and most SIEMs ingest). Content is never
//! part of an export; only whether a record has it.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::event::{Decision, Event, Plane};
use crate::record::{ContentRef, Header, StoredRecord, hex};

/// One record as the admin API and exports show it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub seq: u64,
    /// RFC 3339, UTC, microseconds.
    pub time: String,
    pub leaf_hash: String,
    #[serde(flatten)]
    pub event: Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentRef>,
    /// Whether the ciphertext is still stored (retention removes it).
    pub content_stored: bool,
}

impl RecordView {
    /// `None` if the header does not parse (`audit verify` reports such records).
    pub fn from_stored(record: &StoredRecord) -> Option<RecordView> {
        let header = Header::from_bytes(&record.header).ok()?;
        Some(RecordView::new(
            header,
            &record.leaf_hash,
            record.content.is_some(),
        ))
    }

    pub fn new(header: Header, leaf_hash: &[u8], content_stored: bool) -> RecordView {
        RecordView {
            seq: header.seq,
            time: format_time(header.event.time_us),
            leaf_hash: hex(leaf_hash),
            event: header.event,
            subject: header.subject,
            content: header.content,
            content_stored,
        }
    }
}

/// RFC 3339, UTC, always six fractional digits (fixed width, so text order is time order).
pub fn format_time(time_us: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_us) * 1000)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_default()
}

/// Parses RFC 3339 into Unix microseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

fn severity(e: &Event) -> u8 {
    match (e.decision, e.reason.as_str()) {
        (Decision::Allow, _) => 1,
        (Decision::Error, _) => 3,
        (Decision::Limit, _) => 4,
        (Decision::Deny, "invalid_api_key" | "invalid_admin_token") => 7,
        (Decision::Deny | Decision::Block, _) => 6,
    }
}

fn escape_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

fn escape_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// One CEF line (no trailing newline).
pub fn cef(view: &RecordView, version: &str) -> String {
    let e = &view.event;
    let plane = match e.plane {
        Plane::Data => "data",
        Plane::Admin => "admin",
    };
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", (e.time_us / 1000).to_string()),
        ("act", e.decision.as_str().to_owned()),
        ("reason", e.reason.clone()),
        ("outcome", e.status.to_string()),
        ("cn1Label", "seq".into()),
        ("cn1", view.seq.to_string()),
        ("cs2Label", "requestId".into()),
        ("cs2", e.request_id.clone()),
    ];
    if let Some(ip) = &e.client_ip {
        ext.push(("src", ip.clone()));
    }
    if let Some(user) = &e.actor.user {
        ext.push(("suser", user.clone()));
    }
    ext.push(("suid", e.actor.primary().to_owned()));
    if let Some(attempted) = &e.actor.attempted_key_id {
        ext.push(("cs5Label", "attemptedKeyId".into()));
        ext.push(("cs5", attempted.clone()));
    }
    if let Some(role) = &e.actor.role {
        ext.push(("spriv", role.clone()));
    }
    if let Some(ua) = &e.user_agent {
        ext.push(("requestClientApplication", ua.clone()));
    }
    if let Some(model) = &e.model {
        ext.push(("cs1Label", "model".into()));
        ext.push(("cs1", model.clone()));
    }
    if !e.policies.is_empty() {
        ext.push(("cs3Label", "policies".into()));
        ext.push(("cs3", e.policies.join(",")));
    }
    if !e.findings.is_empty() {
        // Each kind once, in first-seen order (a prompt with three injections is one kind).
        let mut kinds: Vec<&str> = Vec::new();
        for f in &e.findings {
            if !kinds.contains(&f.kind.as_str()) {
                kinds.push(f.kind.as_str());
            }
        }
        ext.push(("cs4Label", "findings".into()));
        ext.push(("cs4", kinds.join(",")));
    }
    if let Some(u) = &e.usage {
        ext.push(("cn2Label", "totalTokens".into()));
        ext.push(("cn2", u.total_tokens.to_string()));
    }
    if let Some(status) = e.upstream_status {
        ext.push(("cn3Label", "upstreamStatus".into()));
        ext.push(("cn3", status.to_string()));
    }
    let ext: Vec<String> = ext
        .into_iter()
        .map(|(k, v)| format!("{k}={}", escape_value(&v)))
        .collect();
    format!(
        "CEF:0|Palisade|Palisade|{}|{}.{}|{}|{}|{}",
        escape_header(version),
        plane,
        e.decision.as_str(),
        escape_header(&e.action),
        severity(e),
        ext.join(" ")
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::record::HEADER_VERSION;

    #[test]
    fn cef_escapes_separators_and_carries_the_key_fields() {
        let mut event = Event::new(Plane::Data, "req|1", "chat.completions");
        event.time_us = 1_700_000_000_000_000;
        event.decision = Decision::Deny;
        event.reason = "access_denied".into();
        event.status = 403;
        event.model = Some("gpt=4".into());
        event.client_ip = Some("10.0.0.1".into());
        event.actor.user = Some("alice".into());
        event.actor.key_id = Some("key_1".into());
        let finding = |kind: &str| crate::event::Finding {
            kind: kind.into(),
            detector: "d".into(),
            score: 0.9,
            location: "input".into(),
            start: 0,
            end: 1,
            action: "block".into(),
        };
        event.findings = vec![
            finding("prompt_injection"),
            finding("email"),
            finding("prompt_injection"),
        ];
        let header = Header {
            v: HEADER_VERSION,
            seq: 7,
            prev: String::new(),
            event,
            subject: None,
            content: None,
            mac: None,
        };
        let line = cef(&RecordView::new(header, &[0; 32], false), "0.1.0");
        assert!(line.starts_with("CEF:0|Palisade|Palisade|0.1.0|data.deny|chat.completions|6|"));
        assert!(line.contains("cs1=gpt\\=4"));
        assert!(line.contains("cs2=req|1"));
        assert!(line.contains("suser=alice suid=key_1"));
        assert!(line.contains("rt=1700000000000"));
        assert!(line.ends_with("cs4=prompt_injection,email"), "{line}");

        // An attempt under a key's id is not that key's traffic: the source user id stays
        // empty and the id tried has a field of its own.
        let mut attempt = Event::new(Plane::Data, "req_2", "chat.completions");
        attempt.decision = Decision::Deny;
        attempt.actor.attempted_key_id = Some("key_9".into());
        let header = Header {
            v: HEADER_VERSION,
            seq: 8,
            prev: String::new(),
            event: attempt,
            subject: None,
            content: None,
            mac: None,
        };
        let line = cef(&RecordView::new(header, &[0; 32], false), "0.1.0");
        assert!(
            line.contains("suid=- cs5Label=attemptedKeyId cs5=key_9"),
            "{line}"
        );
        assert_eq!(
            format_time(1_700_000_000_000_001),
            "2023-11-14T22:13:20.000001Z"
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.000001Z"),
            Some(1_700_000_000_000_001)
        );
    }
}
