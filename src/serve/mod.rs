//! `logtrack serve`: the dashboard over the PostgreSQL store.
//!
//! An axum server on a small tokio runtime. The store's client is the
//! synchronous `postgres` one, so every query runs on tokio's blocking
//! threads (`spawn_blocking`) with a client from a pool of at most
//! [`POOL`] connections; a request waits for a free one instead of
//! opening more. Argon2 verification runs there too: neither blocks the
//! threads that serve other requests.
//!
//! What every page relies on:
//! - every page but sign-in needs a live session ([`auth::Session`]);
//!   every form carries the session's CSRF token, checked before anything
//!   changes, and a POST whose `Origin` is another site is refused;
//! - every value from a log or a job is written by `maud`, which escapes
//!   it; pages carry no script, and the `Content-Security-Policy` forbids
//!   scripts, frames and fetches, so a hostile log line stays text;
//! - the style sheet is compiled into the binary: the dashboard needs no
//!   network beyond its own address.

pub mod auth;
mod pages;
pub mod proxy;
mod signin;

use crate::error::Error;
use crate::run::Messages;
use crate::store::sessions::Lifetime;
use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use postgres::{CancelToken, Client};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Database connections the pages hold at most.
pub const POOL: usize = 4;
/// Connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections one address (other than a trusted proxy) may hold at once;
/// more are answered 503 and closed as they come.
pub const PER_ADDRESS: usize = 64;
/// Requests of one session (or, without one, of one client address) that
/// run at once; more wait their turn, so that one person's many slow
/// searches cannot take every pooled connection.
pub const PER_SESSION: usize = 2;
/// How long requests in flight get to finish when the server stops.
const DRAIN: Duration = Duration::from_secs(10);

/// How the server runs.
pub struct Options {
    pub bind: SocketAddr,
    pub url: String,
    pub life: Lifetime,
    /// Mark cookies `Secure` on every answer (else only when a trusted
    /// proxy says the request came over HTTPS).
    pub secure_cookies: bool,
    /// Proxies whose forwarded headers are believed.
    pub proxies: proxy::Proxies,
    /// The longest one page's query may run (PostgreSQL's `statement_timeout`).
    pub statement_timeout: Duration,
    /// The longest a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// The longest a request may take after its headers (body, turn, work).
    pub request_timeout: Duration,
}

/// The server's state, shared by every request.
pub struct App {
    url: String,
    idle: Mutex<Vec<Client>>,
    permits: Arc<Semaphore>,
    /// `/healthz`'s own connection: a monitor is answered while every
    /// pooled connection is busy.
    health: Mutex<Option<Client>>,
    statement_timeout: Duration,
    pub life: Lifetime,
    pub secure_cookies: bool,
    pub proxies: proxy::Proxies,
    pub limiter: auth::Limiter,
    request_timeout: Duration,
    /// The requests running per session or client address (see
    /// [`PER_SESSION`]).
    turns: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// A hash verified when the user is unknown, so that an unknown user
    /// costs what a wrong password does.
    pub dummy_hash: String,
    pub msgs: Messages,
}

/// Why a request failed, as the answer says it.
#[derive(Debug)]
pub enum Fail {
    /// The database could not answer (logged; the page says only that).
    Db(anyhow::Error),
    /// The query ran past the statement timeout.
    TooSlow,
    BadRequest(String),
    Forbidden(String),
    /// The request is at odds with the state of what it names.
    Conflict(String),
    /// The request (its body, its turn, its work) took longer than
    /// `--request-timeout`.
    TimedOut,
    NotFound,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Db(e.into())
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Fail::Db(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The database could not answer; the server's log says why.".to_string(),
            ),
            Fail::TooSlow => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The query took too long and was stopped: narrow the filters (a service, a shorter time span) and try again."
                    .to_string(),
            ),
            Fail::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            Fail::Forbidden(why) => (StatusCode::FORBIDDEN, why),
            Fail::Conflict(why) => (StatusCode::CONFLICT, why),
            Fail::TimedOut => (
                StatusCode::REQUEST_TIMEOUT,
                "The request took too long and was stopped.".to_string(),
            ),
            Fail::NotFound => (StatusCode::NOT_FOUND, "There is no such page.".to_string()),
        };
        let mut res = (status, pages::message_page(status, &text)).into_response();
        if status == StatusCode::REQUEST_TIMEOUT {
            // What is left of the request (a body sent slowly) is not read.
            res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

/// A query's connection while it runs, so that a request whose client
/// went away (its future dropped) cancels the query instead of holding a
/// pooled connection until the query ends.
#[derive(Default)]
struct Running {
    token: Option<CancelToken>,
    abandoned: bool,
}

/// Cancels the query of its [`Running`] when dropped before `done`.
struct CancelOnDrop {
    running: Arc<Mutex<Running>>,
    url: String,
    done: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut r = self.running.lock().unwrap_or_else(|e| e.into_inner());
        r.abandoned = true;
        if let Some(token) = r.token.take() {
            let url = self.url.clone();
            // The cancel request is a blocking call with its own connection.
            std::thread::spawn(move || {
                let _ = crate::store::cancel(&url, &token);
            });
        }
    }
}

/// The SQLSTATE of a database error, if the error is one.
fn sqlstate(e: &anyhow::Error) -> Option<&postgres::error::SqlState> {
    e.chain().find_map(|c| c.downcast_ref::<postgres::Error>()).and_then(|p| p.code())
}

impl App {
    /// Runs `f` with a pooled client on a blocking thread. Dropping the
    /// returned future (the client hung up) cancels the query.
    pub async fn db<T, F>(self: &Arc<Self>, f: F) -> Result<T, Fail>
    where
        F: FnOnce(&mut Client) -> crate::error::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.expect("the pool is never closed");
        let app = self.clone();
        let running = Arc::new(Mutex::new(Running::default()));
        let mut guard =
            CancelOnDrop { running: running.clone(), url: self.url.clone(), done: false };
        let out = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut client = app.take()?;
            {
                let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                if r.abandoned {
                    app.give_back(client);
                    anyhow::bail!("the client went away");
                }
                r.token = Some(client.cancel_token());
            }
            let out = f(&mut client).map_err(anyhow::Error::from);
            let abandoned = {
                let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                r.token = None;
                r.abandoned
            };
            if abandoned {
                app.msgs.warn("dashboard: a query was stopped: its client went away");
            }
            app.give_back(client);
            out
        })
        .await;
        guard.done = true;
        let out = out.map_err(|e| Fail::Db(anyhow::anyhow!("a database task failed: {e}")))?;
        out.map_err(|e| self.db_failure(e))
    }

    /// What a failed query answers: a timeout or bad input is the
    /// request's doing (503, 400), anything else the server's (500, logged).
    fn db_failure(&self, e: anyhow::Error) -> Fail {
        use postgres::error::SqlState;
        match sqlstate(&e) {
            Some(c) if *c == SqlState::QUERY_CANCELED => {
                self.msgs.warn(&format!("dashboard: a query was stopped: {e:#}"));
                Fail::TooSlow
            }
            // Class 22, data exceptions: a value the request carried that
            // PostgreSQL cannot take (checked before, this is the backstop).
            Some(c) if c.code().starts_with("22") => {
                Fail::BadRequest("A value of this request cannot be searched for.".into())
            }
            _ => {
                self.msgs.error(&format!("dashboard: {e:#}"));
                Fail::Db(e)
            }
        }
    }

    /// Runs CPU-bound `f` (password hashing) on a blocking thread.
    pub async fn cpu<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        tokio::task::spawn_blocking(f).await.expect("a hashing task does not panic")
    }

    /// `SELECT 1` on the health connection, with a short timeout.
    pub async fn healthy(self: &Arc<Self>) -> Result<(), Fail> {
        let app = self.clone();
        let out = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let mut slot = app.health.lock().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_none_or(Client::is_closed) {
                *slot = Some(app.connect(Duration::from_secs(2))?);
            }
            let c = slot.as_mut().expect("just made");
            c.simple_query("SELECT 1").map_err(Error::db("checking the database"))?;
            Ok(())
        })
        .await
        .map_err(|e| Fail::Db(anyhow::anyhow!("a database task failed: {e}")))?;
        out.map_err(|e| self.db_failure(e))
    }

    /// A new connection whose statements stop after `timeout`.
    fn connect(&self, timeout: Duration) -> anyhow::Result<Client> {
        let mut c = crate::store::connect(&self.url)?;
        limit_statements(&mut c, timeout)?;
        Ok(c)
    }

    fn take(&self) -> anyhow::Result<Client> {
        let idle = self.idle.lock().expect("pool lock").pop();
        match idle {
            Some(c) => Ok(c),
            None => self.connect(self.statement_timeout),
        }
    }

    fn give_back(&self, client: Client) {
        if !client.is_closed() {
            self.idle.lock().expect("pool lock").push(client);
        }
    }
}

/// Sets the session's `statement_timeout` (and an idle-in-transaction one).
fn limit_statements(c: &mut Client, timeout: Duration) -> anyhow::Result<()> {
    let ms = timeout.as_millis().max(1);
    c.batch_execute(&format!(
        "SET statement_timeout = {ms}; SET idle_in_transaction_session_timeout = {}",
        ms.max(60_000)
    ))
    .context("setting the dashboard's statement timeout")
}

/// Serves until interrupted (Ctrl-C or SIGTERM), then finishes the
/// requests in flight (for at most [`DRAIN`]) and exits cleanly.
pub fn serve(opts: Options, msgs: Messages) -> anyhow::Result<()> {
    // Migrations first, on this thread: a server never runs on an old schema.
    let mut client = crate::store::open(&opts.url)?;
    limit_statements(&mut client, opts.statement_timeout)?;
    let app = Arc::new(App {
        url: opts.url,
        idle: Mutex::new(vec![client]),
        permits: Arc::new(Semaphore::new(POOL)),
        health: Mutex::new(None),
        statement_timeout: opts.statement_timeout,
        life: opts.life,
        secure_cookies: opts.secure_cookies,
        proxies: opts.proxies,
        limiter: auth::Limiter::default(),
        request_timeout: opts.request_timeout,
        turns: Mutex::new(HashMap::new()),
        dummy_hash: auth::dummy_hash()?,
        msgs,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(POOL + 16)
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    let served = {
        let app = app.clone();
        let (bind, header_timeout) = (opts.bind, opts.header_timeout);
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind}"))?;
            let addr = listener.local_addr()?;
            app.msgs.info(&format!("dashboard listening on http://{addr}/"));
            accept(listener, router(app.clone()), header_timeout, &app.proxies, &app.msgs).await;
            app.msgs.info("dashboard stopped");
            anyhow::Ok(())
        })
    };
    // The pooled clients are synchronous ones, each with a runtime of its
    // own: they are dropped here, after the server's runtime, never inside it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(app);
    served
}

/// Accepts connections until a stop signal, then lets those open finish
/// their requests (for at most [`DRAIN`]). Each connection is HTTP/1.1
/// with a timeout for its request headers: a slow client holds no
/// connection for longer.
async fn accept(
    listener: tokio::net::TcpListener,
    router: Router,
    header_timeout: Duration,
    proxies: &proxy::Proxies,
    msgs: &Messages,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let (close, closing) = tokio::sync::watch::channel(());
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_address: Arc<Mutex<HashMap<std::net::IpAddr, usize>>> = Arc::default();
    let mut conns = tokio::task::JoinSet::new();
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            _ = &mut stop => break,
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    msgs.warn(&format!("dashboard: accepting a connection failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // One address holds at most PER_ADDRESS connections (a proxy we
        // trust holds its clients' and is not counted).
        let ip = crate::net::unmap(peer.ip());
        let counted = !proxies.trusted(ip);
        if counted {
            let mut held = per_address.lock().expect("not poisoned");
            let n = held.entry(ip).or_insert(0);
            if *n >= PER_ADDRESS {
                drop(held);
                // Said, not just closed (briefly: a reader that does not
                // read is not waited for); its slot goes back at once.
                drop(slot);
                conns.spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut stream = stream;
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        stream.write_all(TOO_MANY_CONNECTIONS).await?;
                        stream.shutdown().await?;
                        // What the client sent is read, not reset: it gets
                        // the answer.
                        let mut sink = [0u8; 4096];
                        for _ in 0..16 {
                            if stream.read(&mut sink).await? == 0 {
                                break;
                            }
                        }
                        std::io::Result::Ok(())
                    })
                    .await;
                });
                continue;
            }
            *n += 1;
        }
        let release = AddressSlot { per_address: per_address.clone(), ip, counted };
        let service =
            router.clone().map_request(move |req: axum::http::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut closing = closing.clone();
        conns.spawn(async move {
            let _slot = (slot, release);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let mut asked = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = closing.changed(), if !asked => {
                        asked = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
        // Reap the finished ones as we go.
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    drop(close);
    let _ = tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

/// A request's turn among its session's ([`PER_SESSION`] at once).
struct Turn {
    app: Arc<App>,
    key: String,
    turns: Option<Arc<Semaphore>>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Turn {
    async fn take(app: &Arc<App>, key: String) -> Turn {
        let turns = {
            let mut all = app.turns.lock().unwrap_or_else(|e| e.into_inner());
            all.entry(key.clone()).or_insert_with(|| Arc::new(Semaphore::new(PER_SESSION))).clone()
        };
        // (Dropped while waiting, the turn still tidies up.)
        let mut turn = Turn { app: app.clone(), key, turns: Some(turns.clone()), permit: None };
        turn.permit = Some(turns.acquire_owned().await.expect("never closed"));
        turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.permit.take();
        self.turns.take();
        let mut all = self.app.turns.lock().unwrap_or_else(|e| e.into_inner());
        // Nobody else holds or waits for this key's turns: forget it.
        if all.get(&self.key).is_some_and(|t| Arc::strong_count(t) == 1) {
            all.remove(&self.key);
        }
    }
}

/// The answer to a connection over [`PER_ADDRESS`].
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\n\
Content-Length: 44\r\n\r\nToo many connections from your address now.\n";

/// An address's connection, counted until it closes.
struct AddressSlot {
    per_address: Arc<Mutex<HashMap<std::net::IpAddr, usize>>>,
    ip: std::net::IpAddr,
    counted: bool,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut held = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! { _ = interrupt => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// Every route.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/signin", get(signin::signin_page).post(signin::signin))
        .route("/signout", post(signin::signout))
        .route("/", get(pages::overview))
        .route("/logs", get(pages::logs))
        .route("/alerts", get(pages::alerts))
        .route("/alerts/{id}", get(pages::alert))
        .route("/alerts/{id}/ack", post(pages::acknowledge))
        .route("/incidents/{id}", get(pages::incident))
        .route("/incidents/{id}/ack", post(pages::acknowledge_incident))
        .route("/runs", get(pages::runs))
        .route("/rules", get(pages::rules))
        .route("/templates", get(pages::templates))
        .route("/silences", get(pages::silences_page).post(pages::add_silence))
        .route("/silences/{id}/expire", post(pages::expire_silence))
        .route("/assets/logtrack.css", get(pages::style))
        .route("/healthz", get(pages::health))
        .fallback(|| async { Fail::NotFound })
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Works out who the request is from ([`proxy::Peer`], handed to the
/// handlers as an extension), refuses a POST from another site's page
/// (its `Origin` names neither the `Host` asked for nor, from a trusted
/// proxy, the forwarded host), and adds the headers every answer carries.
async fn guard(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let tcp = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
    let peer = app.proxies.peer(tcp, req.headers());
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .map(|(_, rest)| rest.trim_end_matches('/'));
            // (Host names are case-insensitive.)
            let same = |a: &str, b: Option<&str>| b.is_some_and(|b| a.eq_ignore_ascii_case(b));
            let ours = |o: &str| same(o, host) || same(o, peer.forwarded_host.as_deref());
            if !origin_host.is_some_and(ours) {
                return Fail::Forbidden("A form from another site was refused.".into())
                    .into_response();
            }
        }
    }
    // One session's (or, without one, one address's) requests take turns;
    // a monitor's never waits. The whole request has a deadline.
    let key = match app.cookie(req.headers(), &peer, auth::SESSION_COOKIE) {
        Some(token) => format!("session {token}"),
        None => format!("address {}", peer.client),
    };
    let health = req.uri().path() == "/healthz";
    req.extensions_mut().insert(peer);
    let work = async {
        let _turn = if health { None } else { Some(Turn::take(&app, key).await) };
        next.run(req).await
    };
    let mut res = match tokio::time::timeout(app.request_timeout, work).await {
        Ok(res) => res,
        Err(_) => Fail::TimedOut.into_response(),
    };
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::CACHE_CONTROL, "no-store");
    res
}
