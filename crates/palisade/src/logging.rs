//! Log setup: JSON (default) or text lines on stderr, filtered by the configured level or
//! `RUST_LOG`. What is logged is decided where it is logged: identifiers and numbers,
//! never keys, tokens or prompt/response content. Panics are logged by location only.

use palisade_config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(level: &str, format: LogFormat) {
    // sqlx logs every statement at debug; keep that out unless asked for by RUST_LOG.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // Colours only for a terminal: escape codes in a log file or a collector are noise.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    // A second init (tests, demo after serve) keeps the first subscriber.
    let _ = result;
    std::panic::set_hook(Box::new(|info| {
        // Never the message: a panic while handling a request (a slice out of range, a
        // failed parse) can quote the prompt or answer it was working on.
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic (its message is not logged: it may quote content)");
    }));
}
