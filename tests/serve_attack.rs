//! The dashboard as an attacker or a careless client would use it, against
//! a real PostgreSQL and a real `logtrack serve` process: bursts of
//! sign-ins, forged proxy headers, slow queries whose clients hang up,
//! bad input, slow headers, and stopping the server.

mod common;

use common::dashboard::{self, sign_in, Server, ADMIN, VIEWER};
use common::http::{encode, Client};
use common::pg::count;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn setup(test: &str) -> Option<(common::pg::TestDb, tempfile::TempDir)> {
    let url = common::pg::database(test)?;
    let dir = tempfile::tempdir().unwrap();
    dashboard::load(&url, dir.path(), &[]);
    Some((url, dir))
}

fn signed_in(server: &Server, who: (&str, &str)) -> Client {
    let mut c = server.client();
    let r = sign_in(&mut c, who, "/");
    assert_eq!(r.status, 303, "{}", r.body);
    c
}

/// A sign-in form's token, with its cookie in `c`'s jar.
fn form_token(c: &mut Client) -> String {
    c.get("/signin").input("csrf").unwrap()
}

#[test]
fn a_burst_of_parallel_sign_ins_is_limited_before_the_hash() {
    let Some((url, _dir)) = setup("attack_burst") else { return };
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    let token = form_token(&mut c);
    let cookie = format!("logtrack_signin={token}");
    // 150 wrong guesses released at once (a success would rightly clear
    // its address's count: the right password comes after the burst).
    let barrier = std::sync::Barrier::new(150);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..150)
            .map(|i| {
                let (barrier, cookie, token, addr) = (&barrier, &cookie, &token, server.addr);
                s.spawn(move || {
                    let password = format!("guess {i}");
                    let mut c = Client::new(addr);
                    let body =
                        format!("username={}&password={}&csrf={token}", ADMIN.0, encode(&password));
                    barrier.wait();
                    c.request(
                        "POST",
                        "/signin",
                        Some(("application/x-www-form-urlencoded", body)),
                        &[("Cookie", cookie)],
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let verified = statuses.iter().filter(|s| **s == 401 || **s == 303).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    // At most 64 connections from one address at once; the others are
    // told so (503), not left hanging.
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(verified + limited + refused, 150, "{statuses:?}");
    assert!(refused <= 150 - 64, "{statuses:?}");
    assert!(verified <= 5, "{verified} attempts were checked by argon2: {statuses:?}");
    let failures = server.log.lock().unwrap().matches("a sign-in failed").count();
    assert!(failures <= 5, "{failures} failures logged");
    // The right password now waits like any other attempt.
    let body = format!("username={}&password={}&csrf={token}", ADMIN.0, encode(ADMIN.1));
    let r = c.request(
        "POST",
        "/signin",
        Some(("application/x-www-form-urlencoded", body)),
        &[("Cookie", &cookie)],
    );
    assert_eq!(r.status, 429);
}

#[test]
fn forwarded_headers_count_only_from_a_trusted_proxy() {
    let Some((url, _dir)) = setup("attack_proxy") else { return };
    // Not trusted: a forged X-Forwarded-Host does not make another site's
    // form ours, and X-Forwarded-For does not give a fresh sign-in limit.
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    let token = form_token(&mut c);
    let forged = [("Origin", "http://evil.example"), ("X-Forwarded-Host", "evil.example")];
    let body = format!("username={}&password=x&csrf={token}", ADMIN.0);
    let r =
        c.request("POST", "/signin", Some(("application/x-www-form-urlencoded", body)), &forged);
    assert_eq!(r.status, 403, "a forged forwarded host is no proof of origin");
    for i in 0..5 {
        c.extra = vec![("X-Forwarded-For".into(), format!("198.51.100.{i}"))];
        assert_eq!(sign_in(&mut c, (ADMIN.0, "wrong password"), "/").status, 401);
    }
    c.extra = vec![("X-Forwarded-For".into(), "198.51.100.200".into())];
    assert_eq!(sign_in(&mut c, ADMIN, "/").status, 429, "every attempt came from 127.0.0.1");
    drop(server);

    // Trusted: the forwarded client, scheme and host are believed.
    let server = Server::start(&url, &["--trusted-proxy", "127.0.0.0/8", "::1"]);
    let mut c = server.client();
    let token = form_token(&mut c);
    let body = format!("username={}&password=x&csrf={token}", ADMIN.0);
    let r = c.request(
        "POST",
        "/signin",
        Some(("application/x-www-form-urlencoded", body)),
        &[("Origin", "https://logs.example"), ("X-Forwarded-Host", "logs.example")],
    );
    assert_eq!(r.status, 401, "the proxy's host is ours: the form is checked, not refused");
    let mut attacker = server.client();
    attacker.extra = vec![("X-Forwarded-For".into(), "203.0.113.66".into())];
    for _ in 0..5 {
        assert_eq!(sign_in(&mut attacker, (VIEWER.0, "wrong password"), "/").status, 401);
    }
    assert_eq!(sign_in(&mut attacker, VIEWER, "/").status, 429);
    // The user from another address is not locked out by the attacker,
    // and signing in does not clear the attacker's count.
    let mut user = server.client();
    user.extra = vec![
        ("X-Forwarded-For".into(), "1.2.3.4, 198.51.100.20".into()),
        ("X-Forwarded-Proto".into(), "https".into()),
    ];
    let r = sign_in(&mut user, VIEWER, "/");
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.set_cookies().iter().any(|c| c.starts_with("__Host-logtrack_session=")
            && c.contains("; Secure")
            && c.contains("; Path=/;")
            && !c.contains("Domain")),
        "HTTPS as the proxy says: {:?}",
        r.set_cookies()
    );
    assert_eq!(user.get("/runs").status, 200, "the prefixed cookie is the session");
    // Over HTTPS, a cookie without the prefix (one plain HTTP or a sibling
    // subdomain could have set) is no session, whatever it holds.
    let token = user.jar.remove("__Host-logtrack_session").unwrap();
    user.jar.insert("logtrack_session".into(), token);
    assert_eq!(user.get("/runs").status, 303);
    assert_eq!(sign_in(&mut attacker, VIEWER, "/").status, 429);
    // A forged first hop in front of the attacker's address changes nothing.
    attacker.extra = vec![("X-Forwarded-For".into(), "192.0.2.1, 203.0.113.66".into())];
    assert_eq!(sign_in(&mut attacker, VIEWER, "/").status, 429);
    // Nor does a client's own Forwarded header, which a proxy that sets
    // X-Forwarded-For passes on: it names nobody, not even a fresh address.
    for i in 0..3 {
        attacker.extra = vec![
            ("X-Forwarded-For".into(), "203.0.113.66".into()),
            ("Forwarded".into(), format!("for=198.51.100.{i};proto=https;host=evil.example")),
        ];
        assert_eq!(sign_in(&mut attacker, VIEWER, "/").status, 429);
    }
    drop(server);

    // A proxy that sets Forwarded (RFC 7239): that header is read, and a
    // client's own X-Forwarded-For is not.
    let server = Server::start(
        &url,
        &["--trusted-proxy", "127.0.0.0/8", "::1", "--forwarded-header", "forwarded"],
    );
    let mut attacker = server.client();
    for i in 0..5 {
        attacker.extra = vec![
            ("Forwarded".into(), "for=203.0.113.77".into()),
            ("X-Forwarded-For".into(), format!("198.51.100.{i}")),
        ];
        assert_eq!(sign_in(&mut attacker, (VIEWER.0, "wrong password"), "/").status, 401);
    }
    assert_eq!(sign_in(&mut attacker, VIEWER, "/").status, 429);
    let mut user = server.client();
    user.extra = vec![("Forwarded".into(), "for=198.51.100.20;proto=https".into())];
    assert_eq!(sign_in(&mut user, VIEWER, "/").status, 303);
}

/// `alİce` (with U+0130) is `alice` to PostgreSQL's lower() but not to
/// Rust's lower-casing: the sign-in limit counts the user it signs in as.
#[test]
fn a_name_that_folds_to_a_user_shares_its_limit() {
    let Some((url, _dir)) = setup("attack_fold") else { return };
    // Whether this database's lower() takes U+0130 to `i` depends on its
    // LC_CTYPE (a C-locale database keeps it, and `alİce` is nobody).
    let folds = count(&url, "SELECT count(*) WHERE lower('alİce') = 'alice'") == 1;
    let names: &[&str] = if folds { &["alİce", "ALICE", "Alice"] } else { &["ALICE", "Alice"] };
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    for _ in 0..5 {
        assert_eq!(sign_in(&mut c, ("alice", "wrong password"), "/").status, 401);
    }
    for name in names {
        let r = sign_in(&mut c, (name, ADMIN.1), "/");
        assert_eq!(r.status, 429, "{name}: {}", r.body);
    }
    // And the other way round, from a fresh server.
    drop(server);
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    for _ in 0..5 {
        assert_eq!(sign_in(&mut c, (names[0], "wrong password"), "/").status, 401);
    }
    assert_eq!(sign_in(&mut c, ADMIN, "/").status, 429);
    if !folds {
        // Here `alİce` is another name: it signs in as nobody.
        assert_eq!(sign_in(&mut server.client(), ("alİce", ADMIN.1), "/").status, 401);
    }
}

#[test]
fn the_sign_in_form_token_must_be_one_the_server_made() {
    let Some((url, _dir)) = setup("attack_csrf") else { return };
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    for (cookie, field) in [("", ""), ("x", "x"), (&*"g".repeat(64), &*"g".repeat(64))] {
        let body = format!("username={}&password={}&csrf={field}", ADMIN.0, encode(ADMIN.1));
        let r = c.request(
            "POST",
            "/signin",
            Some(("application/x-www-form-urlencoded", body)),
            &[("Cookie", &format!("logtrack_signin={cookie}"))],
        );
        assert_eq!(r.status, 403, "cookie {cookie:?} with field {field:?}");
    }
}

#[test]
fn bad_input_is_answered_400() {
    let Some((url, _dir)) = setup("attack_input") else { return };
    let server = Server::start(&url, &[]);
    let mut c = signed_in(&server, VIEWER);
    let long = "a".repeat(60_000);
    let pages = [
        "/logs?service=a%00b".to_string(),
        "/logs?user=a%00b".into(),
        "/logs?client_ip=a%00b".into(),
        "/logs?q=a%00b".into(),
        format!("/logs?q={long}"),
        "/alerts?job=a%00b".into(),
        "/alerts?rule=a%00b".into(),
        "/runs?job=a%00b".into(),
        "/templates?service=a%00b".into(),
        format!("/templates?service={long}"),
        "/templates?sort=a%00b".into(),
        "/logs?before=9223372036854775807.0.0.68".into(),
        "/logs?after=-9223372036854775807.0.0.68".into(),
        "/alerts?before=9223372036854775807.1".into(),
        "/logs?since=99999999h".into(),
        "/logs?until=99999999999999999d".into(),
    ];
    for page in &pages {
        let r = c.get(page);
        assert_eq!(r.status, 400, "{}: {}", &page[..page.len().min(60)], r.body);
    }
    assert!(!server.log.lock().unwrap().contains("error"), "{}", server.log.lock().unwrap());
    // The sign-in user name too.
    let mut anon = server.client();
    let token = form_token(&mut anon);
    let r =
        anon.post("/signin", &[("username", "ali\0ce"), ("password", ADMIN.1), ("csrf", &token)]);
    assert_eq!(r.status, 400, "{}", r.body);
    // A megabyte of query string is refused by the HTTP layer, not the
    // database: an answer of 4xx, or the connection closed (0) before the
    // client finished writing.
    let huge = format!("/logs?q={}", "a".repeat(1 << 20));
    let r = c.get(&huge);
    assert!(r.status == 0 || (400..500).contains(&r.status), "{}", r.status);
    assert!(!server.log.lock().unwrap().contains("error"), "{}", server.log.lock().unwrap());
    // Filters within the limits still work.
    assert_eq!(c.get("/logs?q=GET&service=apache").status, 200);
}

/// Holds `logs` locked until dropped, so that any query of it waits: a
/// query as slow as the test needs, deterministically.
struct TableLock {
    _holder: postgres::Client,
}

impl TableLock {
    fn take(url: &str) -> TableLock {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        c.batch_execute("BEGIN; LOCK TABLE logs IN ACCESS EXCLUSIVE MODE").unwrap();
        TableLock { _holder: c }
    }
}

/// Queries waiting for a lock in the test's database.
fn waiting(url: &str) -> i64 {
    count(
        url,
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
}

/// A `Cookie` header's value of `c`'s jar.
fn cookie_header(c: &Client) -> String {
    let pairs: Vec<String> = c.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("; ")
}

/// Sends a GET with `cookie` and hangs up after `after`.
fn get_and_hang_up(addr: std::net::SocketAddr, path: &str, cookie: &str, after: Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n").unwrap();
    s.set_read_timeout(Some(after)).unwrap();
    let mut buf = [0u8; 1024];
    let _ = s.read(&mut buf);
}

#[test]
fn slow_queries_end_with_their_client_and_health_stays_fast() {
    let Some((url, _dir)) = setup("attack_slow") else { return };
    let server = Server::start(&url, &["--statement-timeout", "60s"]);
    let c = signed_in(&server, VIEWER);
    let cookie = cookie_header(&c);
    let lock = TableLock::take(&url);
    // Eight viewers' queries wait on the lock; their clients give up.
    std::thread::scope(|s| {
        for i in 0..8 {
            let (cookie, addr) = (&cookie, server.addr);
            s.spawn(move || {
                let path = format!("/logs?q=word{i}");
                get_and_hang_up(addr, &path, cookie, Duration::from_millis(500));
            });
        }
        // Meanwhile a monitor is answered at once.
        std::thread::sleep(Duration::from_millis(200));
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            let t = Instant::now();
            let r = server.client().get("/healthz");
            slowest = slowest.max(t.elapsed());
            assert_eq!(r.status, 200);
        }
        assert!(slowest < Duration::from_millis(100), "/healthz took {slowest:?}");
    });
    // The abandoned queries are cancelled: no pooled connection still waits.
    let start = Instant::now();
    while waiting(&url) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{} queries still wait after their clients left",
            waiting(&url)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(lock);
    // The pool is whole again.
    let mut c = c;
    assert_eq!(c.get("/logs?q=GET").status, 200);
    assert!(server.log.lock().unwrap().contains("a query was stopped"));
}

/// One viewer's 40 searches at once take two pooled connections, not the
/// whole pool: another user's pages are answered meanwhile.
#[test]
fn one_sessions_many_searches_leave_the_pool_to_others() {
    let Some((url, _dir)) = setup("attack_pool") else { return };
    let server = Server::start(&url, &["--statement-timeout", "60s"]);
    let c = signed_in(&server, VIEWER);
    let cookie = cookie_header(&c);
    let lock = TableLock::take(&url);
    std::thread::scope(|s| {
        for i in 0..40 {
            let (cookie, addr) = (&cookie, server.addr);
            s.spawn(move || {
                let path = format!("/logs?q=word{i}");
                get_and_hang_up(addr, &path, cookie, Duration::from_secs(4));
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        // The viewer's searches that hold a connection (and wait on the
        // lock): two.
        assert!(waiting(&url) <= 2, "{} of one session's queries hold connections", waiting(&url));
        let mut admin = signed_in(&server, ADMIN);
        for page in ["/runs", "/rules", "/alerts"] {
            let t = Instant::now();
            let r = admin.get(page);
            assert_eq!(r.status, 200, "{page}: {}", r.body);
            assert!(t.elapsed() < Duration::from_secs(1), "{page} took {:?}", t.elapsed());
        }
    });
    drop(lock);
    // The session's own searches end once the lock is gone; until they
    // have, its next page may be told to wait (503, its two turns taken).
    let mut c = c;
    let start = Instant::now();
    loop {
        let status = c.get("/logs?q=GET").status;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "only busy, never failed");
        assert!(start.elapsed() < Duration::from_secs(10), "the session's turns never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_query_past_the_statement_timeout_is_stopped() {
    let Some((url, _dir)) = setup("attack_timeout") else { return };
    let server = Server::start(&url, &["--statement-timeout", "1s"]);
    let mut c = signed_in(&server, VIEWER);
    let lock = TableLock::take(&url);
    let t = Instant::now();
    let r = c.get("/logs?q=anything");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("took too long"));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    drop(lock);
    assert_eq!(c.get("/logs?q=anything").status, 200);
}

#[test]
fn a_client_slow_to_send_its_headers_is_disconnected() {
    let Some((url, _dir)) = setup("attack_headers") else { return };
    let server = Server::start(&url, &["--header-timeout", "1s"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(t.elapsed() < Duration::from_secs(5), "held for {:?}", t.elapsed());
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("200 OK"), "{text}");
    // Others are served meanwhile and after.
    assert_eq!(server.client().get("/healthz").status, 200);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let Some((url, _dir)) = setup("attack_sigterm") else { return };
    let server = Server::start(&url, &[]);
    // Pooled connections and a health connection exist when it stops.
    let mut c = signed_in(&server, VIEWER);
    for page in ["/", "/logs", "/alerts", "/runs"] {
        assert_eq!(c.get(page).status, 200);
    }
    assert_eq!(server.client().get("/healthz").status, 200);
    let (status, log) = server.terminate();
    assert!(status.success(), "exit {status:?}: {log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(log.contains("dashboard stopped"), "{log}");

    // Under systemd too, where a stop is SIGTERM and a non-zero exit a failure.
    let systemd = std::process::Command::new("systemctl")
        .arg("is-system-running")
        .output()
        .is_ok_and(|o| !String::from_utf8_lossy(&o.stdout).contains("offline"));
    if !systemd {
        eprintln!("notice: no systemd here: the systemd-run check of a stop is skipped");
        return;
    }
    let unit = format!("logtrack-test-{}", std::process::id());
    let o = std::process::Command::new("systemd-run")
        .args(["--unit", &unit, "--property=Type=exec", "--setenv"])
        .arg(format!("LOGTRACK_DATABASE_URL={url}"))
        .arg(env!("CARGO_BIN_EXE_logtrack"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::thread::sleep(Duration::from_secs(2));
    let stop = std::process::Command::new("systemctl").args(["stop", &unit]).status().unwrap();
    assert!(stop.success());
    let o = std::process::Command::new("systemctl")
        .args(["show", &unit, "--property=Result,ExecMainStatus"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    let _ = std::process::Command::new("systemctl").args(["reset-failed", &unit]).status();
    assert!(shown.contains("Result=success") && shown.contains("ExecMainStatus=0"), "{shown}");
}

#[test]
fn user_names_are_unique_without_regard_to_case() {
    let Some(url) = common::pg::database("attack_users") else { return };
    dashboard::add_user(&url, ADMIN, "admin");
    for clash in ["Alice", " alice ", "ALICE"] {
        let o = dashboard::logtrack_stdin(
            &url,
            &["user", "add", clash, "--password-stdin"],
            "another good password\n",
        );
        assert_eq!(o.status.code(), Some(2), "{clash:?} is alice");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("exists"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = dashboard::logtrack_stdin(
        &url,
        &["user", "add", " bob ", "--password-stdin"],
        "  a good password  \n",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        count(&url, "SELECT count(*) FROM users WHERE username = 'bob'"),
        1,
        "stored trimmed"
    );
    let o = dashboard::logtrack_stdin(
        &url,
        &["user", "add", "carol", "--password-stdin"],
        &format!("{}\n", " ".repeat(12)),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("blank"));
    // Signing in as ALICE is signing in as alice.
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    assert_eq!(sign_in(&mut c, ("ALICE ", ADMIN.1), "/").status, 303);
    assert!(c.get("/runs").body.contains("alice (admin)"));
}

/// Signing in again (as the same user or another) ends the session the
/// browser had: an old cookie, copied before, no longer opens a page.
#[test]
fn signing_in_again_ends_the_previous_session() {
    let Some((url, _dir)) = setup("attack_rotate") else { return };
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    assert_eq!(sign_in(&mut c, ADMIN, "/").status, 303);
    let first = c.jar.get("logtrack_session").cloned().expect("a session cookie");
    let mut copy = server.client();
    copy.jar.insert("logtrack_session".into(), first.clone());
    assert_eq!(copy.get("/runs").status, 200, "the copied cookie works while it is current");
    for who in [ADMIN, VIEWER] {
        assert_eq!(sign_in(&mut c, who, "/").status, 303);
        let now = c.jar.get("logtrack_session").cloned().unwrap();
        assert_ne!(now, first);
        assert_eq!(c.get("/runs").status, 200);
        assert_eq!(copy.get("/runs").status, 303, "the previous session ended");
        copy.jar.insert("logtrack_session".into(), now);
    }
}

/// 600 request bodies sent slowly from one address: they hold at most
/// `PER_ADDRESS` connections (the rest are told 503 at once), another
/// address's requests are answered as usual meanwhile, and the held ones
/// are answered 408 and closed at the request deadline.
#[test]
fn slow_request_bodies_from_one_address_neither_hold_the_server_nor_last() {
    let Some((url, _dir)) = setup("attack_slow_bodies") else { return };
    // Both families on one port: 127.0.0.1 is the attacker, ::1 another
    // client.
    let server = Server::start_on(&url, "[::]:0", &["--request-timeout", "8s"]);
    let port = server.addr.port();
    let attacker = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let other = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    let head = "POST /signin HTTP/1.1\r\nHost: dashboard\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nu";
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..600 {
        let mut s = TcpStream::connect_timeout(&attacker, Duration::from_secs(5)).unwrap();
        // (A connection told 503 may be closed before this is written.)
        let _ = s.write_all(head.as_bytes());
        slow.push(s);
    }
    // On a slow machine the connecting itself may outlast a deadline: the
    // first held ones are then answered 408 and their slots taken again.
    let deadlines_while_connecting = (started.elapsed().as_secs_f64() / 8.0).floor() as usize;
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let r = Client::new(other).get("/healthz");
        times.push(t.elapsed());
        assert_eq!(r.status, 200, "{}", r.body);
        std::thread::sleep(Duration::from_millis(50));
    }
    times.sort();
    assert!(times[5] < Duration::from_millis(100), "healthz from another address: {times:?}");
    // A page of the other address's, through the sign-in, works too.
    let mut c = Client::new(other);
    assert_eq!(sign_in(&mut c, ADMIN, "/").status, 303);
    assert_eq!(c.get("/runs").status, 200);
    // Every slow connection gets its answer and is closed: the held ones
    // at the deadline (8 s after their headers), the others at once.
    let mut statuses = std::collections::BTreeMap::new();
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        let status = text.get(9..12).unwrap_or("none").to_string();
        *statuses.entry(status).or_insert(0) += 1;
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let held = statuses.get("408").copied().unwrap_or(0);
    let refused = statuses.get("503").copied().unwrap_or(0);
    assert_eq!(held + refused, 600, "{statuses:?}");
    let most_held = 64 * (1 + deadlines_while_connecting);
    assert!(
        held >= 1 && held <= most_held && refused >= 600 - most_held,
        "{statuses:?} (at most {most_held} held)"
    );
    // The slots are free again: the attacker's address is served.
    assert_eq!(Client::new(attacker).get("/healthz").status, 200);
}

/// nginx started with the block docs/dashboard.md gives (read from the
/// doc), listening on `port` of ::1 and 127.0.0.1 and passing to
/// `upstream`; `None` when
/// nginx is not installed (an error when LOGTRACK_REQUIRE_NGINX is set).
struct Nginx {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(port: u16, upstream: std::net::SocketAddr) -> Option<Nginx> {
        let bin = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("LOGTRACK_REQUIRE_NGINX").is_none(),
                "LOGTRACK_REQUIRE_NGINX is set but nginx is not installed"
            );
            eprintln!("skipped: nginx is not installed");
            return None;
        };
        let doc = std::fs::read_to_string("docs/dashboard.md").unwrap();
        let block = doc
            .split("```nginx\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("docs/dashboard.md has an nginx block")
            .replace("http://127.0.0.1:8080", &format!("http://{upstream}"));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let conf = format!(
            "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;
             error_log {d}/error.log;
             events {{ worker_connections 256; }}
             http {{
               access_log off;
               client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
               fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
               server {{ listen [::1]:{port}; listen 127.0.0.1:{port}; {block} }}
             }}"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = std::process::Command::new(bin)
            .args(["-p", &d.to_string(), "-e", &format!("{d}/error.log"), "-c"])
            .arg(dir.path().join("nginx.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("::1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nginx did not start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Nginx { child, _dir: dir })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on ::1 and 127.0.0.1 (closed again: nginx binds it next).
fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("[::1]:0").unwrap().local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Behind the nginx block the docs give, on a port other than 80/443:
/// signing in works (the host passed keeps its port), and a client's own
/// `Forwarded` or `X-Forwarded-For` header names no one: it can neither
/// get more than five guesses per user nor spend another client's.
#[test]
fn behind_the_documented_nginx_block() {
    let Some((url, _dir)) = setup("attack_nginx") else { return };
    // nginx talks to the dashboard over 127.0.0.1, the one trusted proxy.
    // The attacker reaches nginx over ::1, the victim over 127.0.0.1.
    let server = Server::start(&url, &["--trusted-proxy", "127.0.0.1"]);
    let port = free_port();
    let Some(_nginx) = Nginx::start(port, server.addr) else { return };
    let (over_v6, over_v4) = (
        std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
    );
    let mut user = Client::new(over_v6);
    let r = sign_in(&mut user, VIEWER, "/runs");
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(user.get("/runs").status, 200);
    // A form through the proxy, as a browser posts it (with its Origin).
    let csrf = user.get("/runs").input("csrf").expect("the sign-out form's token");
    let origin = format!("http://{over_v6}");
    let r = user.request(
        "POST",
        "/signout",
        Some(("application/x-www-form-urlencoded", format!("csrf={csrf}"))),
        &[("Origin", &origin)],
    );
    assert_eq!(r.status, 303, "a form from our own page behind the proxy: {}", r.body);

    // The attacker names the victim's address, and a fresh one each time.
    let mut attacker = Client::new(over_v6);
    for i in 0..5 {
        attacker.extra = vec![
            ("Forwarded".into(), format!("for=127.0.0.1, for=198.51.100.{i}")),
            ("X-Forwarded-For".into(), format!("127.0.0.1, 203.0.113.{i}")),
        ];
        assert_eq!(sign_in(&mut attacker, (ADMIN.0, "wrong password"), "/").status, 401);
    }
    for spoof in ["for=192.0.2.200", "192.0.2.200"] {
        attacker.extra =
            vec![("Forwarded".into(), spoof.into()), ("X-Forwarded-For".into(), spoof.into())];
        assert_eq!(sign_in(&mut attacker, ADMIN, "/").status, 429, "{spoof}");
    }
    // The victim, at the address the attacker named, still signs in.
    let r = sign_in(&mut Client::new(over_v4), ADMIN, "/");
    assert_eq!(r.status, 303, "{}", r.body);
}
