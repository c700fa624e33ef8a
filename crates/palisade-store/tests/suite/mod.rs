//! The [`IdentityStore`] conformance suite itself: backend-agnostic test functions that
//! take a freshly migrated, empty store, plus record builders. `conformance.rs` runs each
//! function against every backend.

use std::sync::Arc;

use palisade_policy::identity::store::every;
use palisade_policy::identity::{
    AdminRole, AdminTokenRecord, ApiKeyRecord, Group, IdentityStore, PageRequest, StoreError, User,
};

pub type Identity = Arc<dyn IdentityStore>;

pub fn user(id: &str, name: &str, groups: &[&str], created_at: i64) -> User {
    User {
        id: id.into(),
        name: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        created_at,
        disabled: false,
    }
}

pub fn key(id: &str, user_id: &str, created_at: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        user_id: user_id.into(),
        name: None,
        secret_hash: format!("hash-of-{id}"),
        created_at,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    }
}

pub fn token(id: &str, role: AdminRole, created_at: i64) -> AdminTokenRecord {
    AdminTokenRecord {
        id: id.into(),
        name: Some(format!("token {id}")),
        role,
        secret_hash: format!("token-hash-of-{id}"),
        created_at,
        revoked_at: None,
    }
}

/// Every group, page after page; likewise below.
pub async fn all_groups(store: &Identity) -> Vec<Group> {
    every(|p| async move { store.list_groups(&p).await })
        .await
        .unwrap()
}

pub async fn all_users(store: &Identity) -> Vec<User> {
    every(|p| async move { store.list_users(&p).await })
        .await
        .unwrap()
}

pub async fn all_keys(store: &Identity, user_id: Option<&str>) -> Vec<ApiKeyRecord> {
    every(|p| async move { store.list_api_keys(user_id, &p).await })
        .await
        .unwrap()
}

pub async fn all_tokens(store: &Identity) -> Vec<AdminTokenRecord> {
    every(|p| async move { store.list_admin_tokens(&p).await })
        .await
        .unwrap()
}

pub fn group_names(groups: &[Group]) -> Vec<&str> {
    groups.iter().map(|g| g.name.as_str()).collect()
}

pub async fn groups_and_users(store: Identity) {
    assert!(all_groups(&store).await.is_empty());
    assert!(all_users(&store).await.is_empty());

    // Groups: listed by name, duplicates refused.
    store
        .create_group(&Group {
            name: "beta".into(),
            created_at: 20,
        })
        .await
        .unwrap();
    store
        .create_group(&Group {
            name: "alpha".into(),
            created_at: 10,
        })
        .await
        .unwrap();
    let dup = store
        .create_group(&Group {
            name: "alpha".into(),
            created_at: 99,
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(
        all_groups(&store).await,
        [
            Group {
                name: "alpha".into(),
                created_at: 10
            },
            Group {
                name: "beta".into(),
                created_at: 20
            },
        ]
    );

    // A user with an existing and a new group: the new one is created, groups sorted.
    let carol = user("u-carol", "carol", &["zeta", "alpha"], 100);
    store.create_user(&carol).await.unwrap();
    assert_eq!(
        group_names(&all_groups(&store).await),
        ["alpha", "beta", "zeta"]
    );
    let zeta = all_groups(&store)
        .await
        .into_iter()
        .find(|g| g.name == "zeta");
    assert_eq!(zeta.map(|g| g.created_at), Some(100));
    let expected = User {
        groups: vec!["alpha".into(), "zeta".into()],
        ..carol.clone()
    };
    assert_eq!(
        store.find_user("u-carol").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        store.find_user("carol").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(store.find_user("nobody").await.unwrap(), None);

    // Duplicate name or id: Conflict, and nothing of the failed user is kept.
    let same_name = user("u-other", "carol", &["orphan"], 101);
    let err = store.create_user(&same_name).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    let same_id = user("u-carol", "carol2", &["orphan"], 101);
    let err = store.create_user(&same_id).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert!(!group_names(&all_groups(&store).await).contains(&"orphan"));
    assert_eq!(store.find_user("u-other").await.unwrap(), None);
    assert_eq!(store.find_user("carol2").await.unwrap(), None);

    // Users listed by name (bytewise), with groups and the disabled flag.
    let mut bob = user("u-bob", "bob", &[], 300);
    bob.disabled = true;
    store.create_user(&bob).await.unwrap();
    let alice = user("u-alice", "alice", &["beta"], 200);
    store.create_user(&alice).await.unwrap();
    let users = all_users(&store).await;
    assert_eq!(users, [alice, bob.clone(), expected]);
    assert_eq!(store.find_user("bob").await.unwrap(), Some(bob));

    // An id match wins over another user's name.
    store
        .create_user(&user("u-x", "u-dave", &[], 400))
        .await
        .unwrap();
    store
        .create_user(&user("u-dave", "dave", &[], 401))
        .await
        .unwrap();
    assert_eq!(
        store.find_user("u-dave").await.unwrap().map(|u| u.name),
        Some("dave".into())
    );
}

pub async fn api_keys(store: Identity) {
    store.create_user(&user("u1", "one", &[], 1)).await.unwrap();
    store.create_user(&user("u2", "two", &[], 1)).await.unwrap();

    let full = ApiKeyRecord {
        name: Some("laptop".into()),
        expires_at: Some(5_000),
        revoked_at: Some(4_000),
        last_used_at: Some(3_000),
        ..key("k-full", "u2", 150)
    };
    for k in [
        key("k3", "u1", 100),
        key("k1", "u1", 200),
        key("k2", "u2", 100),
        full.clone(),
    ] {
        store.insert_api_key(&k).await.unwrap();
    }

    assert_eq!(store.find_api_key("k-full").await.unwrap(), Some(full));
    assert_eq!(
        store.find_api_key("k3").await.unwrap(),
        Some(key("k3", "u1", 100))
    );
    assert_eq!(store.find_api_key("missing").await.unwrap(), None);

    let ids = |keys: Vec<ApiKeyRecord>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(
        ids(all_keys(&store, None).await),
        ["k2", "k3", "k-full", "k1"]
    );
    assert_eq!(ids(all_keys(&store, Some("u1")).await), ["k3", "k1"]);
    assert_eq!(ids(all_keys(&store, Some("u2")).await), ["k2", "k-full"]);
    assert!(all_keys(&store, Some("nobody")).await.is_empty());

    let err = store
        .insert_api_key(&key("k9", "ghost", 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(
        !err.to_string().contains("hash-of-"),
        "secret hash leaked: {err}"
    );
    let err = store.insert_api_key(&key("k1", "u2", 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        !err.to_string().contains("hash-of-"),
        "secret hash leaked: {err}"
    );
    assert_eq!(
        store.find_api_key("k1").await.unwrap().map(|k| k.user_id),
        Some("u1".into())
    );
    assert_eq!(store.find_api_key("k9").await.unwrap(), None);
}

pub async fn key_lifecycle(store: Identity) {
    store.create_user(&user("u1", "one", &[], 1)).await.unwrap();
    store.insert_api_key(&key("k1", "u1", 10)).await.unwrap();
    store.insert_api_key(&key("k2", "u1", 20)).await.unwrap();

    // Revocation: the first time sticks; unknown ids report false.
    assert!(store.revoke_api_key("k1", 500).await.unwrap());
    assert_eq!(
        store.find_api_key("k1").await.unwrap().unwrap().revoked_at,
        Some(500)
    );
    assert!(store.revoke_api_key("k1", 600).await.unwrap());
    assert_eq!(
        store.find_api_key("k1").await.unwrap().unwrap().revoked_at,
        Some(500)
    );
    assert!(!store.revoke_api_key("nope", 500).await.unwrap());
    assert_eq!(
        store.find_api_key("k2").await.unwrap().unwrap().revoked_at,
        None
    );

    // Use: last_used_at only moves forward; unknown ids are ignored.
    let last_used = |id: &'static str| {
        let store = store.clone();
        async move { store.find_api_key(id).await.unwrap().unwrap().last_used_at }
    };
    store.record_key_use(&[]).await.unwrap();
    store.record_key_use(&[("k1".into(), 100)]).await.unwrap();
    assert_eq!(last_used("k1").await, Some(100));
    store.record_key_use(&[("k1".into(), 50)]).await.unwrap();
    assert_eq!(last_used("k1").await, Some(100));
    let batch = [
        ("k1".into(), 300),
        ("ghost".into(), 5),
        ("k1".into(), 200),
        ("k2".into(), 7),
    ];
    store.record_key_use(&batch).await.unwrap();
    assert_eq!(last_used("k1").await, Some(300));
    assert_eq!(last_used("k2").await, Some(7));
    assert_eq!(store.find_api_key("ghost").await.unwrap(), None);
}

pub async fn admin_tokens(store: Identity) {
    assert!(all_tokens(&store).await.is_empty());
    let admin = token("t-admin", AdminRole::Admin, 30);
    let operator = AdminTokenRecord {
        name: None,
        ..token("t-op", AdminRole::Operator, 10)
    };
    let auditor = token("t-aud", AdminRole::Auditor, 30);
    for t in [&admin, &operator, &auditor] {
        store.insert_admin_token(t).await.unwrap();
    }
    let err = store
        .insert_admin_token(&token("t-op", AdminRole::Admin, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        !err.to_string().contains("token-hash-of-"),
        "secret hash leaked: {err}"
    );

    assert_eq!(
        store.find_admin_token("t-op").await.unwrap(),
        Some(operator.clone())
    );
    assert_eq!(
        store.find_admin_token("t-aud").await.unwrap(),
        Some(auditor.clone())
    );
    assert_eq!(store.find_admin_token("missing").await.unwrap(), None);
    assert_eq!(
        all_tokens(&store).await,
        [operator, admin.clone(), auditor.clone()]
    );

    assert!(store.revoke_admin_token("t-admin", 70).await.unwrap());
    assert!(store.revoke_admin_token("t-admin", 80).await.unwrap());
    assert!(!store.revoke_admin_token("missing", 80).await.unwrap());
    let revoked = store.find_admin_token("t-admin").await.unwrap().unwrap();
    assert_eq!(
        revoked,
        AdminTokenRecord {
            revoked_at: Some(70),
            ..admin
        }
    );
    assert_eq!(
        store.find_admin_token("t-aud").await.unwrap(),
        Some(auditor)
    );
}

/// Lists come a page at a time, in their order, each page ending with the cursor of the
/// next (none after the last); a user with many groups is one item; keys created in the
/// same second are ordered by id; a cursor the list never gave out is refused.
pub async fn lists_are_paged(store: Identity) {
    for (i, name) in ["erin", "alice", "dave", "carol", "bob"].iter().enumerate() {
        let groups: &[&str] = if *name == "carol" {
            &["g1", "g2", "g3"]
        } else {
            &[]
        };
        store
            .create_user(&user(&format!("u{i}"), name, groups, 1))
            .await
            .unwrap();
    }
    let names = |users: &[User]| users.iter().map(|u| u.name.clone()).collect::<Vec<_>>();
    let first = store.list_users(&PageRequest::first(2)).await.unwrap();
    assert_eq!(names(&first.items), ["alice", "bob"]);
    assert_eq!(first.next.as_deref(), Some("bob"));
    let second = store
        .list_users(&PageRequest {
            limit: 2,
            after: first.next,
        })
        .await
        .unwrap();
    assert_eq!(names(&second.items), ["carol", "dave"]);
    assert_eq!(second.items[0].groups, ["g1", "g2", "g3"]);
    let last = store
        .list_users(&PageRequest {
            limit: 2,
            after: second.next,
        })
        .await
        .unwrap();
    assert_eq!(names(&last.items), ["erin"]);
    assert_eq!(last.next, None);
    // A page exactly as long as what is left says there is nothing after it.
    let whole = store.list_users(&PageRequest::first(5)).await.unwrap();
    assert_eq!(whole.items.len(), 5);
    assert_eq!(whole.next, None);
    let groups = store.list_groups(&PageRequest::first(2)).await.unwrap();
    assert_eq!(group_names(&groups.items), ["g1", "g2"]);
    let asked = ["g3", "nope", "g1"].map(String::from);
    assert_eq!(store.existing_groups(&asked).await.unwrap(), ["g1", "g3"]);
    assert!(store.existing_groups(&[]).await.unwrap().is_empty());
    assert_eq!(group_names(&all_groups(&store).await), ["g1", "g2", "g3"]);

    for (id, user_id, at) in [
        ("k-b", "u0", 10),
        ("k-a", "u0", 10),
        ("k-c", "u1", 10),
        ("k-0", "u0", 5),
        ("k-z", "u0", 20),
    ] {
        store.insert_api_key(&key(id, user_id, at)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_api_keys(Some("u0"), &PageRequest { limit: 1, after })
            .await
            .unwrap();
        assert!(page.items.len() <= 1);
        seen.extend(page.items.into_iter().map(|k| k.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["k-0", "k-a", "k-b", "k-z"]);
    let ids = |keys: Vec<ApiKeyRecord>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(
        ids(all_keys(&store, None).await),
        ["k-0", "k-a", "k-b", "k-c", "k-z"]
    );
    for bad in ["k-a", "soon.k-a", ""] {
        let err = store
            .list_api_keys(
                None,
                &PageRequest {
                    limit: 2,
                    after: Some(bad.into()),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidCursor), "{bad}: {err:?}");
    }

    for (id, at) in [("t2", 7), ("t1", 7), ("t0", 3)] {
        store
            .insert_admin_token(&token(id, AdminRole::Auditor, at))
            .await
            .unwrap();
    }
    let page = store
        .list_admin_tokens(&PageRequest::first(2))
        .await
        .unwrap();
    let token_ids = |t: &[AdminTokenRecord]| t.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
    assert_eq!(token_ids(&page.items), ["t0", "t1"]);
    let rest = store
        .list_admin_tokens(&PageRequest {
            limit: 2,
            after: page.next,
        })
        .await
        .unwrap();
    assert_eq!(token_ids(&rest.items), ["t2"]);
    assert_eq!(rest.next, None);
}
