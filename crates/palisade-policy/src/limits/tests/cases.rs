//! Behaviour every backend must show. Each case takes a fresh [`Env`] and moves its
//! clock by hand: nothing here depends on how fast the machine is.

use std::time::Duration;

use super::support::{Env, Who, admitted_eventually, alice, rpm, rule, secs};
use crate::limits::{Clock, Demand, LimitRule, ManualClock, RefusalCode, Scope, Usage};

fn used(tokens: u64) -> Usage {
    Usage {
        tokens,
        cost_micros: 0,
    }
}

/// N requests per minute pass at once, the next waits exactly one emission interval.
pub async fn requests_per_minute(env: Env) {
    let limiter = env.limiter(vec![rpm(Scope::Key, 3)]).await;
    let who = alice();
    for remaining in [2, 1, 0] {
        let admission = who.admit(&limiter, 10).await.unwrap();
        let headers = admission.headers();
        assert_eq!(headers.limit_requests, Some(3));
        assert_eq!(headers.remaining_requests, Some(remaining));
        assert_eq!(headers.limit_tokens, None);
        admission.settle(used(10)).await;
    }
    let refusal = who.admit(&limiter, 10).await.unwrap_err();
    assert_eq!(refusal.code, RefusalCode::RateLimitExceeded);
    assert_eq!(refusal.retry_after, secs(20), "{refusal:?}");
    assert_eq!(refusal.headers.remaining_requests, Some(0));
    assert_eq!(refusal.headers.reset_requests, Some(secs(60)));
    let pairs = refusal.headers.to_pairs();
    assert!(pairs.contains(&("x-ratelimit-reset-requests", "1m0s".to_owned())));

    env.advance(secs(19));
    let early = who.admit(&limiter, 10).await.unwrap_err();
    assert_eq!(early.retry_after, secs(1));
    env.advance(secs(1));
    let refilled = who.admit(&limiter, 10).await.unwrap();
    assert_eq!(refilled.headers().remaining_requests, Some(0));
    assert_eq!(refilled.headers().reset_requests, Some(secs(60)));
    assert!(who.admit(&limiter, 10).await.is_err());

    // Another key has its own bucket; a full minute later the first has all three again.
    assert!(
        Who::new("key-b", "alice", &[])
            .admit(&limiter, 1)
            .await
            .is_ok()
    );
    env.advance(secs(60));
    for _ in 0..3 {
        who.admit(&limiter, 10).await.unwrap();
    }
    assert!(who.admit(&limiter, 10).await.is_err());
}

/// Tokens are reserved at admission and corrected at settlement both ways.
pub async fn tokens_per_minute_reconcile(env: Env) {
    let tpm = LimitRule {
        tokens_per_minute: Some(1000),
        ..rule(Scope::User)
    };
    let limiter = env.limiter(vec![tpm]).await;
    let who = alice();
    let first = who.admit(&limiter, 600).await.unwrap();
    assert_eq!(first.headers().remaining_tokens, Some(400));
    assert_eq!(first.headers().limit_tokens, Some(1000));
    assert_eq!(first.headers().reset_tokens, Some(secs(36)));
    assert_eq!(first.token_allowance(), Some(1000));
    assert!(who.admit(&limiter, 500).await.is_err(), "600 + 500 > 1000");
    first.settle(used(100)).await; // over-estimated: 500 come back

    let second = who.admit(&limiter, 900).await.unwrap();
    assert_eq!(second.headers().remaining_tokens, Some(0));
    assert_eq!(second.token_allowance(), Some(900));
    second.settle(used(1000)).await; // under-estimated: 100 more are charged

    let refusal = who.admit(&limiter, 1).await.unwrap_err();
    assert_eq!(refusal.code, RefusalCode::RateLimitExceeded);
    // 1100 held, one more token must fit under 1000: 101 tokens drain in 6.06 s.
    assert_eq!(refusal.retry_after, Duration::from_millis(6060));
    assert_eq!(refusal.headers.remaining_tokens, Some(0));

    let too_big = who.admit(&limiter, 5000).await.unwrap_err();
    assert!(too_big.message.contains("more than the limit"), "{too_big}");
}

/// Daily token budgets refuse until the UTC day ends; a request that does not fit is
/// refused even while some budget is left.
pub async fn daily_budget(env: Env) {
    let daily = LimitRule {
        daily_tokens: Some(1000),
        ..rule(Scope::User)
    };
    let limiter = env.limiter(vec![daily]).await;
    let who = alice();
    who.admit(&limiter, 600)
        .await
        .unwrap()
        .settle(used(600))
        .await;
    let refusal = who.admit(&limiter, 500).await.unwrap_err();
    assert_eq!(refusal.code, RefusalCode::BudgetExceeded);
    assert_eq!(refusal.retry_after, secs(12 * 3600), "noon to midnight");
    assert!(
        refusal.headers.is_empty(),
        "budgets send no x-ratelimit headers"
    );
    let fits = who.admit(&limiter, 400).await.unwrap();
    assert_eq!(fits.token_allowance(), Some(400));
    fits.settle(used(400)).await;
    let spent = who.admit(&limiter, 1).await.unwrap_err();
    assert!(spent.message.contains("used up"), "{spent}");

    env.advance(secs(12 * 3600 - 1));
    assert_eq!(
        who.admit(&limiter, 1).await.unwrap_err().retry_after,
        secs(1)
    );
    env.advance(secs(1));
    who.admit(&limiter, 1000).await.unwrap();
}

/// Monthly budgets span days and reset on the 1st, UTC.
pub async fn monthly_budget(env: Env) {
    env.clock
        .set(ManualClock::at_utc(2025, 7, 30, 23, 0, 0).now_micros());
    let monthly = LimitRule {
        monthly_tokens: Some(100),
        ..rule(Scope::Key)
    };
    let limiter = env.limiter(vec![monthly]).await;
    let who = alice();
    who.admit(&limiter, 60)
        .await
        .unwrap()
        .settle(used(60))
        .await;
    env.advance(secs(3600)); // a new day, the same month
    who.admit(&limiter, 40)
        .await
        .unwrap()
        .settle(used(40))
        .await;
    let refusal = who.admit(&limiter, 1).await.unwrap_err();
    assert_eq!(refusal.code, RefusalCode::BudgetExceeded);
    assert_eq!(refusal.retry_after, secs(24 * 3600), "until August 1st");
    env.advance(secs(24 * 3600));
    who.admit(&limiter, 100).await.unwrap();
}

/// Cost budgets reserve the estimated cost and reconcile it like tokens.
pub async fn cost_budget(env: Env) {
    let cost = LimitRule {
        daily_cost_micros: Some(1_000_000),
        ..rule(Scope::Group)
    };
    let limiter = env.limiter(vec![cost]).await;
    let subject = alice();
    let priced = |cost_micros| Demand {
        tokens: 10,
        cost_micros,
    };
    let first = limiter
        .admit(&subject.subject(), priced(700_000))
        .await
        .unwrap();
    assert_eq!(first.cost_allowance_micros(), Some(1_000_000));
    assert_eq!(first.token_allowance(), None, "no token limit applies");
    assert!(
        limiter
            .admit(&subject.subject(), priced(400_000))
            .await
            .is_err()
    );
    first
        .settle(Usage {
            tokens: 10,
            cost_micros: 200_000,
        })
        .await;
    let second = limiter
        .admit(&subject.subject(), priced(800_000))
        .await
        .unwrap();
    second
        .settle(Usage {
            tokens: 10,
            cost_micros: 800_000,
        })
        .await;
    let refusal = limiter
        .admit(&subject.subject(), priced(1))
        .await
        .unwrap_err();
    assert_eq!(refusal.code, RefusalCode::BudgetExceeded);
    assert!(refusal.message.contains("cost budget"), "{refusal}");
    // Another group's budget is separate.
    let other = Who::new("key-c", "carol", &["ops"]);
    assert!(
        limiter
            .admit(&other.subject(), priced(1_000_000))
            .await
            .is_ok()
    );
}

/// In-flight requests count until settled or dropped; a dropped admission frees its
/// slot but its token reservation stays charged.
pub async fn concurrency(env: Env) {
    let rules = vec![LimitRule {
        concurrent: Some(2),
        tokens_per_minute: Some(100),
        ..rule(Scope::User)
    }];
    let limiter = env.limiter(rules).await;
    let who = alice();
    let first = who.admit(&limiter, 30).await.unwrap();
    let second = who.admit(&limiter, 30).await.unwrap();
    let refusal = who.admit(&limiter, 1).await.unwrap_err();
    assert_eq!(refusal.code, RefusalCode::ConcurrencyExceeded);
    assert_eq!(refusal.code.as_str(), "concurrency_limit_exceeded");
    assert_eq!(refusal.retry_after, secs(1));

    drop(first); // the client went away: slot freed, 30 tokens stay charged
    let third = admitted_eventually(&who, &limiter, 1).await;
    third.settle(used(1)).await;
    second.settle(used(30)).await;
    let held = who.admit(&limiter, 39).await.unwrap();
    assert_eq!(
        held.token_allowance(),
        Some(100 - 61),
        "30 + 30 + 1 tokens held"
    );
    let over = who.admit(&limiter, 30).await.unwrap_err();
    assert_eq!(
        over.code,
        RefusalCode::RateLimitExceeded,
        "tokens, not slots"
    );
    held.settle(used(0)).await;
    let a = who.admit(&limiter, 1).await.unwrap();
    let _b = who.admit(&limiter, 1).await.unwrap();
    assert!(who.admit(&limiter, 1).await.is_err());
    a.settle(used(1)).await;
    assert!(who.admit(&limiter, 1).await.is_ok());
}

/// Key, group and global rules all apply; a refusal by one reserves nothing anywhere,
/// and the refusal names the limit that frees last.
pub async fn all_rules_atomic(env: Env) {
    let rules = vec![
        rpm(Scope::Key, 2),
        LimitRule {
            matches: Some("ml".into()),
            daily_tokens: Some(100),
            ..rule(Scope::Group)
        },
        LimitRule {
            concurrent: Some(3),
            ..rule(Scope::Global)
        },
    ];
    let limiter = env.limiter(rules).await;
    let alice = alice();
    let a1 = alice.admit(&limiter, 60).await.unwrap();
    let refused = alice.admit(&limiter, 50).await.unwrap_err();
    assert_eq!(refused.code, RefusalCode::BudgetExceeded);
    assert_eq!(refused.headers.remaining_requests, Some(1));
    // Had the refusal reserved anything, the key's 2 rpm or the budget would be gone.
    let a2 = alice.admit(&limiter, 40).await.unwrap();
    assert_eq!(a2.headers().remaining_requests, Some(0));
    let bob = Who::new("key-b", "bob", &["eng"]);
    let b1 = bob.admit(&limiter, 1000).await.unwrap();
    let carol = Who::new("key-c", "carol", &["eng"]);
    let full = carol.admit(&limiter, 1).await.unwrap_err();
    assert_eq!(full.code, RefusalCode::ConcurrencyExceeded);
    // Alice is over all three; the budget frees last (midnight), so it is the reason.
    let all = alice.admit(&limiter, 1).await.unwrap_err();
    assert_eq!(all.code, RefusalCode::BudgetExceeded);
    assert_eq!(all.retry_after, secs(12 * 3600));
    drop(b1);
    admitted_eventually(&carol, &limiter, 1).await;
    drop((a1, a2));
}

/// `matches` narrows a rule to one subject; other subjects are not limited by it.
pub async fn matches_targets(env: Env) {
    let rules = vec![
        LimitRule {
            matches: Some("big-model".into()),
            ..rpm(Scope::Model, 1)
        },
        LimitRule {
            matches: Some("alice".into()),
            ..rpm(Scope::User, 2)
        },
    ];
    let limiter = env.limiter(rules).await;
    let bob = Who::new("key-b", "bob", &[]);
    for _ in 0..5 {
        let free = bob.admit(&limiter, 1).await.unwrap();
        assert!(!free.is_limited() && free.headers().is_empty());
    }
    let bob_big = Who::new("key-b", "bob", &[]).on("big-model");
    bob_big.admit(&limiter, 1).await.unwrap();
    assert!(bob_big.admit(&limiter, 1).await.is_err());
    let alice = alice();
    alice.admit(&limiter, 1).await.unwrap();
    alice.admit(&limiter, 1).await.unwrap();
    assert!(alice.admit(&limiter, 1).await.is_err());
}

/// The allowance is the least room left under any token limit or budget, and the
/// headers come from the tightest per-minute rule.
pub async fn tightest_allowance_and_headers(env: Env) {
    let rules = vec![
        LimitRule {
            tokens_per_minute: Some(1000),
            requests_per_minute: Some(10),
            ..rule(Scope::User)
        },
        LimitRule {
            daily_tokens: Some(700),
            requests_per_minute: Some(3),
            ..rule(Scope::Key)
        },
        LimitRule {
            monthly_tokens: Some(5000),
            tokens_per_minute: Some(2000),
            ..rule(Scope::Group)
        },
    ];
    let limiter = env.limiter(rules).await;
    let who = alice();
    who.admit(&limiter, 100)
        .await
        .unwrap()
        .settle(used(100))
        .await;
    let admission = who.admit(&limiter, 50).await.unwrap();
    assert_eq!(
        admission.token_allowance(),
        Some(600),
        "the daily budget is tightest"
    );
    let headers = admission.headers();
    assert_eq!(headers.limit_requests, Some(3));
    assert_eq!(headers.remaining_requests, Some(1));
    assert_eq!(headers.limit_tokens, Some(1000));
    assert_eq!(headers.remaining_tokens, Some(850));
}

/// Replacing rules is atomic, validated, and keeps the counts.
pub async fn replace_rules(env: Env) {
    let limiter = env.limiter(vec![rpm(Scope::User, 1)]).await;
    let who = alice();
    who.admit(&limiter, 1).await.unwrap();
    assert!(who.admit(&limiter, 1).await.is_err());
    limiter.replace_rules(vec![rpm(Scope::User, 2)]).unwrap();
    assert_eq!(limiter.rules(), vec![rpm(Scope::User, 2)]);
    who.admit(&limiter, 1).await.unwrap();
    assert!(
        who.admit(&limiter, 1).await.is_err(),
        "the first request still counts"
    );
    assert!(limiter.replace_rules(vec![rpm(Scope::User, 0)]).is_err());
    assert_eq!(
        limiter.rules(),
        vec![rpm(Scope::User, 2)],
        "invalid rules change nothing"
    );
    limiter.replace_rules(Vec::new()).unwrap();
    assert!(!who.admit(&limiter, 1).await.unwrap().is_limited());
}

/// A refusal by a request rate not tied to a model holds for every request of the key
/// until its retry time (the gateway then answers before reading bodies); one tied to a
/// model, or to tokens, does not; replacing the rules forgets holds.
pub async fn request_rate_refusals_hold_for_the_key(env: Env) {
    let limiter = env
        .limiter(vec![
            rpm(Scope::User, 2),
            LimitRule {
                tokens_per_minute: Some(1000),
                ..rule(Scope::Key)
            },
        ])
        .await;
    let who = alice();
    assert!(limiter.held(who.key).is_none());
    // A token refusal (a smaller request could pass) holds nothing.
    let big = who.admit(&limiter, 5000).await.unwrap_err();
    assert_eq!(big.holds_key_for, None);
    assert!(limiter.held(who.key).is_none());
    for _ in 0..2 {
        who.admit(&limiter, 10)
            .await
            .unwrap()
            .settle(used(10))
            .await;
    }
    let refusal = who.admit(&limiter, 10).await.unwrap_err();
    assert_eq!(refusal.code, RefusalCode::RateLimitExceeded);
    assert_eq!(refusal.holds_key_for, Some(refusal.retry_after));
    env.advance(secs(10));
    let held = limiter.held(who.key).unwrap();
    assert_eq!(held.code, RefusalCode::RateLimitExceeded);
    assert_eq!(held.retry_after, refusal.retry_after - secs(10));
    assert_eq!(held.message, refusal.message);
    assert_eq!(held.headers, refusal.headers);
    assert!(limiter.held("key-b").is_none(), "other keys are not held");
    // Its time up, the key goes through admission again.
    env.advance(held.retry_after);
    assert!(limiter.held(who.key).is_none());
    who.admit(&limiter, 10)
        .await
        .unwrap()
        .settle(used(10))
        .await;
    // Refused again, then the rules are replaced: the hold is forgotten.
    assert!(who.admit(&limiter, 10).await.is_err());
    assert!(limiter.held(who.key).is_some());
    limiter.replace_rules(vec![rpm(Scope::User, 100)]).unwrap();
    assert!(limiter.held(who.key).is_none());

    // A model's request rate refuses only that model's requests: no hold.
    let per_model = env.limiter(vec![rpm(Scope::Model, 1)]).await;
    let on_model = Who::new("key-c", "carol", &[]).on("small-model");
    on_model.admit(&per_model, 1).await.unwrap();
    let refusal = on_model.admit(&per_model, 1).await.unwrap_err();
    assert_eq!(refusal.holds_key_for, None);
    assert!(per_model.held(on_model.key).is_none());
}
