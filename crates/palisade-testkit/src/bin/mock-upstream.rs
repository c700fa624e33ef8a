//! `palisade-mock-upstream --port P`: the mock OpenAI upstream as a process, for the
//! Python tests and the benchmarks. `--no-record` turns off request recording.
#![allow(clippy::print_stdout)]

use clap::Parser;
use palisade_testkit::mock_upstream::MockUpstream;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long)]
    no_record: bool,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let threads = std::env::var("MOCK_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let addr = format!("127.0.0.1:{}", args.port)
            .parse()
            .map_err(std::io::Error::other)?;
        let mock = MockUpstream::start_on(addr, !args.no_record).await?;
        println!("mock upstream listening on {}", mock.addr);
        mock.wait().await;
        Ok(())
    })
}
