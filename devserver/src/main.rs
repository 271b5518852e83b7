//! `devserver`: the local S3 store, Hexnode-compatible API and demo server.
//! See `devserver --help` and the library docs.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use devserver::cli::{self, Command};

fn main() -> ExitCode {
    let (config, quiet) = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run { config, quiet }) => (*config, quiet),
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("devserver: {e}");
            eprintln!("Try `devserver --help`.");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("devserver: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config, quiet))
}

async fn run(config: devserver::Config, quiet: bool) -> ExitCode {
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("devserver: cannot listen for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match devserver::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("devserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    let info = running.info();
    // Write errors (a closed pipe) must not stop the server: ignore them.
    let mut out = std::io::stdout().lock();
    if !quiet {
        let _ = writeln!(
            out,
            "S3 store:  {}  (bucket {}, region {})",
            info.s3_endpoint, info.bucket, info.region
        );
        let _ = writeln!(out, "API:       {}", info.api_base);
        let _ = writeln!(out, "Web:       {}", info.web_base);
        let _ = writeln!(out, "Data:      {}", running.data_dir().display());
    }
    let _ = writeln!(out, "API key:   {}", info.api_key);
    let _ = writeln!(out, "Demo: {}/", info.web_base);
    let _ = out.flush();
    drop(out);

    signals.wait().await;
    if !quiet {
        let _ = writeln!(std::io::stderr(), "devserver: shutting down");
    }
    running.shutdown().await;
    ExitCode::SUCCESS
}

/// SIGINT and SIGTERM listeners, installed before the banner is printed so a
/// signal sent right after start-up is never missed.
#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves on SIGINT or SIGTERM.
    async fn wait(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    /// Resolves on Ctrl-C.
    async fn wait(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
