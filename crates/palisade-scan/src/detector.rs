//! The one trait every detector implements. A detector is built once (rules compiled,
//! weights loaded) and then shared by every request: `detect` takes `&self`, allocates
//! only for what it finds, and never does I/O.

use crate::finding::Finding;

pub trait Detector: Send + Sync {
    /// A short stable name (`pii`, `secrets`, `injection`, `banned`).
    fn name(&self) -> &'static str;

    /// Appends what is found in `text` to `out`. Spans are byte offsets into `text`.
    fn detect(&self, text: &str, out: &mut Vec<Finding>);
}
