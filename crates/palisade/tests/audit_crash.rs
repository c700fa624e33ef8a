//! The audit ledger survives crashes: under concurrent load (chats, streams and
//! refusals) the gateway is killed with SIGKILL at a random moment, restarted on the same
//! store and audit keys, four times over, then stopped gracefully. Every response a
//! client received in full (status and whole body; for a stream, up to `[DONE]`) has
//! exactly one audit record with the status the client saw — strict durability commits
//! the record before the response is completed — records written before a crash are
//! still there unchanged after it (the log only grows), and the whole log verifies
//! against the ledger's public key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Gateway, say_hi, user_message};
use futures::StreamExt;
use palisade_audit::checkpoint::NoteVerifier;
use palisade_audit::export::RecordView;
use serde_json::json;

/// Checkpoints are signed often, so crashes land between them and the verifier checks
/// many signed heads.
const MODELS: &str = r#"
[audit]
checkpoint_every = 64
[[providers]]
name = "sim"
kind = "simulated"
reply = "short answer"
[[providers]]
name = "streamer"
kind = "simulated"
chunk_interval_ms = 10
reply = "one two three four five six seven eight"
[[models]]
name = "sim"
provider = "sim"
[[models]]
name = "streamer"
provider = "streamer"
"#;

const ROUNDS: usize = 4;
const CLIENTS: usize = 8;
/// Responses each killed round waits for before its random stop: enough for several
/// signed checkpoints over the whole test.
const PER_ROUND: usize = 80;

/// A response the client received in full.
#[derive(Debug, Clone)]
struct Received {
    request_id: String,
    status: u16,
    stream: bool,
}

/// A random number in `0..n` without a `rand` dependency.
fn random_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish() % n
}

/// One client: sends requests until the gateway stops answering, and notes every
/// response it received completely.
async fn client_loop(
    http: reqwest::Client,
    base: String,
    key: String,
    client: usize,
    received: Arc<Mutex<Vec<Received>>>,
) {
    for i in 0usize.. {
        let kind = (client + i) % 7;
        let (bearer, body) = match kind {
            // A refusal: failed authentication.
            3 => (
                "pal_nosuchkeyid_notavalidsecret0123456789".to_owned(),
                say_hi("sim"),
            ),
            // A refusal: unknown model.
            5 => (key.clone(), say_hi("no-such-model")),
            1 | 4 => (
                key.clone(),
                json!({"model": "streamer", "messages": user_message("go"), "stream": true}),
            ),
            _ => (
                key.clone(),
                json!({"model": "sim", "messages": user_message(&format!("request {client}-{i}"))}),
            ),
        };
        let stream = body["stream"] == true;
        let Ok(resp) = http
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&bearer)
            .json(&body)
            .send()
            .await
        else {
            return;
        };
        let status = resp.status().as_u16();
        let Some(request_id) = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            panic!("a response without x-request-id (status {status})");
        };
        let complete = if stream && status == 200 {
            let mut text = String::new();
            let mut chunks = resp.bytes_stream();
            let mut ok = true;
            while let Some(chunk) = chunks.next().await {
                match chunk {
                    Ok(c) => text.push_str(&String::from_utf8_lossy(&c)),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            ok && text.contains("data: [DONE]")
        } else {
            resp.bytes().await.is_ok()
        };
        if !complete {
            return;
        }
        received.lock().unwrap().push(Received {
            request_id,
            status,
            stream,
        });
    }
}

/// Runs the load against `gw` until it has answered [`PER_ROUND`] more responses (however
/// loaded the machine), then for a random 0–1.2 s more, and kills the gateway with SIGKILL
/// (or, when `graceful`, stops it with SIGTERM after a short load).
async fn round(gw: &mut Gateway, key: &str, graceful: bool, received: &Arc<Mutex<Vec<Received>>>) {
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        tasks.push(tokio::spawn(client_loop(
            gw.http.clone(),
            gw.base.clone(),
            key.to_owned(),
            client,
            Arc::clone(received),
        )));
    }
    let run = if graceful {
        Duration::from_millis(300)
    } else {
        let target = received.lock().unwrap().len() + PER_ROUND;
        let deadline = Instant::now() + Duration::from_secs(30);
        while received.lock().unwrap().len() < target {
            assert!(Instant::now() < deadline, "the load got too few answers");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Duration::from_millis(random_below(1200))
    };
    tokio::time::sleep(run).await;
    if graceful {
        // Let the load see connection errors only after the drain: stop it first.
        for t in &tasks {
            t.abort();
        }
        assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
    } else {
        gw.kill9();
    }
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(30), t).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.is_cancelled() => {}
            Ok(Err(e)) => panic!("client task failed: {e}"),
            Err(_) => panic!("a client did not notice the gateway stopped within 30 s"),
        }
    }
}

/// The leaf hashes of every record in the store at `url` (the gateway is not running).
async fn leaves(url: &str) -> Vec<[u8; 32]> {
    let store = palisade_store::connect(url, 1).await.unwrap();
    let size = store.audit.size().await.unwrap();
    let leaves = store.audit.leaf_hashes(0, size).await.unwrap();
    store.close().await;
    assert_eq!(leaves.len() as u64, size);
    leaves
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_received_response_survives_kill_9_and_the_log_verifies() {
    let test_started = Instant::now();
    let received = Arc::new(Mutex::new(Vec::new()));
    let mut dir = tempfile::tempdir().unwrap();
    let mut key = String::new();
    let mut before: Vec<[u8; 32]> = Vec::new();
    for n in 0..=ROUNDS {
        let mut gw = Gateway::start_with(dir, "", MODELS, "http", http()).await;
        let url = gw.sqlite_url();
        if key.is_empty() {
            key = gw.key_for("loader", &["load"]).await;
        }
        let graceful = n == ROUNDS;
        round(&mut gw, &key, graceful, &received).await;
        let log = gw.logs();
        let round_log = gw.dir.path().join(format!("gateway-round-{n}.log"));
        std::fs::write(&round_log, &log).unwrap();
        dir = gw.into_dir();

        // What was committed before this crash is still there, unchanged.
        let now = leaves(&url).await;
        assert!(
            now.len() >= before.len(),
            "round {n}: the log shrank from {} to {} records",
            before.len(),
            now.len()
        );
        assert_eq!(
            now[..before.len()],
            before[..],
            "round {n}: records committed before the crash changed"
        );
        assert!(
            now.len() > before.len(),
            "round {n}: the load produced no records; log:\n{log}"
        );
        before = now;
    }

    let received = received.lock().unwrap().clone();
    let url = format!("sqlite://{}", dir.path().join("palisade.db").display());
    let store = palisade_store::connect(&url, 2).await.unwrap();
    let mut by_request: HashMap<String, Vec<RecordView>> = HashMap::new();
    let mut from = 0;
    loop {
        let page = store.audit.records(from, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        for r in &page {
            let view = RecordView::from_stored(r).expect("every header parses");
            by_request
                .entry(view.event.request_id.clone())
                .or_default()
                .push(view);
        }
    }
    assert!(received.len() > 50, "too little load: {}", received.len());
    assert!(
        received.iter().any(|r| r.stream) && received.iter().any(|r| r.status >= 400),
        "the load has streams and refusals"
    );
    for r in &received {
        let records = by_request
            .get(&r.request_id)
            .unwrap_or_else(|| panic!("no audit record for a received response: {r:?}"));
        assert_eq!(records.len(), 1, "exactly one record for {r:?}");
        let e = &records[0].event;
        assert_eq!(e.status, r.status, "{r:?}");
        assert_eq!(e.stream, r.stream && r.status == 200, "{r:?}");
        match r.status {
            200 => assert_eq!((e.decision.as_str(), e.reason.as_str()), ("allow", "ok")),
            401 => assert_eq!(e.reason, "invalid_api_key"),
            404 => assert_eq!(e.reason, "model_not_found"),
            other => panic!("unexpected status {other} for {r:?}"),
        }
    }

    // The whole log verifies, every signed checkpoint included; the graceful stop
    // signed the tail.
    let public = std::fs::read_to_string(dir.path().join("palisade-audit.key.pub")).unwrap();
    let verifier = NoteVerifier::parse(public.trim()).unwrap();
    let report = palisade_audit::verify::verify(store.audit.clone(), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.records, before.len() as u64);
    assert_eq!(report.unsigned_tail, 0, "{report:#?}");
    assert!(report.checkpoints_verified >= 5, "{report:#?}");
    store.close().await;
    // And so does the operator's command, run on the stopped store.
    let (code, out) = common::audit_verify_cli(&url, &dir.path().join("palisade-audit.key.pub"));
    assert_eq!(code, Some(0), "palisade audit verify:\n{out}");
    assert!(
        test_started.elapsed() < Duration::from_secs(120),
        "bounded: {:?}",
        test_started.elapsed()
    );
}
