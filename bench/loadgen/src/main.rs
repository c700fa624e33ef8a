//! `palisade-bench-loadgen`: a small HTTP/1.1 load generator for `bench/run.sh`.
//!
//! Two modes:
//!
//! * `--rate R` (open loop, fixed request rate). A dedicated OS thread paces a fixed
//!   schedule (request *i* is due at `start + i/R`) and hands each due request to a pool
//!   of keep-alive connections. Latency is measured from the request's **scheduled** time,
//!   not from when a connection became free, so time a request spends waiting behind a
//!   slow one is counted (no coordinated omission). The time from actual send to full
//!   response ("service time") is reported as well.
//! * `--concurrency C` without `--rate` (closed loop): C connections each send the next
//!   request as soon as the previous response is read; latency is send → full response.
//!
//! Output: one JSON object on stdout; a human summary on stderr. Where responses carry
//! Palisade's `x-palisade-overhead-ms` header, its percentiles are reported too
//! (`gateway_overhead_us`: the gateway's own time, measured by the gateway).
//!
//! Everything is bounded: `--duration` (plus `--warmup`) of sending, a per-request
//! `--timeout`, and a `--drain` limit for outstanding requests at the end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[derive(Clone, Debug)]
struct Opts {
    url_host: String,
    url_port: u16,
    path: String,
    body: Bytes,
    headers: Vec<(String, String)>,
    rate: Option<f64>,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    timeout: Duration,
    drain: Duration,
    expect: Option<String>,
    label: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: palisade-bench-loadgen --url http://127.0.0.1:PORT/path [--body-file F] [-H 'Name: value']...\n\
         \x20      [--rate R] [--concurrency C] [--duration S] [--warmup S] [--timeout S] [--drain S]\n\
         \x20      [--expect SUBSTRING] [--label NAME]"
    );
    std::process::exit(2)
}

fn parse_secs(v: &str) -> Duration {
    match v.parse::<f64>() {
        Ok(s) if s >= 0.0 && s.is_finite() => Duration::from_secs_f64(s),
        _ => usage(),
    }
}

fn parse_args() -> Opts {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut body = Bytes::new();
    let mut headers = Vec::new();
    let mut rate = None;
    let mut concurrency = 64usize;
    let mut duration = Duration::from_secs(10);
    let mut warmup = Duration::from_secs(2);
    let mut timeout = Duration::from_secs(10);
    let mut drain = Duration::from_secs(10);
    let mut expect = None;
    let mut label = String::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--url" => url = Some(val()),
            "--body-file" => {
                let f = val();
                body = Bytes::from(std::fs::read(&f).unwrap_or_else(|e| {
                    eprintln!("cannot read {f}: {e}");
                    std::process::exit(2)
                }))
            }
            "-H" | "--header" => {
                let h = val();
                let Some((n, v)) = h.split_once(':') else { usage() };
                headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
            "--rate" => rate = Some(val().parse::<f64>().ok().filter(|r| *r > 0.0).unwrap_or_else(|| usage())),
            "--concurrency" | "-c" => concurrency = val().parse().ok().filter(|c| *c > 0).unwrap_or_else(|| usage()),
            "--duration" | "-d" => duration = parse_secs(&val()),
            "--warmup" => warmup = parse_secs(&val()),
            "--timeout" => timeout = parse_secs(&val()),
            "--drain" => drain = parse_secs(&val()),
            "--expect" => expect = Some(val()),
            "--label" => label = val(),
            _ => usage(),
        }
    }
    let url = url.unwrap_or_else(|| usage());
    let rest = url.strip_prefix("http://").unwrap_or_else(|| usage());
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().unwrap_or_else(|_| usage())),
        None => (authority.to_owned(), 80),
    };
    if host != "127.0.0.1" && host != "localhost" && host != "[::1]" {
        eprintln!("refusing to load a non-loopback host: {host}");
        std::process::exit(2)
    }
    Opts { url_host: host, url_port: port, path, body, headers, rate, concurrency, duration, warmup, timeout, drain, expect, label }
}

/// Per-run tallies; one per worker, merged at the end.
struct Stats {
    latency: Histogram<u64>,
    service: Histogram<u64>,
    /// The gateway's own time per request, as its `x-palisade-overhead-ms` header says
    /// (total minus the upstream's time), where the response has one.
    overhead: Histogram<u64>,
    ok: u64,
    bad_status: u64,
    bad_body: u64,
    io_errors: u64,
    timeouts: u64,
    /// Successful responses that completed inside the measured window (throughput).
    done_in_window: u64,
}

impl Stats {
    fn new() -> Stats {
        // 1 µs .. 120 s in ns, 3 significant digits.
        let h = || Histogram::new_with_bounds(1_000, 120_000_000_000, 3).unwrap_or_else(|_| std::process::exit(3));
        Stats { latency: h(), service: h(), overhead: h(), ok: 0, bad_status: 0, bad_body: 0, io_errors: 0, timeouts: 0, done_in_window: 0 }
    }
    fn merge(&mut self, o: &Stats) {
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
        let _ = self.overhead.add(&o.overhead);
        self.ok += o.ok;
        self.bad_status += o.bad_status;
        self.bad_body += o.bad_body;
        self.io_errors += o.io_errors;
        self.timeouts += o.timeouts;
        self.done_in_window += o.done_in_window;
    }
}

struct Conn {
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    async fn ready(&mut self, o: &Opts) -> std::io::Result<&mut SendRequest<Full<Bytes>>> {
        if let Some(s) = &mut self.sender {
            if s.ready().await.is_ok() {
                return Ok(self.sender.as_mut().unwrap_or_else(|| unreachable!()));
            }
            self.sender = None;
        }
        let host = if o.url_host == "localhost" { "127.0.0.1" } else { o.url_host.as_str() };
        let stream = TcpStream::connect((host.trim_matches(|c| c == '[' || c == ']'), o.url_port)).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(self.sender.insert(sender))
    }
}

enum Outcome {
    /// With the gateway's overhead header, when the response has one.
    Ok(Option<Duration>),
    BadStatus,
    BadBody,
    Io,
    Timeout,
}

async fn one_request(conn: &mut Conn, o: &Opts) -> Outcome {
    let fut = async {
        let sender = match conn.ready(o).await {
            Ok(s) => s,
            Err(_) => return Outcome::Io,
        };
        let mut req = Request::post(o.path.as_str()).header("host", format!("{}:{}", o.url_host, o.url_port));
        for (n, v) in &o.headers {
            req = req.header(n.as_str(), v.as_str());
        }
        let Ok(req) = req.body(Full::new(o.body.clone())) else { return Outcome::Io };
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(_) => {
                conn.sender = None;
                return Outcome::Io;
            }
        };
        let status = resp.status();
        let overhead = resp
            .headers()
            .get(OVERHEAD_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok())
            .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok());
        let body = match resp.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                conn.sender = None;
                return Outcome::Io;
            }
        };
        if !status.is_success() {
            return Outcome::BadStatus;
        }
        if let Some(e) = &o.expect {
            if !contains(&body, e.as_bytes()) {
                return Outcome::BadBody;
            }
        }
        Outcome::Ok(overhead)
    };
    match tokio::time::timeout(o.timeout, fut).await {
        Ok(out) => {
            if matches!(out, Outcome::Ok(_)) {
                TOTAL_OK.fetch_add(1, Ordering::Relaxed);
            }
            out
        }
        Err(_) => {
            conn.sender = None;
            Outcome::Timeout
        }
    }
}

/// The response header in which Palisade reports its own time for the request, in ms.
const OVERHEAD_HEADER: &str = "x-palisade-overhead-ms";

/// Successful responses over the whole run, warm-up and drain included (for CPU per request).
static TOTAL_OK: AtomicU64 = AtomicU64::new(0);

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn record(stats: &mut Stats, out: Outcome, latency: Duration, service: Duration) {
    match out {
        Outcome::Ok(overhead) => {
            stats.ok += 1;
            let ns = |d: Duration| d.as_nanos().clamp(1_000, 120_000_000_000) as u64;
            let _ = stats.latency.record(ns(latency));
            let _ = stats.service.record(ns(service));
            if let Some(d) = overhead {
                let _ = stats.overhead.record(ns(d));
            }
        }
        Outcome::BadStatus => stats.bad_status += 1,
        Outcome::BadBody => stats.bad_body += 1,
        Outcome::Io => stats.io_errors += 1,
        Outcome::Timeout => stats.timeouts += 1,
    }
}

/// Work queue shared by the pacer thread (producer) and the connection tasks.
struct Queue {
    due: Mutex<VecDeque<(u64, Instant)>>,
    permits: Semaphore,
    done: AtomicBool,
}

fn set_timer_slack_1us() {
    // Lets nanosleep wake within microseconds instead of the default 50 µs slack.
    #[allow(unsafe_code)]
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes plain integers and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong);
    }
}

fn main() {
    let o = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| {
        eprintln!("runtime: {e}");
        std::process::exit(3)
    });
    let result = rt.block_on(run(o.clone()));
    println!("{result}");
}

async fn run(o: Opts) -> serde_json::Value {
    let o = Arc::new(o);
    // Open every connection first so connection setup is not measured.
    let mut conns = Vec::with_capacity(o.concurrency);
    for _ in 0..o.concurrency {
        let mut c = Conn { sender: None };
        if let Err(e) = c.ready(&o).await {
            eprintln!("cannot connect to {}:{}: {e}", o.url_host, o.url_port);
            std::process::exit(4)
        }
        conns.push(c);
    }
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + o.warmup;
    let send_until = measure_from + o.duration;
    let (stats, measured_sent, extra) = match o.rate {
        Some(rate) => open_loop(&o, conns, rate, start, measure_from, send_until).await,
        None => closed_loop(&o, conns, measure_from, send_until).await,
    };
    let window = o.duration.as_secs_f64();
    let pct = |h: &Histogram<u64>, q: f64| if h.is_empty() { serde_json::Value::Null } else { serde_json::json!(h.value_at_quantile(q) as f64 / 1000.0) };
    let errors = stats.bad_status + stats.bad_body + stats.io_errors + stats.timeouts;
    let achieved = stats.done_in_window as f64 / window;
    let mut v = serde_json::json!({
        "label": o.label,
        "mode": if o.rate.is_some() { "rate" } else { "concurrency" },
        "target_rate": o.rate,
        "connections": o.concurrency,
        "duration_s": window,
        "warmup_s": o.warmup.as_secs_f64(),
        "sent": measured_sent,
        "ok": stats.ok,
        "errors": errors,
        "bad_status": stats.bad_status,
        "bad_body": stats.bad_body,
        "io_errors": stats.io_errors,
        "timeouts": stats.timeouts,
        "throughput_rps": achieved,
        "total_ok_incl_warmup": TOTAL_OK.load(Ordering::Relaxed),
        "latency_us": {
            "p50": pct(&stats.latency, 0.50), "p90": pct(&stats.latency, 0.90), "p99": pct(&stats.latency, 0.99),
            "p999": pct(&stats.latency, 0.999), "max": pct(&stats.latency, 1.0),
            "mean": if stats.latency.is_empty() { serde_json::Value::Null } else { serde_json::json!(stats.latency.mean() / 1000.0) },
        },
        "service_us": {
            "p50": pct(&stats.service, 0.50), "p99": pct(&stats.service, 0.99), "max": pct(&stats.service, 1.0),
        },
        "gateway_overhead_us": {
            "p50": pct(&stats.overhead, 0.50), "p99": pct(&stats.overhead, 0.99), "count": stats.overhead.len(),
        },
    });
    if let (Some(obj), serde_json::Value::Object(x)) = (v.as_object_mut(), extra) {
        obj.extend(x);
    }
    eprintln!(
        "[{}] {} ok={} errors={} thr={:.0}/s p50={}us p99={}us max={}us",
        o.label,
        match o.rate {
            Some(r) => format!("rate={r}"),
            None => format!("c={}", o.concurrency),
        },
        stats.ok,
        errors,
        achieved,
        v["latency_us"]["p50"],
        v["latency_us"]["p99"],
        v["latency_us"]["max"]
    );
    v
}

async fn closed_loop(o: &Arc<Opts>, conns: Vec<Conn>, measure_from: Instant, send_until: Instant) -> (Stats, u64, serde_json::Value) {
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    tokio::time::sleep_until(tokio::time::Instant::from_std(measure_from - o.warmup)).await;
    for mut conn in conns {
        let o = Arc::clone(o);
        let sent = Arc::clone(&sent);
        tasks.push(tokio::spawn(async move {
            let mut st = Stats::new();
            loop {
                let t0 = Instant::now();
                if t0 >= send_until {
                    break;
                }
                let out = one_request(&mut conn, &o).await;
                let t1 = Instant::now();
                // Count a request in the window if it was sent in it.
                if t0 >= measure_from {
                    sent.fetch_add(1, Ordering::Relaxed);
                    if matches!(out, Outcome::Ok(_)) && t1 <= send_until {
                        st.done_in_window += 1;
                    }
                    record(&mut st, out, t1 - t0, t1 - t0);
                }
            }
            st
        }));
    }
    let mut all = Stats::new();
    for t in tasks {
        if let Ok(st) = t.await {
            all.merge(&st);
        }
    }
    (all, sent.load(Ordering::Relaxed), serde_json::json!({}))
}

async fn open_loop(o: &Arc<Opts>, conns: Vec<Conn>, rate: f64, start: Instant, measure_from: Instant, send_until: Instant) -> (Stats, u64, serde_json::Value) {
    let queue = Arc::new(Queue { due: Mutex::new(VecDeque::new()), permits: Semaphore::new(0), done: AtomicBool::new(false) });
    let max_backlog = Arc::new(AtomicU64::new(0));
    let late_max_ns = Arc::new(AtomicU64::new(0));
    // The pacer: an OS thread sleeping precisely to each scheduled time.
    let pacer = {
        let q = Arc::clone(&queue);
        let max_backlog = Arc::clone(&max_backlog);
        let late_max_ns = Arc::clone(&late_max_ns);
        std::thread::spawn(move || {
            set_timer_slack_1us();
            let interval = 1.0 / rate;
            let mut i: u64 = 0;
            let mut measured = 0u64;
            loop {
                let due = start + Duration::from_secs_f64(i as f64 * interval);
                if due >= send_until {
                    break;
                }
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                } else {
                    late_max_ns.fetch_max((now - due).as_nanos() as u64, Ordering::Relaxed);
                }
                // Hand over everything that is due by now.
                let now = Instant::now();
                let mut n = 0usize;
                let backlog = {
                    let Ok(mut d) = q.due.lock() else { break };
                    loop {
                        let due = start + Duration::from_secs_f64(i as f64 * interval);
                        if due > now || due >= send_until {
                            break;
                        }
                        if due >= measure_from {
                            measured += 1;
                        }
                        d.push_back((i, due));
                        i += 1;
                        n += 1;
                    }
                    d.len() as u64
                };
                max_backlog.fetch_max(backlog, Ordering::Relaxed);
                q.permits.add_permits(n);
            }
            q.done.store(true, Ordering::Release);
            // Wake every worker so they can see the end.
            q.permits.add_permits(Semaphore::MAX_PERMITS / 2);
            measured
        })
    };
    let drain_deadline = send_until + o.drain;
    let mut tasks = Vec::new();
    for mut conn in conns {
        let o = Arc::clone(o);
        let q = Arc::clone(&queue);
        tasks.push(tokio::spawn(async move {
            let mut st = Stats::new();
            let mut abandoned = 0u64;
            loop {
                let Ok(permit) = q.permits.acquire().await else { break };
                permit.forget();
                let job = q.due.lock().ok().and_then(|mut d| d.pop_front());
                let Some((_i, due)) = job else {
                    if q.done.load(Ordering::Acquire) {
                        break;
                    }
                    continue;
                };
                let t0 = Instant::now();
                if t0 >= drain_deadline {
                    // Never sent: counts as a timeout if it belonged to the window.
                    if due >= measure_from {
                        abandoned += 1;
                    }
                    continue;
                }
                let out = one_request(&mut conn, &o).await;
                let t1 = Instant::now();
                if matches!(out, Outcome::Ok(_)) && t1 >= measure_from && t1 <= send_until {
                    st.done_in_window += 1;
                }
                if due >= measure_from {
                    record(&mut st, out, t1 - due, t1 - t0);
                }
            }
            st.timeouts += abandoned;
            st
        }));
    }
    let mut all = Stats::new();
    for t in tasks {
        if let Ok(st) = t.await {
            all.merge(&st);
        }
    }
    let measured = pacer.join().unwrap_or(0);
    let extra = serde_json::json!({
        "max_backlog": max_backlog.load(Ordering::Relaxed),
        "pacer_late_max_us": late_max_ns.load(Ordering::Relaxed) as f64 / 1000.0,
    });
    (all, measured, extra)
}
