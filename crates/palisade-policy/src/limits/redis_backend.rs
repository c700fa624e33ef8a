//! The shared backend: buckets in Redis, changed only by two Lua scripts (`lua/admit.lua`
//! and `lua/ops.lua`), each one `EVALSHA` (loaded on first use), so an admission across
//! all its buckets is atomic and instances sharing a Redis count together.
//!
//! The connection is a lazily connecting [`ConnectionManager`] that reconnects by itself;
//! every call is bounded by the backend timeout, so an unreachable Redis costs at most
//! that long per request, never a hang. Keys are `{prefix}{bucket}` with TTLs: idle
//! buckets expire on their own.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};
use thiserror::Error;

use super::clock::MICROS_PER_SEC;
use super::outcome::Verdict;
use super::plan::{Check, Kind, Op, WINDOW_GRACE_MICROS};
use super::rule::LimitError;

const ADMIT_LUA: &str = include_str!("lua/admit.lua");
const OPS_LUA: &str = include_str!("lua/ops.lua");

/// Why Redis did not answer usefully.
#[derive(Debug, Error)]
pub(crate) enum BackendError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Redis(#[from] RedisError),
    #[error("unexpected reply from the admit script: {0}")]
    Reply(String),
}

pub(crate) struct RedisBackend {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    lease_ttl: Duration,
    admit: Script,
    ops: Script,
}

impl RedisBackend {
    /// Prepares the connection without connecting: a Redis that is down at startup is
    /// the fail mode's business, like one that goes down later. Only a malformed URL
    /// fails here.
    pub fn new(
        url: &str,
        prefix: &str,
        timeout: Duration,
        lease_ttl: Duration,
    ) -> Result<RedisBackend, LimitError> {
        let client = Client::open(url).map_err(|e| LimitError::RedisConfig(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| LimitError::RedisConfig(e.to_string()))?;
        Ok(RedisBackend {
            conn,
            prefix: prefix.to_owned(),
            timeout,
            lease_ttl,
            admit: Script::new(ADMIT_LUA),
            ops: Script::new(OPS_LUA),
        })
    }

    /// Runs the admit script over every check.
    pub async fn admit(
        &self,
        checks: &[Check],
        now: u64,
        lease: &str,
    ) -> Result<Verdict, BackendError> {
        let lease_ttl_us = u64::try_from(self.lease_ttl.as_micros()).unwrap_or(u64::MAX);
        let mut call = self.admit.prepare_invoke();
        call.arg(now)
            .arg(lease)
            .arg(now.saturating_add(lease_ttl_us))
            .arg(millis(lease_ttl_us));
        for check in checks {
            let kind: u8 = match check.kind {
                Kind::Requests | Kind::Tokens => 1,
                Kind::Budget { .. } => 2,
                Kind::Concurrent => 3,
            };
            let ttl = counter_ttl(check.window_end, now);
            call.key(self.key(&check.key))
                .arg(kind)
                .arg(check.limit)
                .arg(check.amount)
                .arg(ttl);
        }
        let mut conn = self.conn.clone();
        let reply: Vec<String> = tokio::time::timeout(self.timeout, call.invoke_async(&mut conn))
            .await
            .map_err(|_| BackendError::Timeout(self.timeout))??;
        parse_verdict(&reply, checks.len())
    }

    /// Runs the ops script (settlement, release, renewal) for one admission.
    pub async fn apply(&self, ops: &[Op], now: u64, lease: &str) -> Result<(), BackendError> {
        if ops.is_empty() {
            return Ok(());
        }
        let lease_ttl_us = u64::try_from(self.lease_ttl.as_micros()).unwrap_or(u64::MAX);
        let mut call = self.ops.prepare_invoke();
        call.arg(now);
        for op in ops {
            match op {
                Op::Rate { key, limit, delta } => {
                    call.key(self.key(key))
                        .arg(1)
                        .arg(*limit)
                        .arg(*delta)
                        .arg(0);
                }
                Op::Counter {
                    key,
                    delta,
                    window_end,
                } => {
                    let ttl = counter_ttl(*window_end, now);
                    call.key(self.key(key)).arg(2).arg(*delta).arg(ttl).arg(0);
                }
                Op::Release { key } => {
                    call.key(self.key(key)).arg(3).arg(lease).arg(0).arg(0);
                }
                Op::Renew { key } => {
                    let expiry = now.saturating_add(lease_ttl_us);
                    call.key(self.key(key))
                        .arg(4)
                        .arg(lease)
                        .arg(expiry)
                        .arg(millis(lease_ttl_us));
                }
            }
        }
        let mut conn = self.conn.clone();
        let _: i64 = tokio::time::timeout(self.timeout, call.invoke_async(&mut conn))
            .await
            .map_err(|_| BackendError::Timeout(self.timeout))??;
        Ok(())
    }

    /// One round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let _: String =
            tokio::time::timeout(self.timeout, redis::cmd("PING").query_async(&mut conn))
                .await
                .map_err(|_| BackendError::Timeout(self.timeout))??;
        Ok(())
    }

    fn key(&self, bucket: &str) -> String {
        format!("{}{bucket}", self.prefix)
    }
}

/// A budget counter's TTL in ms: until its window ends plus grace (0 for other kinds).
fn counter_ttl(window_end: u64, now: u64) -> u64 {
    if window_end == 0 {
        return 0;
    }
    let until = window_end.saturating_add(WINDOW_GRACE_MICROS);
    millis(until.saturating_sub(now)).max(1000)
}

fn millis(micros: u64) -> u64 {
    micros.div_ceil(MICROS_PER_SEC / 1000)
}

fn parse_verdict(reply: &[String], checks: usize) -> Result<Verdict, BackendError> {
    let bad = || BackendError::Reply(format!("{reply:?}"));
    let (first, rest) = reply.split_first().ok_or_else(bad)?;
    if rest.len() != checks {
        return Err(bad());
    }
    let admitted = match first.as_str() {
        "1" => true,
        "0" => false,
        _ => return Err(bad()),
    };
    let states = rest
        .iter()
        .map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(bad)?;
    Ok(Verdict { admitted, states })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_redis_replies_parse_strictly() {
        let reply = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let verdict = parse_verdict(&reply(&["1", "3", "0.5"]), 2).unwrap();
        assert!(verdict.admitted);
        assert_eq!(verdict.states, [3.0, 0.5]);
        assert!(parse_verdict(&reply(&["1", "3"]), 2).is_err());
        assert!(parse_verdict(&reply(&["2", "3"]), 1).is_err());
        assert!(parse_verdict(&reply(&["0", "nan"]), 1).is_err());
        assert!(parse_verdict(&[], 0).is_err());
    }

    #[test]
    fn limits_counter_ttls_outlive_the_window() {
        assert_eq!(counter_ttl(0, 5), 0);
        let ttl = counter_ttl(10 * MICROS_PER_SEC, 4 * MICROS_PER_SEC);
        assert_eq!(ttl, 6000 + WINDOW_GRACE_MICROS / 1000);
        assert_eq!(counter_ttl(1, u64::MAX / 2), 1000);
    }
}
