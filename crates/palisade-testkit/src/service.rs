//! Helpers shared by the service harnesses (PostgreSQL, Redis): free loopback ports and
//! the tail of a server's log for error messages.

use std::io;
use std::net::TcpListener;
use std::path::Path;

/// A port that was free a moment ago on 127.0.0.1.
pub(crate) fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The last lines of a server log, for error messages.
pub(crate) fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
