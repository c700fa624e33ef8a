//! The live tail of the audit log (`GET /admin/v1/audit/stream`, SSE): every committed
//! record, in sequence order, filtered by actor, model, decision and plane. Records this
//! instance commits arrive through the ledger's broadcast; records other instances
//! sharing the store commit (and any this reader fell behind on) are read from the store
//! when a gap in the sequence shows, and at least every [`POLL`], so a reader behind a
//! load balancer sees the whole log, not one instance's share of it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use palisade_audit::export::RecordView;
use palisade_audit::ledger::Appended;
use palisade_audit::record::{Header, hex, unhex};
use palisade_audit::store::AuditStore;
use palisade_policy::authz::AdminAction;
use tokio::sync::{broadcast, watch};

use super::audit::{Params, decision_param, ledger, params, plane_param, text_param};
use crate::auth::Admin;
use crate::error::AdminError;
use crate::state::AdminState;

/// How often an idle live tail sends a comment line.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How often an open audit tail re-checks its caller's token and permission.
const RECHECK: Duration = Duration::from_secs(5);
/// How often the tail looks in the store for records other instances committed.
const POLL: Duration = Duration::from_secs(1);
/// Most records read from the store at once.
const PAGE: u32 = 500;

/// Tells live tails that the server is stopping, so graceful shutdown does not wait for
/// them (see [`crate::router_with_shutdown`]).
#[derive(Clone, Debug)]
pub struct StreamShutdown(pub watch::Receiver<bool>);

/// Live-tail filters: every given one must match.
#[derive(Debug, Default)]
struct TailFilter {
    actor: Option<String>,
    model: Option<String>,
    decision: Option<String>,
    plane: Option<String>,
}

impl TailFilter {
    fn matches(&self, a: &Appended) -> bool {
        let e = &a.header.event;
        self.actor.as_ref().is_none_or(|want| {
            [&e.actor.key_id, &e.actor.token_id, &e.actor.user]
                .into_iter()
                .any(|id| id.as_deref() == Some(want.as_str()))
        }) && self
            .model
            .as_ref()
            .is_none_or(|m| e.model.as_deref() == Some(m.as_str()))
            && self
                .decision
                .as_ref()
                .is_none_or(|d| e.decision.as_str() == d)
            && self.plane.as_ref().is_none_or(|p| e.plane.as_str() == p)
    }
}

struct Tail {
    rx: broadcast::Receiver<Arc<Appended>>,
    store: Arc<dyn AuditStore>,
    /// The sequence number of the next record to deliver.
    next_seq: u64,
    /// Records in order, ready to go out (before the filter).
    ready: VecDeque<Arc<Appended>>,
    /// A broadcast record waiting for the records before it to be read from the store.
    waiting: Option<Arc<Appended>>,
    shutdown: Option<watch::Receiver<bool>>,
    filter: TailFilter,
    /// The caller, re-checked every [`RECHECK`]: a revoked token or a policy that no
    /// longer allows reading the audit log ends the stream.
    caller: (Arc<AdminState>, Admin),
    recheck: tokio::time::Interval,
    poll: tokio::time::Interval,
}

enum Next {
    Record(Arc<Appended>),
    /// Records that could not be read (the store failing): skipped, search finds them.
    Lagged(u64),
    End,
}

impl Tail {
    async fn next(&mut self) -> Next {
        loop {
            if let Some(a) = self.ready.pop_front() {
                if self.filter.matches(&a) {
                    return Next::Record(a);
                }
                continue;
            }
            if let Some(a) = self.waiting.take() {
                if a.seq > self.next_seq {
                    // Records committed elsewhere (or missed) come first.
                    let gap = a.seq - self.next_seq;
                    let read = self.read_store(a.seq).await;
                    self.waiting = Some(a);
                    if read == 0 {
                        // The store failed, or does not hold them (yet): go on without.
                        self.next_seq += gap;
                        return Next::Lagged(gap);
                    }
                } else if a.seq == self.next_seq {
                    self.next_seq += 1;
                    self.ready.push_back(a);
                }
                continue;
            }
            let stop = async {
                match self.shutdown.as_mut() {
                    // Ends on shutdown, or if the server dropped the signal's sender.
                    Some(stop) => {
                        let _ = stop.wait_for(|s| *s).await;
                    }
                    None => std::future::pending().await,
                }
            };
            let received = tokio::select! {
                biased;
                () = stop => return Next::End,
                _ = self.recheck.tick() => {
                    let (state, admin) = &self.caller;
                    if !admin.still_allowed(state, AdminAction::ReadAudit).await {
                        return Next::End;
                    }
                    continue;
                }
                _ = self.poll.tick() => {
                    if let Ok(size) = self.store.size().await
                        && size > self.next_seq
                    {
                        self.read_store(size).await;
                    }
                    continue;
                }
                r = self.rx.recv() => r,
            };
            match received {
                Ok(a) => self.waiting = Some(a),
                // Whatever was missed is read from the store when the next record shows
                // the gap.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Next::End,
            }
        }
    }

    /// Reads up to [`PAGE`] records from `next_seq` (and before `until`) from the store
    /// into `ready`; returns how many (0 when the store could not be read).
    async fn read_store(&mut self, until: u64) -> u64 {
        let from = self.next_seq;
        let limit = u32::try_from(until - from).map_or(PAGE, |n| n.min(PAGE));
        let Ok(records) = self.store.records(from, limit).await else {
            return 0;
        };
        for r in records {
            if r.seq != self.next_seq || r.seq >= until {
                break;
            }
            self.next_seq += 1;
            if let Ok(header) = Header::from_bytes(&r.header) {
                self.ready.push_back(Arc::new(Appended {
                    seq: r.seq,
                    leaf_hash: hex(&r.leaf_hash),
                    header,
                }));
            }
        }
        self.next_seq - from
    }
}

fn sse_record(a: &Appended) -> SseEvent {
    let leaf = unhex(&a.leaf_hash).unwrap_or_default();
    let view = RecordView::new(a.header.clone(), &leaf, a.header.content.is_some());
    let data = serde_json::to_string(&view).unwrap_or_default();
    SseEvent::default().id(a.seq.to_string()).data(data)
}

/// `GET /admin/v1/audit/stream`: records as they are committed (`data: <record JSON>`),
/// filtered by `actor`, `model`, `decision` and `plane`; a comment line every 15 s; an
/// `event: lagged` (`{"skipped": n}`) when records could not be read (the store
/// failing). Ends when the server shuts down, or within 5 s of the caller's token being
/// revoked or a policy no longer allowing it to read the audit log.
pub async fn stream(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    shutdown: Option<Extension<StreamShutdown>>,
    q: Params,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AdminError> {
    admin.require(&state, AdminAction::ReadAudit)?;
    let ledger = ledger(&state)?;
    let map = params(q, &["actor", "model", "decision", "plane"])?;
    let filter = TailFilter {
        actor: text_param(&map, "actor")?,
        model: text_param(&map, "model")?,
        decision: decision_param(&map)?,
        plane: plane_param(&map)?,
    };
    // Subscribed before the size is read: a record committed in between arrives through
    // both, and the sequence check delivers it once.
    let rx = ledger.subscribe();
    let store = Arc::clone(ledger.store());
    let next_seq = store.size().await?;
    let interval = |every: Duration| {
        let mut t = tokio::time::interval(every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t.reset(); // the first tick one interval from now
        t
    };
    let tail = Tail {
        rx,
        store,
        next_seq,
        ready: VecDeque::new(),
        waiting: None,
        shutdown: shutdown.map(|Extension(StreamShutdown(rx))| rx),
        filter,
        caller: (Arc::clone(&state), admin.detached()),
        recheck: interval(RECHECK),
        poll: interval(POLL),
    };
    let events = futures::stream::unfold(tail, |mut tail| async move {
        let event = match tail.next().await {
            Next::Record(a) => sse_record(&a),
            Next::Lagged(n) => SseEvent::default()
                .event("lagged")
                .data(serde_json::json!({ "skipped": n }).to_string()),
            Next::End => return None,
        };
        Some((Ok(event), tail))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}
