//! Readers during `replace`: no panics, and every decision comes wholly from the old set
//! or wholly from the new one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;

fn set(tag: &str) -> String {
    format!(
        r#"@id("{tag}.users") permit (principal, action in Palisade::Action::"data_plane", resource);
           @id("{tag}.research") permit (principal in Palisade::Group::"research", action, resource);
           @id("{tag}.admins") permit (principal, action in Palisade::Action::"admin_plane", resource)
           when {{ principal.role == "admin" }};"#
    )
}

#[test]
fn concurrent_readers_see_one_set_or_the_other() {
    let (a, b) = (set("a"), set("b"));
    let engine = engine(&a);
    let done = AtomicBool::new(false);
    let seen = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let m = model("m", "standard", "active", &[]);
    let research = groups(&["research"]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    let d = engine.authorize_data("u", &research, DataAction::Chat, &m, &facts(0));
                    assert!(d.allowed && d.errors.is_empty(), "{d:?}");
                    let tag = match d.policies.as_slice() {
                        [x, y] if x == "a.research" && y == "a.users" => 0,
                        [x, y] if x == "b.research" && y == "b.users" => 1,
                        other => panic!("decision mixes sets: {other:?}"),
                    };
                    seen[tag].fetch_add(1, Ordering::Relaxed);
                    let d = engine.authorize_admin("t", "admin", AdminAction::ReadAudit, None, 0);
                    assert!(d.allowed && d.policies.len() == 1, "{d:?}");
                    let _ = engine.source();
                }
            });
        }
        s.spawn(|| {
            for i in 0..200 {
                let next = if i % 2 == 0 { &b } else { &a };
                engine.replace(next).expect("valid set");
                // A failing replace in between changes nothing.
                assert!(engine.replace("permit (").is_err());
            }
            done.store(true, Ordering::Relaxed);
        });
    });
    // 200 replaces end on set a.
    assert_eq!(&*engine.source(), a.as_str());
    let total: usize = seen.iter().map(|n| n.load(Ordering::Relaxed)).sum();
    assert!(total > 0);
}

#[test]
fn the_engine_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<PolicyEngine>();
    shareable::<Decision>();
}
