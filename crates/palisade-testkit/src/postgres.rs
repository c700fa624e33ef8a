//! PostgreSQL harness: [`PgHarness`] starts a real, throwaway PostgreSQL server on
//! loopback (its own temp dir, free port and fresh database) for tests, and stops it and
//! removes its files on drop.
//!
//! The server binaries come from `/usr/lib/postgresql/<version>/bin` (the highest
//! version; Debian package `postgresql`), or from the directory in `PALISADE_PG_BINDIR`.
//! PostgreSQL refuses to run as root, so under root the server runs as the `postgres`
//! user through `runuser`. Missing binaries are an error, never a skip.

use crate::service::{free_port, log_tail};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
const BINDIR_ENV: &str = "PALISADE_PG_BINDIR";
const SUPERUSER: &str = "postgres";
const DATABASE: &str = "palisade";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const PORT_ATTEMPTS: usize = 3;

/// A running PostgreSQL server with one fresh database, `palisade`, owned by the trust-
/// authenticated superuser `postgres`. Each harness is an independent server.
pub struct PgHarness {
    // Field order matters: the server stops before its directory is removed.
    server: Server,
    port: u16,
    bin: PathBuf,
    _dir: TempDir,
}

impl std::fmt::Debug for PgHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgHarness")
            .field("port", &self.port)
            .field("pid", &self.server.child.id())
            .finish_non_exhaustive()
    }
}

impl PgHarness {
    /// Starts a server and creates its database. Runs the blocking work (initdb, waiting
    /// for readiness) off the async runtime.
    pub async fn start() -> io::Result<PgHarness> {
        tokio::task::spawn_blocking(PgHarness::start_blocking)
            .await
            .map_err(|e| io::Error::other(format!("postgres harness task failed: {e}")))?
    }

    /// A server that makes every commit durable (`fsync`, `synchronous_commit` and full
    /// page writes on, as in production): for benchmarks of durable throughput. Tests use
    /// [`PgHarness::start`], whose server skips the disk syncs.
    pub async fn start_durable() -> io::Result<PgHarness> {
        tokio::task::spawn_blocking(|| PgHarness::start_with(true))
            .await
            .map_err(|e| io::Error::other(format!("postgres harness task failed: {e}")))?
    }

    /// [`PgHarness::start`] for callers without an async runtime.
    pub fn start_blocking() -> io::Result<PgHarness> {
        PgHarness::start_with(false)
    }

    fn start_with(durable: bool) -> io::Result<PgHarness> {
        let bin = find_bin_dir()?;
        let as_postgres = is_root()?;
        let dir = tempfile::Builder::new().prefix("palisade-pg-").tempdir()?;
        if as_postgres {
            run(
                Command::new("chown")
                    .arg(format!("{SUPERUSER}:"))
                    .arg(dir.path()),
                "chown",
            )?;
        }
        let data = dir.path().join("data");
        let mut initdb = server_command(as_postgres, &bin.join("initdb"), dir.path());
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(&mut initdb, "initdb")?;

        let mut last_error = None;
        for attempt in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let log = dir.path().join(format!("postgres-{attempt}.log"));
            let mut server =
                Server::spawn(as_postgres, &bin, dir.path(), &data, port, &log, durable)?;
            match server.wait_ready(&bin, port, &log) {
                Ok(()) => {
                    let harness = PgHarness {
                        server,
                        port,
                        bin,
                        _dir: dir,
                    };
                    harness.create_database_blocking(DATABASE)?;
                    return Ok(harness);
                }
                // Another process took the port between our probe and the server's bind.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("postgres did not start")))
    }

    /// The URL of the harness database, `postgres://postgres@127.0.0.1:<port>/palisade`.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The URL of another database on this server.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates another empty database on this server and returns its URL, for tests that
    /// need several databases without starting several servers.
    pub async fn create_database(&self, name: &str) -> io::Result<String> {
        let createdb = self.bin.join("createdb");
        let port = self.port.to_string();
        let owned = name.to_owned();
        tokio::task::spawn_blocking(move || {
            run(&mut createdb_command(&createdb, &port, &owned), "createdb")
        })
        .await
        .map_err(|e| io::Error::other(format!("createdb task failed: {e}")))??;
        Ok(self.url_for(name))
    }

    /// Runs SQL as the superuser on `database` (`psql -c`), for tests that change the
    /// server under a running gateway (refusing its connections, ending its sessions).
    pub async fn execute(&self, database: &str, sql: &str) -> io::Result<()> {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-U",
            SUPERUSER,
            "-p",
            &self.port.to_string(),
        ])
        .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]);
        tokio::task::spawn_blocking(move || run(&mut cmd, "psql"))
            .await
            .map_err(|e| io::Error::other(format!("psql task failed: {e}")))?
    }

    fn create_database_blocking(&self, name: &str) -> io::Result<()> {
        let port = self.port.to_string();
        run(
            &mut createdb_command(&self.bin.join("createdb"), &port, name),
            "createdb",
        )
    }
}

/// The postgres server process: `postgres` itself, or `runuser` running it.
struct Server {
    child: Child,
    data: PathBuf,
}

impl Server {
    fn spawn(
        as_postgres: bool,
        bin: &Path,
        dir: &Path,
        data: &Path,
        port: u16,
        log: &Path,
        durable: bool,
    ) -> io::Result<Server> {
        let log_file = File::create(log)?;
        let mut cmd = server_command(as_postgres, &bin.join("postgres"), dir);
        cmd.arg("-D")
            .arg(data)
            .arg("-k")
            .arg(dir)
            .arg("-p")
            .arg(port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"]);
        if !durable {
            cmd.args(["-c", "fsync=off"])
                .args(["-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"]);
        }
        cmd.stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let child = cmd.spawn().map_err(|e| spawn_error("postgres", e))?;
        Ok(Server {
            child,
            data: data.to_owned(),
        })
    }

    /// Waits until the server accepts connections on `port`; `AddrInUse` if it could not
    /// bind the port.
    fn wait_ready(&mut self, bin: &Path, port: u16, log: &Path) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pg_isready = bin.join("pg_isready");
        loop {
            if let Some(status) = self.child.try_wait()? {
                let log = log_tail(log);
                let kind = if log.contains("could not bind") || log.contains("already in use") {
                    io::ErrorKind::AddrInUse
                } else {
                    io::ErrorKind::Other
                };
                return Err(io::Error::new(
                    kind,
                    format!("postgres exited during startup ({status}); its log ends:\n{log}"),
                ));
            }
            let ready = Command::new(&pg_isready)
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    SUPERUSER,
                    "-d",
                    "postgres",
                    "-p",
                ])
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| spawn_error("pg_isready", e))?;
            if ready.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "postgres did not accept connections within {START_TIMEOUT:?}; its log ends:\n{}",
                        log_tail(log)
                    ),
                ));
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// The postmaster's own PID, from its pid file (under root the child is `runuser`).
    fn postmaster_pid(&self) -> Option<u32> {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        pid_file.lines().next()?.trim().parse().ok()
    }

    fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return true,
                Ok(None) if Instant::now() >= deadline => return false,
                Ok(None) => sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Drop for Server {
    /// Fast shutdown (SIGINT) of this server's postmaster by PID, then SIGKILL if it
    /// lingers. Never signals any other process.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.postmaster_pid().unwrap_or_else(|| self.child.id());
        signal(pid, "INT");
        if self.exited_within(STOP_TIMEOUT) {
            return;
        }
        signal(pid, "KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The server binaries: `$PALISADE_PG_BINDIR`, else the highest version under
/// `/usr/lib/postgresql/*/bin` that has `postgres` and `initdb`.
fn find_bin_dir() -> io::Result<PathBuf> {
    match std::env::var_os(BINDIR_ENV) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if has_server_binaries(&dir) {
                return Ok(dir);
            }
            Err(not_found(&format!("{BINDIR_ENV}={}", dir.display())))
        }
        None => highest_version_bin(Path::new(DEBIAN_ROOT))
            .ok_or_else(|| not_found(&format!("{DEBIAN_ROOT}/*/bin"))),
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    ["postgres", "initdb", "pg_isready", "createdb"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

/// `<root>/<version>/bin` for the highest numeric version (`9.6` < `15` < `16`) that has
/// the server binaries.
fn highest_version_bin(root: &Path) -> Option<PathBuf> {
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(version) = name
            .split('.')
            .map(str::parse)
            .collect::<Result<Vec<u32>, _>>()
        else {
            continue;
        };
        let bin = entry.path().join("bin");
        if has_server_binaries(&bin) && best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, bin));
        }
    }
    best.map(|(_, bin)| bin)
}

fn not_found(looked_in: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "PostgreSQL server binaries (postgres, initdb, pg_isready, createdb) not found in \
             {looked_in}: install the Debian package `postgresql` (apt-get install -y \
             postgresql), or set {BINDIR_ENV} to a directory holding them"
        ),
    )
}

/// Whether this process runs as root (uid 0), read from `/proc/self`'s owner.
fn is_root() -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self")?.uid() == 0)
}

/// A command for a server-side binary: run directly, or as `postgres` under root.
fn server_command(as_postgres: bool, program: &Path, cwd: &Path) -> Command {
    let mut cmd = if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", SUPERUSER, "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    // The postgres user may not be able to enter the caller's working directory.
    cmd.current_dir(cwd).env("LC_ALL", "C");
    cmd
}

fn createdb_command(createdb: &Path, port: &str, name: &str) -> Command {
    let mut cmd = Command::new(createdb);
    cmd.args(["-h", "127.0.0.1", "-U", SUPERUSER, "-p", port, name]);
    cmd
}

/// Runs a command to completion; its output goes into the error if it fails.
fn run(cmd: &mut Command, what: &str) -> io::Result<()> {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(what, e))?;
    if status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{what} failed ({status}):\n{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    )))
}

fn spawn_error(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot run {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_complete_version() {
        let root = tempfile::tempdir().unwrap();
        for (version, complete) in [("9.6", true), ("15", true), ("16", true), ("17", false)] {
            let bin = root.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let binaries: &[&str] = if complete {
                &["postgres", "initdb", "pg_isready", "createdb"]
            } else {
                &["psql"]
            };
            for b in binaries {
                File::create(bin.join(b)).unwrap();
            }
        }
        std::fs::create_dir_all(root.path().join("common")).unwrap();
        assert_eq!(
            highest_version_bin(root.path()),
            Some(root.path().join("16/bin"))
        );
        assert_eq!(highest_version_bin(&root.path().join("missing")), None);
    }

    #[test]
    fn missing_binaries_say_what_to_install() {
        let message = not_found("/usr/lib/postgresql/*/bin").to_string();
        assert!(message.contains("Debian package `postgresql`"), "{message}");
    }

    #[tokio::test]
    async fn starts_serves_and_stops() {
        let pg = PgHarness::start().await.unwrap();
        assert!(pg.url().starts_with("postgres://postgres@127.0.0.1:"));
        let other = pg.create_database("second").await.unwrap();
        assert!(other.ends_with("/second"));
        let data = pg.server.data.clone();
        let port = pg.port();
        drop(pg);
        assert!(!data.exists(), "temp dir removed");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "server stopped"
        );
    }
}
