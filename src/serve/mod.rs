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

use crate::error::Error;
use crate::run::Messages;
use crate::store::sessions::Lifetime;
use anyhow::Context;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use postgres::Client;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Database connections the server holds at most.
pub const POOL: usize = 4;

/// How the server runs.
pub struct Options {
    pub bind: SocketAddr,
    pub url: String,
    pub life: Lifetime,
    /// Mark cookies `Secure` on every answer (else only when a proxy says
    /// the request came over HTTPS: `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
}

/// The server's state, shared by every request.
pub struct App {
    url: String,
    idle: Mutex<Vec<Client>>,
    permits: Arc<Semaphore>,
    pub life: Lifetime,
    pub secure_cookies: bool,
    pub limiter: auth::Limiter,
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
    BadRequest(String),
    Forbidden(String),
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
            Fail::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            Fail::Forbidden(why) => (StatusCode::FORBIDDEN, why),
            Fail::NotFound => (StatusCode::NOT_FOUND, "There is no such page.".to_string()),
        };
        (status, pages::message_page(status, &text)).into_response()
    }
}

impl App {
    /// Runs `f` with a pooled client on a blocking thread.
    pub async fn db<T, F>(self: &Arc<Self>, f: F) -> Result<T, Fail>
    where
        F: FnOnce(&mut Client) -> crate::error::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.expect("the pool is never closed");
        let app = self.clone();
        let out = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut client = app.take()?;
            let out = f(&mut client).map_err(anyhow::Error::from);
            if !client.is_closed() {
                app.idle.lock().expect("pool lock").push(client);
            }
            out
        })
        .await
        .map_err(|e| Fail::Db(anyhow::anyhow!("a database task failed: {e}")))?;
        out.map_err(|e| {
            self.msgs.error(&format!("dashboard: {e:#}"));
            Fail::Db(e)
        })
    }

    /// Runs CPU-bound `f` (password hashing) on a blocking thread.
    pub async fn cpu<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        tokio::task::spawn_blocking(f).await.expect("a hashing task does not panic")
    }

    fn take(&self) -> anyhow::Result<Client> {
        let idle = self.idle.lock().expect("pool lock").pop();
        match idle {
            Some(c) => Ok(c),
            None => crate::store::connect(&self.url),
        }
    }
}

/// Serves until interrupted (Ctrl-C or SIGTERM), then finishes the
/// requests in flight.
pub fn serve(opts: Options, msgs: Messages) -> anyhow::Result<()> {
    // Migrations first, on this thread: a server never runs on an old schema.
    let client = crate::store::open(&opts.url)?;
    let app = Arc::new(App {
        url: opts.url,
        idle: Mutex::new(vec![client]),
        permits: Arc::new(Semaphore::new(POOL)),
        life: opts.life,
        secure_cookies: opts.secure_cookies,
        limiter: auth::Limiter::default(),
        dummy_hash: auth::dummy_hash()?,
        msgs,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(POOL + 4)
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.bind)
            .await
            .with_context(|| format!("cannot listen on {}", opts.bind))?;
        let addr = listener.local_addr()?;
        app.msgs.info(&format!("dashboard listening on http://{addr}/"));
        let service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).with_graceful_shutdown(shutdown()).await?;
        app.msgs.info("dashboard stopped");
        Ok(())
    })
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
        .route("/signin", get(auth::signin_page).post(auth::signin))
        .route("/signout", post(auth::signout))
        .route("/", get(pages::overview))
        .route("/logs", get(pages::logs))
        .route("/alerts", get(pages::alerts))
        .route("/alerts/{id}", get(pages::alert))
        .route("/alerts/{id}/ack", post(pages::acknowledge))
        .route("/runs", get(pages::runs))
        .route("/rules", get(pages::rules))
        .route("/assets/logtrack.css", get(pages::style))
        .route("/healthz", get(pages::health))
        .fallback(|| async { Fail::NotFound })
        .layer(axum::middleware::from_fn(guard))
        .with_state(app)
}

/// Refuses a POST from another site's page (its `Origin` names neither
/// the `Host` asked for nor a proxy's `X-Forwarded-Host`), and adds the
/// headers every answer carries.
async fn guard(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let named = |h: &str| req.headers().get(h).and_then(|v| v.to_str().ok());
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .map(|(_, rest)| rest.trim_end_matches('/'));
            let ours = |o: &str| Some(o) == named("host") || Some(o) == named("x-forwarded-host");
            if !origin_host.is_some_and(ours) {
                return Fail::Forbidden("A form from another site was refused.".into())
                    .into_response();
            }
        }
    }
    let mut res = next.run(req).await;
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
