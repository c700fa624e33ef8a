//! Redis harness: [`RedisHarness`] starts a real, throwaway `redis-server` on loopback
//! (free port, no persistence, its own temp dir) for tests, can kill it to simulate an
//! outage and start it again on the same port, and stops it on drop. It can also serve
//! TLS on a second port ([`RedisHarness::start_tls`]).
//!
//! The binary is `$PALISADE_REDIS_SERVER`, else `redis-server` on the `PATH` or in
//! `/usr/bin` (Debian package `redis-server`). A missing binary is an error, never a skip.

use crate::service::{free_port, log_tail};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const BINARY_ENV: &str = "PALISADE_REDIS_SERVER";
const START_TIMEOUT: Duration = Duration::from_secs(10);
const PING_TIMEOUT: Duration = Duration::from_millis(500);
const PORT_ATTEMPTS: usize = 3;

/// A running `redis-server` on `127.0.0.1`. Each harness is an independent server.
pub struct RedisHarness {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
    starts: usize,
    dir: TempDir,
    /// A TLS port beside the plain one, and its certificate and key files.
    tls: Option<Tls>,
}

#[derive(Clone)]
struct Tls {
    port: u16,
    cert: PathBuf,
    key: PathBuf,
}

impl std::fmt::Debug for RedisHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHarness")
            .field("port", &self.port)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish_non_exhaustive()
    }
}

impl RedisHarness {
    /// Starts a server and waits (bounded) until it answers `PING`. The blocking work
    /// runs off the async runtime.
    pub async fn start() -> io::Result<RedisHarness> {
        tokio::task::spawn_blocking(RedisHarness::start_blocking)
            .await
            .map_err(|e| io::Error::other(format!("redis harness task failed: {e}")))?
    }

    /// [`RedisHarness::start`], also serving TLS on a second port ([`RedisHarness::tls_url`])
    /// with the PEM certificate and key files given (clients are not asked for one).
    pub async fn start_tls(cert: PathBuf, key: PathBuf) -> io::Result<RedisHarness> {
        let tls = Tls {
            port: free_port()?,
            cert,
            key,
        };
        tokio::task::spawn_blocking(move || RedisHarness::start_inner(Some(tls)))
            .await
            .map_err(|e| io::Error::other(format!("redis harness task failed: {e}")))?
    }

    /// [`RedisHarness::start`] for callers without an async runtime.
    pub fn start_blocking() -> io::Result<RedisHarness> {
        RedisHarness::start_inner(None)
    }

    fn start_inner(tls: Option<Tls>) -> io::Result<RedisHarness> {
        let bin = find_binary()?;
        let mut dir = tempfile::Builder::new()
            .prefix("palisade-redis-")
            .tempdir()?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let mut harness = RedisHarness {
                child: None,
                port: free_port()?,
                bin: bin.clone(),
                starts: 0,
                dir,
                tls: tls.clone(),
            };
            match harness.spawn_and_wait() {
                Ok(()) => return Ok(harness),
                // Another process took the port between our probe and the server's bind.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    last_error = Some(e);
                    dir = harness.take_dir()?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// `rediss://localhost:<tls port>/` (the certificate must name `localhost`), when
    /// started with [`RedisHarness::start_tls`].
    pub fn tls_url(&self) -> Option<String> {
        self.tls
            .as_ref()
            .map(|t| format!("rediss://localhost:{}/", t.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL (an outage, not a shutdown) and reaps it. Its data
    /// is gone; [`RedisHarness::restart`] starts an empty one on the same port.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the server process is alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Starts an empty server on the same port again (after [`RedisHarness::kill`]).
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill();
        let log = self.spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let port = self.port;
            let answered = tokio::task::spawn_blocking(move || ping(port))
                .await
                .unwrap_or(false);
            if self.probe(&log, deadline, answered)? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn spawn_and_wait(&mut self) -> io::Result<()> {
        let log = self.spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        while !self.probe(&log, deadline, ping(self.port))? {
            sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Spawns the server; returns its log file.
    fn spawn(&mut self) -> io::Result<PathBuf> {
        self.starts += 1;
        let log = self.dir.path().join(format!("redis-{}.log", self.starts));
        let log_file = File::create(&log)?;
        let mut command = Command::new(&self.bin);
        if let Some(tls) = &self.tls {
            command
                .args(["--tls-port", &tls.port.to_string()])
                .arg("--tls-cert-file")
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .args(["--tls-auth-clients", "no"]);
        }
        let child = command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run redis-server: {e}")))?;
        self.child = Some(child);
        Ok(log)
    }

    /// One step of waiting for readiness: `Ok(true)` once the server answered `PING`
    /// (`answered`), an error if it exited or the deadline passed.
    fn probe(&mut self, log: &Path, deadline: Instant, answered: bool) -> io::Result<bool> {
        let exited = match self.child.as_mut() {
            Some(child) => child.try_wait()?,
            None => return Err(io::Error::other("redis-server is not running")),
        };
        if let Some(status) = exited {
            self.child = None;
            let log = log_tail(log);
            let kind = if log.contains("Address already in use") {
                io::ErrorKind::AddrInUse
            } else {
                io::ErrorKind::Other
            };
            return Err(io::Error::new(
                kind,
                format!("redis-server exited during startup ({status}); its log ends:\n{log}"),
            ));
        }
        if answered {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            self.kill();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "redis-server did not answer PING within {START_TIMEOUT:?}; its log ends:\n{}",
                    log_tail(log)
                ),
            ));
        }
        Ok(false)
    }

    /// Gives the temp dir back after a failed start, for the next port.
    fn take_dir(mut self) -> io::Result<TempDir> {
        self.kill();
        let placeholder = tempfile::Builder::new()
            .prefix("palisade-redis-")
            .tempdir()?;
        Ok(std::mem::replace(&mut self.dir, placeholder))
    }
}

impl Drop for RedisHarness {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a server on `port` answers `PING` with `+PONG`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), PING_TIMEOUT)
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(PING_TIMEOUT));
    let _ = stream.set_write_timeout(Some(PING_TIMEOUT));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && reply == *b"+PONG\r\n"
}

/// The server binary: `$PALISADE_REDIS_SERVER`, `redis-server` on the `PATH`, or
/// `/usr/bin/redis-server`.
fn find_binary() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os(BINARY_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(not_found(&format!("{BINARY_ENV}={}", path.display())));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| not_found("the PATH and /usr/bin"))
}

fn not_found(looked_in: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "redis-server not found in {looked_in}: install the Debian package `redis-server` \
             (apt-get install -y redis-server), or set {BINARY_ENV} to the binary"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_says_what_to_install() {
        let message = not_found("/nowhere").to_string();
        assert!(
            message.contains("Debian package `redis-server`"),
            "{message}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn starts_serves_is_killed_restarts_and_stops() {
        let mut redis = RedisHarness::start().await.unwrap();
        assert!(redis.url().starts_with("redis://127.0.0.1:"));
        let port = redis.port();
        assert!(ping(port));
        redis.kill();
        assert!(!redis.is_running());
        assert!(!ping(port), "killed server still answers");
        redis.restart().await.unwrap();
        assert!(redis.is_running() && ping(port));
        let dir = redis.dir.path().to_owned();
        drop(redis);
        assert!(!dir.exists(), "temp dir removed");
        assert!(!ping(port), "server stopped");
    }
}
