//! [`Memo`]: a small per-thread table that remembers values built from the same inputs
//! (a request's entity store, an IP literal), so repeated questions skip the expensive
//! part. Entries are found by a randomly seeded hash and then compared in full, so a
//! hash collision can never return another request's value. When full, it starts over.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::thread::LocalKey;

pub(crate) struct Memo<K, V> {
    hasher: RandomState,
    entries: HashMap<u64, (K, V)>,
    capacity: usize,
}

impl<K, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize) -> Self {
        Memo {
            hasher: RandomState::new(),
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The value for inputs that hash like `probe` and that `is_same` accepts, built by
    /// `build` (which returns the owned key to store) when absent.
    pub fn get_or_build<P: Hash + ?Sized, E>(
        &mut self,
        probe: &P,
        is_same: impl Fn(&K) -> bool,
        build: impl FnOnce() -> Result<(K, V), E>,
    ) -> Result<V, E> {
        let hash = self.hasher.hash_one(probe);
        if let Some((key, value)) = self.entries.get(&hash)
            && is_same(key)
        {
            return Ok(value.clone());
        }
        let (key, value) = build()?;
        if self.entries.len() >= self.capacity {
            self.entries.clear();
        }
        self.entries.insert(hash, (key, value.clone()));
        Ok(value)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// [`Memo::get_or_build`] on a thread-local memo; builds without remembering if the memo
/// is unavailable (thread teardown).
pub(crate) fn memoized<K: 'static, V: Clone + 'static, P: Hash + ?Sized, E>(
    memo: &'static LocalKey<RefCell<Memo<K, V>>>,
    probe: &P,
    is_same: impl Fn(&K) -> bool,
    build: impl Fn() -> Result<(K, V), E>,
) -> Result<V, E> {
    let remembered = memo.try_with(|cell| {
        let mut memo = cell.try_borrow_mut().ok()?;
        Some(memo.get_or_build(probe, &is_same, &build))
    });
    match remembered {
        Ok(Some(result)) => result,
        _ => build().map(|(_, value)| value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_compares_keys_and_starts_over_when_full() {
        let builds = std::cell::Cell::new(0);
        let get = |memo: &mut Memo<String, usize>, k: &str| {
            memo.get_or_build::<_, ()>(
                k,
                |stored| stored == k,
                || {
                    builds.set(builds.get() + 1);
                    Ok((k.to_owned(), k.len()))
                },
            )
        };
        let mut memo: Memo<String, usize> = Memo::new(2);
        assert_eq!(get(&mut memo, "ab"), Ok(2));
        assert_eq!(get(&mut memo, "ab"), Ok(2));
        assert_eq!(get(&mut memo, "abc"), Ok(3));
        assert_eq!(memo.len(), 2);
        assert_eq!(get(&mut memo, "abcd"), Ok(4));
        assert_eq!(memo.len(), 1);
        assert_eq!(builds.get(), 3);
    }

    #[test]
    fn a_colliding_hash_never_returns_another_key() {
        // Same probe, different stored key: `is_same` refuses, the value is rebuilt.
        let mut memo: Memo<&str, &str> = Memo::new(8);
        let first = memo.get_or_build::<_, ()>("probe", |k| *k == "a", || Ok(("a", "A")));
        let second = memo.get_or_build::<_, ()>("probe", |k| *k == "b", || Ok(("b", "B")));
        assert_eq!((first, second), (Ok("A"), Ok("B")));
    }
}
