//! The local stack for `presigned-upload`: one process, three listeners on
//! `127.0.0.1`.
//!
//! * an **S3-protocol store** ([`s3`]): `s3s` + `s3s-fs` with SigV4 auth,
//!   path-style buckets, bucket-style CORS, S3's "one auth mechanism" rule and
//!   error responses that always arrive (the request body is drained first);
//! * a **Hexnode-compatible API** ([`api`]) that mints presigned upload URLs
//!   with [`presign`] (the rusty-s3 crate), verifies, deletes and deploys files;
//! * a **web listener** ([`web`]) serving the demo, the built wasm package, a
//!   sample backend that holds the API key, and `/__dev/*` endpoints for tests;
//! * with `--faults`, **fault injection** ([`faults`]) on all three, scripted
//!   through `POST /__faults` on the web listener.
//!
//! [`start`] binds everything and returns a [`Running`] handle; `main.rs` is a
//! thin CLI around it ([`cli`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod bucket_cors;
pub mod cli;
pub mod cors;
pub mod faults;
pub mod multipart;
pub mod presign;
pub mod ratelimit;
pub mod s3;
pub mod stats;
pub mod util;
pub mod web;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cors::Origins;
use crate::faults::{ConnCtl, Faults};
use crate::ratelimit::{RateLimit, SlidingWindow};
use crate::stats::Stats;
use crate::util::RespBody;

/// The fixed access key id of the dev store.
pub const DEV_ACCESS_KEY_ID: &str = "devaccesskey";
/// The fixed secret access key of the dev store (not a secret: dev only).
pub const DEV_SECRET_ACCESS_KEY: &str = "devsecretkey-for-local-testing-only";
/// The region the store claims and presigned URLs are scoped to.
pub const REGION: &str = "us-east-1";
/// Default `--url-expiry`: 180 minutes.
pub const DEFAULT_URL_EXPIRY_SECS: u64 = 10_800;
/// Longest presigned URL lifetime S3 accepts (7 days).
pub const MAX_URL_EXPIRY_SECS: u64 = 604_800;

/// What to start. Every field has the CLI's default in [`Config::default`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Port of the S3 store (0 = any free port).
    pub s3_port: u16,
    /// Port of the Hexnode-compatible API (0 = any free port).
    pub api_port: u16,
    /// Port of the web listener (0 = any free port).
    pub web_port: u16,
    /// Where the store keeps objects (`DATA/store`); `None` = a temporary
    /// directory removed at shutdown.
    pub data_dir: Option<PathBuf>,
    /// The API key; `None` = a random `hx_dev_<32 hex>`.
    pub api_key: Option<String>,
    /// The bucket uploads go to.
    pub bucket: String,
    /// Default lifetime of presigned URLs, in seconds.
    pub url_expiry_secs: u64,
    /// Optional API rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Extra allowed CORS origins besides the loopback ones.
    pub extra_origins: Vec<String>,
    /// The store bucket's CORS rules (`--cors FILE`); `None`: every allowed origin may use
    /// GET, PUT, HEAD, POST and DELETE with any header.
    pub bucket_cors: Option<bucket_cors::BucketCors>,
    /// Static files served at `/`.
    pub www_dir: PathBuf,
    /// The built wasm package served at `/pkg/`.
    pub pkg_dir: PathBuf,
    /// Where to write the ready file once every listener is bound.
    pub ready_file: Option<PathBuf>,
    /// Turn on fault injection (`POST /__faults`); off, `/__faults` is 404.
    pub faults: bool,
    /// Serve the API without any CORS header, preflights included, as Hexnode's own API may:
    /// then a page on another origin cannot call it (`--api-no-cors`).
    pub api_no_cors: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            s3_port: 9000,
            api_port: 9001,
            web_port: 8080,
            data_dir: None,
            api_key: None,
            bucket: "uploads".to_owned(),
            url_expiry_secs: DEFAULT_URL_EXPIRY_SECS,
            rate_limit: None,
            extra_origins: Vec::new(),
            bucket_cors: None,
            www_dir: PathBuf::from("www"),
            pkg_dir: PathBuf::from("pkg"),
            ready_file: None,
            faults: false,
            api_no_cors: false,
        }
    }
}

impl Config {
    /// The defaults, but every port 0: what tests use.
    #[must_use]
    pub fn ephemeral() -> Self {
        Self {
            s3_port: 0,
            api_port: 0,
            web_port: 0,
            ..Self::default()
        }
    }
}

/// Why [`start`] failed.
#[derive(Debug)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The contents of the ready file (and what tests need to talk to the stack).
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ReadyInfo {
    /// Port of the S3 store.
    pub s3_port: u16,
    /// Port of the API.
    pub api_port: u16,
    /// Port of the web listener.
    pub web_port: u16,
    /// `http://127.0.0.1:<s3_port>`.
    pub s3_endpoint: String,
    /// `http://127.0.0.1:<api_port>`.
    pub api_base: String,
    /// `http://127.0.0.1:<web_port>`.
    pub web_base: String,
    /// The API key.
    pub api_key: String,
    /// The bucket.
    pub bucket: String,
    /// The region.
    pub region: String,
    /// The store's access key id.
    pub access_key_id: String,
    /// The store's secret access key.
    pub secret_access_key: String,
}

/// One presigned upload the API knows about.
#[derive(Clone, Debug)]
pub(crate) struct Upload {
    pub(crate) file_name: String,
    pub(crate) content_type: String,
    pub(crate) key: String,
    pub(crate) id: Option<u64>,
    pub(crate) size: u64,
    pub(crate) deleted: bool,
}

/// The API's in-memory file registry.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) by_uuid: HashMap<String, Upload>,
    pub(crate) uuid_by_id: HashMap<u64, String>,
    pub(crate) next_id: u64,
}

/// State shared by the three listeners.
pub(crate) struct App {
    pub(crate) info: ReadyInfo,
    pub(crate) url_expiry_secs: u64,
    pub(crate) store_root: PathBuf,
    pub(crate) www_dir: PathBuf,
    pub(crate) pkg_dir: PathBuf,
    pub(crate) origins: Origins,
    /// The store bucket's CORS rules now (`POST /__cors` may change them), and at startup.
    pub(crate) bucket_cors: std::sync::RwLock<Option<bucket_cors::BucketCors>>,
    pub(crate) startup_cors: Option<bucket_cors::BucketCors>,
    pub(crate) stats: Stats,
    pub(crate) s3: s3s::service::S3Service,
    pub(crate) registry: Mutex<Registry>,
    pub(crate) limiter: Option<Mutex<SlidingWindow>>,
    pub(crate) client: Client<HttpConnector, Full<Bytes>>,
    /// The sample backend's multipart counters and keys ([`multipart`]).
    pub(crate) multipart: multipart::MultipartState,
    /// The fault injector, with `--faults`.
    pub(crate) faults: Option<Faults>,
    /// Mints the presigned URLs of the API, the sample backend and the multipart endpoints.
    pub(crate) presigner: presign::Presigner,
    /// The API sends no CORS header at all (`--api-no-cors`).
    pub(crate) api_no_cors: bool,
    /// Bumped to make every listener close its idle keep-alive connections.
    pub(crate) recycle: watch::Sender<u64>,
}

impl App {
    /// Path of an object of the bucket in the s3s-fs layout (`store/bucket/key`).
    pub(crate) fn object_path(&self, key: &str) -> Option<PathBuf> {
        util::safe_join(&self.store_root.join(&self.info.bucket), key)
    }

    /// Closes idle keep-alive connections of every listener (busy ones close after their
    /// current request), so that the next requests come on fresh connections.
    pub(crate) fn recycle_connections(&self) {
        self.recycle.send_modify(|g| *g = g.wrapping_add(1));
    }
}

/// A started stack. Drop it or call [`Running::shutdown`] to stop it.
pub struct Running {
    info: ReadyInfo,
    data_dir: PathBuf,
    temp_dir: Option<PathBuf>,
    shutdown_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Ports, URLs and credentials of the stack (the ready file's contents).
    #[must_use]
    pub fn info(&self) -> &ReadyInfo {
        &self.info
    }

    /// The data directory (objects live in `DATA/store/BUCKET/KEY`).
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops accepting, closes connections and removes the temporary data
    /// directory if one was made.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        if let Some(dir) = self.temp_dir.take() {
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(dir) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn bind(port: u16, flag: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| StartError(format!("cannot listen on 127.0.0.1:{port} ({flag}): {e}")))
}

fn local_port(l: &TcpListener) -> Result<u16, StartError> {
    l.local_addr()
        .map(|a: SocketAddr| a.port())
        .map_err(|e| StartError(format!("cannot read a listener's address: {e}")))
}

/// Writes `contents` to `path` atomically: a temporary file beside it, then a
/// rename.
fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Binds the three listeners, prepares the store and starts serving. The
/// ready file (if configured) is written once every listener is bound.
///
/// # Errors
/// A port cannot be bound, or the data directory cannot be prepared.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let s3_listener = bind(config.s3_port, "--s3-port").await?;
    let api_listener = bind(config.api_port, "--api-port").await?;
    let web_listener = bind(config.web_port, "--web-port").await?;
    let (s3_port, api_port, web_port) = (
        local_port(&s3_listener)?,
        local_port(&api_listener)?,
        local_port(&web_listener)?,
    );

    let (data_dir, temp_dir) = match &config.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let d = std::env::temp_dir().join(format!(
                "devserver-{}-{}",
                std::process::id(),
                util::random_hex(6)
            ));
            (d.clone(), Some(d))
        }
    };
    let store_root = data_dir.join("store");
    std::fs::create_dir_all(store_root.join(&config.bucket))
        .map_err(|e| StartError(format!("cannot create {}: {e}", store_root.display())))?;
    let store_root = store_root
        .canonicalize()
        .map_err(|e| StartError(format!("cannot resolve {}: {e}", store_root.display())))?;
    let fs = s3s_fs::FileSystem::new(&store_root).map_err(|e| {
        StartError(format!(
            "cannot open the store at {}: {e:?}",
            store_root.display()
        ))
    })?;
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        DEV_ACCESS_KEY_ID,
        DEV_SECRET_ACCESS_KEY,
    ));
    let s3 = builder.build();

    let api_key = config
        .api_key
        .clone()
        .unwrap_or_else(|| format!("hx_dev_{}", util::random_hex(16)));
    let base = |p: u16| format!("http://127.0.0.1:{p}");
    let info = ReadyInfo {
        s3_port,
        api_port,
        web_port,
        s3_endpoint: base(s3_port),
        api_base: base(api_port),
        web_base: base(web_port),
        api_key,
        bucket: config.bucket.clone(),
        region: REGION.to_owned(),
        access_key_id: DEV_ACCESS_KEY_ID.to_owned(),
        secret_access_key: DEV_SECRET_ACCESS_KEY.to_owned(),
    };
    let presigner = presign::Presigner::new(
        &info.s3_endpoint,
        &info.bucket,
        &info.region,
        &info.access_key_id,
        &info.secret_access_key,
    )
    .map_err(StartError)?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let app = Arc::new(App {
        info: info.clone(),
        url_expiry_secs: config.url_expiry_secs,
        store_root,
        www_dir: config.www_dir.clone(),
        pkg_dir: config.pkg_dir.clone(),
        origins: Origins::new(&config.extra_origins),
        bucket_cors: std::sync::RwLock::new(config.bucket_cors.clone()),
        startup_cors: config.bucket_cors.clone(),
        stats: Stats::default(),
        s3,
        registry: Mutex::new(Registry {
            next_id: 1,
            ..Registry::default()
        }),
        limiter: config.rate_limit.map(|l| Mutex::new(SlidingWindow::new(l))),
        client,
        multipart: multipart::MultipartState::default(),
        faults: config.faults.then(Faults::default),
        presigner,
        api_no_cors: config.api_no_cors,
        recycle: watch::channel(0).0,
    });

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let tasks = vec![
        serve(s3_listener, app.clone(), shutdown_rx.clone(), s3::handle),
        serve(api_listener, app.clone(), shutdown_rx.clone(), api::handle),
        serve(web_listener, app, shutdown_rx, web::handle),
    ];
    let running = Running {
        info,
        data_dir,
        temp_dir,
        shutdown_tx,
        tasks,
    };

    if let Some(path) = &config.ready_file {
        let json = serde_json::to_vec_pretty(&running.info).unwrap_or_default();
        write_atomic(path, &json).map_err(|e| {
            StartError(format!(
                "cannot write the ready file {}: {e}",
                path.display()
            ))
        })?;
    }
    Ok(running)
}

/// Resolves once the shutdown flag is set (or its sender is gone).
async fn wait_shutdown(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Accepts HTTP/1.1 connections on `listener` and answers each request with
/// `handler` until shutdown.
///
/// Every request carries a [`ConnCtl`] for its connection: a handler that kills it has the
/// connection dropped at once with a TCP reset. While a fault-injected reset may fire, every
/// response says `Connection: close`, and [`App::recycle_connections`] closes idle ones.
fn serve<H, F>(
    listener: TcpListener,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
    handler: H,
) -> JoinHandle<()>
where
    H: Fn(Arc<App>, Request<Incoming>) -> F + Copy + Send + Sync + 'static,
    F: Future<Output = Response<RespBody>> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                r = listener.accept() => match r {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Out of file descriptors or similar: back off a little.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = wait_shutdown(&mut shutdown) => break,
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let mut recycle = app.recycle.subscribe();
            recycle.mark_unchanged();
            tokio::spawn(serve_connection(
                stream,
                app,
                handler,
                ConnCtl::default(),
                shutdown.clone(),
                recycle,
            ));
        }
    })
}

/// Serves one connection until it ends, is killed, recycled or the server shuts down.
async fn serve_connection<H, F>(
    stream: tokio::net::TcpStream,
    app: Arc<App>,
    handler: H,
    ctl: ConnCtl,
    mut conn_shutdown: watch::Receiver<bool>,
    mut recycle: watch::Receiver<u64>,
) where
    H: Fn(Arc<App>, Request<Incoming>) -> F + Copy + Send + Sync + 'static,
    F: Future<Output = Response<RespBody>> + Send + 'static,
{
    let svc = {
        let ctl = ctl.clone();
        service_fn(move |mut req: Request<Incoming>| {
            let app = app.clone();
            req.extensions_mut().insert(ctl.clone());
            async move {
                let mut resp = handler(app.clone(), req).await;
                if app.faults.as_ref().is_some_and(Faults::reset_armed) {
                    resp.headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let mut conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), svc);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = &mut conn => return,
            () = ctl.killed() => break,
            () = wait_shutdown(&mut conn_shutdown) => {
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut conn).await;
                return;
            }
            r = recycle.changed(), if !closing => {
                closing = true;
                if r.is_ok() {
                    std::pin::Pin::new(&mut conn).graceful_shutdown();
                }
            }
        }
    }
    // Killed: drop the socket with a reset (SO_LINGER 0), not a FIN, whatever is unread.
    let stream = conn.into_parts().io.into_inner();
    let _ = stream.set_zero_linger();
    drop(stream);
}
