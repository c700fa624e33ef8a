//! The facts of one question ([`ModelAttrs`], [`RequestFacts`], [`Clock`]) and the Cedar
//! `context` built from them. Entities are built in `entities.rs`.

use std::cell::RefCell;
use std::net::IpAddr;

use cedar_policy::{Context, PolicySet, RestrictedExpression};
use serde::{Deserialize, Serialize};

use super::cache::{Memo, memoized};

/// A model as policies see it (`Palisade::Model::"<name>"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelAttrs {
    /// The public model name (the entity id).
    pub name: String,
    pub provider: String,
    pub tier: String,
    pub labels: Vec<String>,
    /// `active`, `quarantined` or `retired`.
    pub status: String,
}

/// The per-request context of a data-plane question.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// Tokens the request is expected to use (0 for `list_models`).
    pub estimated_tokens: u64,
    pub stream: bool,
    pub client_ip: Option<IpAddr>,
    /// The caller's declared purpose (e.g. from an `x-palisade-purpose` header).
    pub purpose: Option<String>,
    /// The public id of the API key used; never the secret.
    pub api_key: String,
    pub now_unix: i64,
}

/// The request time as policies see it in `context.time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Clock {
    /// Seconds since the unix epoch (UTC, not shifted).
    pub unix: i64,
    /// 0..=23 at the configured UTC offset.
    pub hour: i64,
    /// 0..=59 at the configured UTC offset.
    pub minute: i64,
    /// 0 = Monday ... 6 = Sunday at the configured UTC offset.
    pub weekday: i64,
}

impl Clock {
    /// The wall clock at `utc_offset_minutes` from UTC.
    pub fn at(now_unix: i64, utc_offset_minutes: i32) -> Clock {
        let local = now_unix.saturating_add(i64::from(utc_offset_minutes) * 60);
        let days = local.div_euclid(86_400);
        let second_of_day = local.rem_euclid(86_400);
        Clock {
            unix: now_unix,
            hour: second_of_day / 3600,
            minute: second_of_day % 3600 / 60,
            // 1970-01-01 was a Thursday (3 when Monday is 0).
            weekday: (days + 3).rem_euclid(7),
        }
    }

    fn to_expr(self) -> Result<RestrictedExpression, String> {
        RestrictedExpression::new_record([
            ("unix".to_owned(), RestrictedExpression::new_long(self.unix)),
            ("hour".to_owned(), RestrictedExpression::new_long(self.hour)),
            (
                "minute".to_owned(),
                RestrictedExpression::new_long(self.minute),
            ),
            (
                "weekday".to_owned(),
                RestrictedExpression::new_long(self.weekday),
            ),
        ])
        .map_err(|e| format!("request context: {e}"))
    }
}

/// An IP as a Cedar `ip("...")` literal. IPv4-mapped IPv6 addresses become IPv4 (so
/// IPv4 ranges match on dual-stack listeners); IPv6 is written as eight hex groups,
/// which Cedar always accepts.
fn ip_expr(ip: IpAddr) -> RestrictedExpression {
    match ip.to_canonical() {
        IpAddr::V4(v4) => RestrictedExpression::new_ip(v4.to_string()),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            RestrictedExpression::new_ip(format!(
                "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
            ))
        }
    }
}

thread_local! {
    static IPS: RefCell<Memo<IpAddr, RestrictedExpression>> = RefCell::new(Memo::new(IP_CAPACITY));
}

/// Remembered IP literals per thread (building one parses Cedar's `ip` name each time).
const IP_CAPACITY: usize = 1024;

fn remembered_ip(ip: IpAddr) -> RestrictedExpression {
    let built: Result<_, std::convert::Infallible> =
        memoized(&IPS, &ip, |k| *k == ip, || Ok((ip, ip_expr(ip))));
    match built {
        Ok(expr) => expr,
        Err(never) => match never {},
    }
}

/// Which context attributes the policies of a set can observe. Under strict validation
/// a policy reads a context attribute only by naming it, so an attribute no policy names
/// is left out of the context: cheaper, and invisible to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContextUse {
    pub estimated_tokens: bool,
    pub stream: bool,
    pub client_ip: bool,
    pub purpose: bool,
    pub api_key: bool,
    pub time: bool,
}

impl ContextUse {
    pub const ALL: ContextUse = ContextUse {
        estimated_tokens: true,
        stream: true,
        client_ip: true,
        purpose: true,
        api_key: true,
        time: true,
    };

    /// Looks for each name as a string in the policies' parsed (JSON) form, where every
    /// attribute access appears as its decoded name; everything counts as used if a
    /// policy cannot be converted.
    pub fn of(policies: &PolicySet) -> ContextUse {
        let mut text = String::new();
        for policy in policies.policies() {
            match policy.to_json() {
                Ok(json) => text.push_str(&json.to_string()),
                Err(_) => return ContextUse::ALL,
            }
        }
        let named = |name: &str| text.contains(&format!("\"{name}\""));
        ContextUse {
            estimated_tokens: named("estimated_tokens"),
            stream: named("stream"),
            client_ip: named("client_ip"),
            purpose: named("purpose"),
            api_key: named("api_key"),
            time: named("time"),
        }
    }
}

/// `context` of a data-plane question, with the attributes `uses` names.
pub(crate) fn data_context(
    facts: &RequestFacts,
    utc_offset_minutes: i32,
    uses: ContextUse,
) -> Result<Context, String> {
    let mut pairs = Vec::with_capacity(6);
    if uses.estimated_tokens {
        let tokens = i64::try_from(facts.estimated_tokens).unwrap_or(i64::MAX);
        pairs.push((
            "estimated_tokens".to_owned(),
            RestrictedExpression::new_long(tokens),
        ));
    }
    if uses.stream {
        pairs.push((
            "stream".to_owned(),
            RestrictedExpression::new_bool(facts.stream),
        ));
    }
    if uses.api_key {
        let api_key = RestrictedExpression::new_string(facts.api_key.clone());
        pairs.push(("api_key".to_owned(), api_key));
    }
    if uses.time {
        let clock = Clock::at(facts.now_unix, utc_offset_minutes).to_expr()?;
        pairs.push(("time".to_owned(), clock));
    }
    if let Some(ip) = facts.client_ip.filter(|_| uses.client_ip) {
        pairs.push(("client_ip".to_owned(), remembered_ip(ip)));
    }
    if let Some(purpose) = facts.purpose.as_ref().filter(|_| uses.purpose) {
        let purpose = RestrictedExpression::new_string(purpose.clone());
        pairs.push(("purpose".to_owned(), purpose));
    }
    context(pairs)
}

/// `context` of an admin question, with the attributes `uses` names.
pub(crate) fn admin_context(
    client_ip: Option<IpAddr>,
    now_unix: i64,
    utc_offset_minutes: i32,
    uses: ContextUse,
) -> Result<Context, String> {
    let mut pairs = Vec::with_capacity(2);
    if uses.time {
        pairs.push((
            "time".to_owned(),
            Clock::at(now_unix, utc_offset_minutes).to_expr()?,
        ));
    }
    if let Some(ip) = client_ip.filter(|_| uses.client_ip) {
        pairs.push(("client_ip".to_owned(), remembered_ip(ip)));
    }
    context(pairs)
}

fn context(pairs: Vec<(String, RestrictedExpression)>) -> Result<Context, String> {
    if pairs.is_empty() {
        return Ok(Context::empty());
    }
    Context::from_pairs(pairs).map_err(|e| format!("request context: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shifts_hour_and_weekday_by_the_offset() {
        // 2024-01-01 (a Monday) 00:30 UTC.
        let t = 1_704_069_000;
        assert_eq!(
            Clock::at(t, 0),
            Clock {
                unix: t,
                hour: 0,
                minute: 30,
                weekday: 0
            }
        );
        // UTC-1: still Sunday evening.
        assert_eq!(
            Clock::at(t, -60),
            Clock {
                unix: t,
                hour: 23,
                minute: 30,
                weekday: 6
            }
        );
        // UTC+5:45 (Nepal).
        assert_eq!(
            Clock::at(t, 345),
            Clock {
                unix: t,
                hour: 6,
                minute: 15,
                weekday: 0
            }
        );
        // Before the epoch: 1969-12-31 (Wednesday) 23:00.
        assert_eq!(
            Clock::at(-3600, 0),
            Clock {
                unix: -3600,
                hour: 23,
                minute: 0,
                weekday: 2
            }
        );
    }

    #[test]
    fn context_use_sees_every_way_of_naming_an_attribute() {
        use std::str::FromStr;
        let uses = |src: &str| ContextUse::of(&PolicySet::from_str(src).expect("parses"));
        let none = ContextUse {
            estimated_tokens: false,
            stream: false,
            client_ip: false,
            purpose: false,
            api_key: false,
            time: false,
        };
        // Comments and other words do not count; annotations and strings do (harmless).
        assert_eq!(
            uses("// time, stream\npermit (principal, action, resource);"),
            none
        );
        assert_eq!(
            uses(r#"permit (principal, action, resource) when { context.time.hour > 1 };"#),
            ContextUse { time: true, ..none }
        );
        assert_eq!(
            uses(r#"permit (principal, action, resource) when { context["ti\u{6d}e"].hour > 1 };"#),
            ContextUse { time: true, ..none }
        );
        assert_eq!(
            uses(r#"permit (principal, action, resource) when { context has purpose };"#),
            ContextUse {
                purpose: true,
                ..none
            }
        );
        assert_eq!(uses(crate::authz::DEFAULT_POLICIES), none);
    }

    #[test]
    fn ip_literals_are_ones_cedar_accepts() {
        for ip in [
            "10.1.2.3",
            "::1",
            "2001:db8::1",
            "::ffff:192.0.2.7",
            "::192.0.2.7",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            let ctx = Context::from_pairs([("ip".to_owned(), ip_expr(ip))]);
            assert!(ctx.is_ok(), "{ip}: {ctx:?}");
        }
    }
}
