//! The dashboard over HTTP, against a real PostgreSQL and a real
//! `logtrack serve` process: sign-in, sessions, form tokens, roles,
//! sign-in limits, and the logs and alerts pages' filters and pages.

mod common;

use common::dashboard::{self, sign_in, Server, ADMIN, VIEWER};
use common::http::{unescape, Client};
use common::pg::count;
use std::time::{Duration, Instant};

/// A database (on one server, or on the Citus cluster) with the quickstart
/// (and `extra`) loaded and two users.
fn setup(
    test: &str,
    cluster: bool,
    extra: &[(&str, &str, &str, String)],
) -> Option<(common::pg::TestDb, tempfile::TempDir)> {
    let url = common::fresh_db(test, cluster)?;
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(std::path::PathBuf, &str, &str)> = extra
        .iter()
        .map(|(name, format, service, text)| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            (p, *format, *service)
        })
        .collect();
    let refs: Vec<(&std::path::Path, &str, &str)> =
        files.iter().map(|(p, f, s)| (p.as_path(), *f, *s)).collect();
    dashboard::load(&url, dir.path(), &refs);
    Some((url, dir))
}

fn signed_in(server: &Server, who: (&str, &str)) -> Client {
    let mut c = server.client();
    let r = sign_in(&mut c, who, "/");
    assert_eq!(r.status, 303, "{}", r.body);
    c
}

fn every_page_needs_a_session_and_sign_in_sets_a_strict_cookie_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_session", cluster, &[]) else { return };
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    for page in ["/", "/logs", "/alerts", "/alerts/1", "/runs", "/rules", "/logs?q=x"] {
        let r = c.get(page);
        assert_eq!(r.status, 303, "{page}");
        let to = r.header("location").unwrap();
        assert!(to.starts_with("/signin?next="), "{page} -> {to}");
    }
    // Monitors need no session, and get no page.
    let r = c.get("/healthz");
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    // A forged or random cookie is no session.
    c.jar.insert("logtrack_session".into(), "ab".repeat(32));
    assert_eq!(c.get("/").status, 303);
    c.jar.clear();

    // The sign-in form's token must match its cookie.
    let form = c.get("/signin");
    assert_eq!(form.status, 200);
    let token = form.input("csrf").unwrap();
    let r = c.post(
        "/signin",
        &[("username", ADMIN.0), ("password", ADMIN.1), ("csrf", &"0".repeat(64))],
    );
    assert_eq!(r.status, 403, "a wrong form token is refused");
    assert!(!r.set_cookies().iter().any(|c| c.starts_with("logtrack_session=")));
    // A form posted from another site is refused before anything else.
    let r = c.request(
        "POST",
        "/signin",
        Some((
            "application/x-www-form-urlencoded",
            format!("username={}&password=x&csrf={token}", ADMIN.0),
        )),
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(r.status, 403);

    let r = sign_in(&mut c, ADMIN, "/alerts?state=open");
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/alerts?state=open"), "back where the user was going");
    let cookie = r.set_cookies().into_iter().find(|c| c.starts_with("logtrack_session=")).unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag ({cookie})");
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(token.len(), 64);
    // Only a hash of the token is stored.
    assert_eq!(count(&url, "SELECT count(*) FROM sessions"), 1);
    assert_eq!(
        count(&url, &format!("SELECT count(*) FROM sessions WHERE encode(token_hash, 'hex') = '{token}' OR csrf = '{token}'")),
        0
    );

    for (page, holds) in [
        ("/", "Record volume per service"),
        ("/logs", "Time (UTC)"),
        ("/alerts", "admin_bruteforce"),
        ("/runs", "quickstart"),
        ("/rules", "web_5xx_spike"),
        // The new rule types, with their expressions, and what their alerts measured.
        ("/rules", "fields.res.statusCode &gt;= 500"),
        ("/rules", "percentile"),
        ("/alerts", "52.17% (12 of 23) matched"),
        ("/alerts", "p95 of fields.responseTime was 3072"),
    ] {
        let r = c.get(page);
        assert_eq!(r.status, 200, "{page}");
        assert!(r.body.contains(holds), "{page} lacks {holds:?}");
        assert!(r.body.contains("alice (admin)"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }
    // An off-site `next` is not followed.
    let mut d = server.client();
    let r = sign_in(&mut d, ADMIN, "//evil.example/");
    assert_eq!(r.header("location"), Some("/"));

    // A proxy's header from a peer that is no trusted proxy is ignored.
    let mut e = server.client();
    e.extra.push(("X-Forwarded-Proto".into(), "https".into()));
    let r = sign_in(&mut e, VIEWER, "/");
    assert!(r
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("logtrack_session=") && !c.contains("Secure")));

    // Signing out needs the form token, and ends the session server-side.
    let csrf = c.get("/").input("csrf").unwrap();
    let old = c.jar.clone();
    assert_eq!(c.post("/signout", &[("csrf", "nope")]).status, 403);
    let r = c.post("/signout", &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/signin"));
    c.jar = old; // a copy of the cookie kept by an attacker
    assert_eq!(c.get("/").status, 303);
}

on_both!(
    every_page_needs_a_session_and_sign_in_sets_a_strict_cookie,
    every_page_needs_a_session_and_sign_in_sets_a_strict_cookie_on_a_cluster,
    every_page_needs_a_session_and_sign_in_sets_a_strict_cookie_in
);

fn viewers_read_admins_acknowledge_with_the_form_token_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_roles", cluster, &[]) else { return };
    let server = Server::start(&url, &[]);
    let id = count(&url, "SELECT id FROM alerts WHERE rule_id = 'admin_bruteforce'");
    let page = format!("/alerts/{id}");

    let mut viewer = signed_in(&server, VIEWER);
    let r = viewer.get(&page);
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("Acknowledge</button>"), "no button for a viewer");
    let csrf = r.input("csrf").unwrap();
    let r = viewer.post(&format!("{page}/ack"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 403, "a viewer cannot acknowledge");

    let mut admin = signed_in(&server, ADMIN);
    let r = admin.get(&page);
    assert!(r.body.contains("Acknowledge</button>"));
    // Another session's token is not this one's.
    assert_eq!(admin.post(&format!("{page}/ack"), &[("csrf", &csrf)]).status, 403);
    assert_eq!(admin.post(&format!("{page}/ack"), &[]).status, 422, "no token at all");
    assert_eq!(count(&url, "SELECT count(*) FROM alerts WHERE acknowledged_at IS NOT NULL"), 0);
    let csrf = r.input("csrf").unwrap();
    let r = admin.post(&format!("{page}/ack"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some(page.as_str()));
    let r = admin.get(&page);
    assert!(r.body.contains("acknowledged by alice"), "{}", r.body);
    assert_eq!(
        count(
            &url,
            &format!("SELECT count(*) FROM alerts WHERE id = {id} AND acknowledged_by = 'alice'")
        ),
        1
    );
    assert_eq!(admin.post("/alerts/999999/ack", &[("csrf", &csrf)]).status, 404);

    // The alerts page filters by state, rule and severity.
    let open = admin.get("/alerts?state=open").body;
    let acked = admin.get("/alerts?state=acknowledged").body;
    assert!(!open.contains(&format!("href=\"{page}\"")));
    assert!(acked.contains(&format!("href=\"{page}\"")));
    assert_eq!(acked.matches("class=\"alert\"").count(), 1);
    let total = count(&url, "SELECT count(*) FROM alerts") as usize;
    assert_eq!(admin.get("/alerts").body.matches("class=\"alert\"").count(), total);
    let web_volume = admin.get("/alerts?rule=web_volume").body;
    assert_eq!(
        web_volume.matches("class=\"alert\"").count(),
        count(&url, "SELECT count(*) FROM alerts WHERE rule_id = 'web_volume'") as usize
    );
    let high = admin.get("/alerts?severity=high").body;
    assert_eq!(
        high.matches("class=\"alert\"").count(),
        count(&url, "SELECT count(*) FROM alerts WHERE severity IN ('high', 'critical')") as usize
    );
    assert_eq!(admin.get("/alerts?severity=extreme").status, 400);
    assert_eq!(admin.get("/alerts/424242").status, 404);
}

on_both!(
    viewers_read_admins_acknowledge_with_the_form_token,
    viewers_read_admins_acknowledge_with_the_form_token_on_a_cluster,
    viewers_read_admins_acknowledge_with_the_form_token_in
);

fn an_alert_opens_its_evidence_with_the_stored_records_around_it_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_evidence", cluster, &[]) else { return };
    let server = Server::start(&url, &[]);
    let mut c = signed_in(&server, VIEWER);
    let id = count(&url, "SELECT id FROM alerts WHERE rule_id = 'web_down'");
    let body = c.get(&format!("/alerts/{id}")).body;
    // The silence's evidence is the last record before it and the first after.
    let hits: Vec<&str> = body.split("<tr class=\"hit\">").skip(1).collect();
    assert_eq!(hits.len(), 2, "{body}");
    assert!(hits[0].contains("access.log:606") && hits[1].contains("access.log:607"));
    // Three records of the same file on each side, in order.
    let first = body.split("<div class=\"evidence\">").nth(1).unwrap();
    let lines: Vec<String> = first
        .split("<td class=\"src\"><code>")
        .skip(1)
        .map(|s| s[..s.find("</code>").unwrap()].rsplit(':').next().unwrap().to_string())
        .collect();
    assert_eq!(lines, ["603", "604", "605", "606", "607", "608", "609"]);
    assert!(first.contains("As read: <code class=\"line\">2001:db8::4 - - [14/Mar/2026:11:45:06"));
}

on_both!(
    an_alert_opens_its_evidence_with_the_stored_records_around_it,
    an_alert_opens_its_evidence_with_the_stored_records_around_it_on_a_cluster,
    an_alert_opens_its_evidence_with_the_stored_records_around_it_in
);

/// A combined log of `n` lines, three a second, users u0..u4, clients
/// 10.0.0.0..9, every seventh a 500; line 42's user is HTML.
fn shop_log(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let user =
            if i == 41 { "<script>alert(1)</script>".to_string() } else { format!("u{}", i % 5) };
        let status = if i % 7 == 0 { 500 } else { 200 };
        s.push_str(&format!(
            "10.0.0.{} - {user} [20/Mar/2026:09:{:02}:{:02} +0000] \"GET /item/{i} HTTP/1.1\" {status} 10 \"-\" \"t\"\n",
            i % 10,
            (i / 3) / 60,
            (i / 3) % 60
        ));
    }
    s
}

/// The `path:line` of every record on a logs page, in order.
fn sources(body: &str) -> Vec<String> {
    body.split("<td class=\"src\"><code>")
        .skip(1)
        .map(|s| s[..s.find("</code>").unwrap()].to_string())
        .collect()
}

fn link(body: &str, class: &str) -> Option<String> {
    let at = body.find(&format!("<a class=\"{class}\" href=\""))?;
    let rest = &body[at + class.len() + 18..];
    Some(unescape(&rest[..rest.find('"')?]))
}

/// Every page from `first`, following "Older"; the rows of each page.
fn walk(c: &mut Client, first: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(p) = next {
        let r = c.get(&p);
        assert_eq!(r.status, 200, "{p}: {}", r.body);
        next = link(&r.body, "older");
        pages.push(sources(&r.body));
        assert!(pages.len() < 100);
    }
    pages
}

fn the_logs_page_filters_and_pages_by_keyset_in(cluster: bool) {
    let log = shop_log(460);
    let Some((url, dir)) = setup("serve_logs", cluster, &[("shop.log", "combined", "shop", log)])
    else {
        return;
    };
    let shop = dir.path().join("shop.log");
    let shop = shop.to_str().unwrap();
    let server = Server::start(&url, &[]);
    let mut c = signed_in(&server, VIEWER);

    // Every shop record once, newest first, over five pages of at most 100.
    let pages = walk(&mut c, "/logs?service=shop");
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 100, 100, 60]);
    let all: Vec<String> = pages.concat();
    let expected: Vec<String> = (1..=460).rev().map(|l| format!("{shop}:{l}")).collect();
    let mut sorted = all.clone();
    sorted
        .sort_by_key(|s| std::cmp::Reverse(s.rsplit(':').next().unwrap().parse::<u32>().unwrap()));
    assert_eq!(sorted, expected, "every record once");
    // Newest first: the lines of one second come in some order, the seconds descend.
    let second = |s: &String| (s.rsplit(':').next().unwrap().parse::<usize>().unwrap() - 1) / 3;
    assert!(all.windows(2).all(|w| second(&w[0]) >= second(&w[1])));

    // "Newer" from the third page gives the second page back.
    let p3 = {
        let p1 = c.get("/logs?service=shop").body;
        let p2 = c.get(&link(&p1, "older").unwrap()).body;
        c.get(&link(&p2, "older").unwrap()).body
    };
    let back = c.get(&link(&p3, "newer").unwrap()).body;
    assert_eq!(sources(&back), pages[1]);

    // Filters, each checked against the same question asked of the table.
    for (query, sql) in [
        ("user=u3", "user_name = 'u3'"),
        ("client_ip=10.0.0.7", "fields->>'client_ip' = '10.0.0.7'"),
        ("severity=error", "severity IN ('error', 'fatal')"),
        ("q=%2Fitem%2F12", "message ILIKE '%/item/12%'"),
        (
            "since=2026-03-20T09:01:00Z&until=2026-03-20T09:02:00Z",
            "ts >= '2026-03-20T09:01:00Z' AND ts < '2026-03-20T09:02:00Z'",
        ),
        ("user=u1&severity=error", "user_name = 'u1' AND severity IN ('error', 'fatal')"),
    ] {
        let rows = walk(&mut c, &format!("/logs?service=shop&{query}")).concat();
        let n = count(&url, &format!("SELECT count(*) FROM logs WHERE service = 'shop' AND {sql}"));
        assert!(n > 0, "{query} matches something");
        assert_eq!(rows.len() as i64, n, "{query}");
    }
    assert!(walk(&mut c, "/logs?q=no+such+text").concat().is_empty());
    assert_eq!(c.get("/logs?since=yesterday-ish").status, 400);
    assert_eq!(c.get("/logs?before=12.x").status, 400);

    // A hostile user name is text.
    let page = c.get("/logs?service=shop&user=%3Cscript%3Ealert(1)%3C%2Fscript%3E").body;
    assert_eq!(sources(&page), [format!("{shop}:42")]);
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>"));
}

on_both!(
    the_logs_page_filters_and_pages_by_keyset,
    the_logs_page_filters_and_pages_by_keyset_on_a_cluster,
    the_logs_page_filters_and_pages_by_keyset_in
);

fn an_unknown_user_and_a_wrong_password_get_the_same_answer_in_the_same_time_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_same", cluster, &[]) else { return };
    let server = Server::start(&url, &[]);
    let attempt = |name: &str| {
        let mut c = server.client();
        let t = Instant::now();
        let r = sign_in(&mut c, (name, "not the password"), "/");
        let took = t.elapsed();
        let token = r.input("csrf").unwrap();
        (r.status, r.body.replace(&token, ""), took)
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..3 {
        let (s1, b1, t1) = attempt(ADMIN.0);
        let (s2, b2, t2) = attempt(&format!("nobody{i}"));
        assert_eq!((s1, s2), (401, 401));
        assert_eq!(b1, b2, "the same page");
        assert!(b1.contains("Wrong user name or password."));
        known.push(t1);
        unknown.push(t2);
    }
    known.sort();
    unknown.sort();
    // Both verify an argon2 hash: an unknown user is not answered early.
    // (Loose bound: these machines are noisy; a missing verification is 50x.)
    assert!(
        unknown[1] * 3 > known[1],
        "unknown user answered in {:?}, wrong password in {:?}",
        unknown[1],
        known[1]
    );
    assert!(server.log.lock().unwrap().contains("a sign-in failed"));
    assert!(!server.log.lock().unwrap().contains("not the password"));
}

on_both!(
    an_unknown_user_and_a_wrong_password_get_the_same_answer_in_the_same_time,
    an_unknown_user_and_a_wrong_password_get_the_same_answer_in_the_same_time_on_a_cluster,
    an_unknown_user_and_a_wrong_password_get_the_same_answer_in_the_same_time_in
);

fn failed_sign_ins_are_limited_per_user_and_per_client_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_limit", cluster, &[]) else { return };
    let server = Server::start(&url, &[]);
    let mut c = server.client();
    for _ in 0..5 {
        assert_eq!(sign_in(&mut c, (ADMIN.0, "wrong password!"), "/").status, 401);
    }
    // Now even the right password waits, and says how long.
    let r = sign_in(&mut c, ADMIN, "/");
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    assert!(r.body.contains("Too many failed sign-ins"));
    // Another user from this client still may.
    assert_eq!(sign_in(&mut c, VIEWER, "/").status, 303);
    // Twenty failures from one client stop it for every name.
    for i in 0..15 {
        assert_eq!(sign_in(&mut c, (&format!("guess{i}"), "x"), "/").status, 401, "{i}");
    }
    let r = sign_in(&mut c, VIEWER, "/");
    assert_eq!(r.status, 429, "{}", r.body);
}

on_both!(
    failed_sign_ins_are_limited_per_user_and_per_client,
    failed_sign_ins_are_limited_per_user_and_per_client_on_a_cluster,
    failed_sign_ins_are_limited_per_user_and_per_client_in
);

fn sessions_expire_when_idle_and_end_with_a_new_password_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_expiry", cluster, &[]) else { return };
    let server = Server::start(&url, &["--session-idle", "2s"]);
    let mut c = signed_in(&server, ADMIN);
    assert_eq!(c.get("/runs").status, 200);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(c.get("/runs").status, 200, "a request restarts the idle time");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(c.get("/runs").status, 303, "idle too long");

    let server = Server::start(&url, &[]);
    let mut c = signed_in(&server, VIEWER);
    assert_eq!(c.get("/runs").status, 200);
    let o = dashboard::logtrack_stdin(
        &url,
        &["user", "passwd", VIEWER.0, "--password-stdin"],
        "a brand new password\n",
    );
    assert!(o.status.success());
    assert_eq!(c.get("/runs").status, 303, "a new password ends the sessions");
    let o = dashboard::logtrack_stdin(&url, &["user", "remove", ADMIN.0], "");
    assert!(o.status.success());
    assert_eq!(sign_in(&mut server.client(), ADMIN, "/").status, 401);
}

on_both!(
    sessions_expire_when_idle_and_end_with_a_new_password,
    sessions_expire_when_idle_and_end_with_a_new_password_on_a_cluster,
    sessions_expire_when_idle_and_end_with_a_new_password_in
);

/// The templates page lists what loading stored, filtered by service and
/// sorted by count or first sight; a template links to its lines.
fn the_templates_page_lists_filters_sorts_and_links_to_lines_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_templates", cluster, &[]) else { return };
    let server = Server::start(&url, &[]);
    let mut c = signed_in(&server, VIEWER);
    let all = c.get("/templates");
    assert_eq!(all.status, 200);
    assert!(
        all.body.contains("Receiving block blk_&lt;*&gt; src: &lt;*&gt; dest: &lt;*&gt;"),
        "{}",
        all.body
    );
    assert!(all.body.contains("GET &lt;*&gt; HTTP/1.1"));
    let hdfs = c.get("/templates?service=hdfs&sort=first_seen").body;
    assert!(!hdfs.contains("GET &lt;*&gt; HTTP/1.1"));
    let rows: Vec<&str> = hdfs.split("<td><a href=\"").skip(1).collect();
    assert_eq!(
        rows.len() as i64,
        count(&url, "SELECT count(*) FROM templates WHERE service = 'hdfs'")
    );
    // Newest first: the planted exception came last.
    assert!(
        rows[0].contains("DataXceiver: java.io.IOException: Connection reset by peer"),
        "{}",
        rows[0]
    );
    let href = unescape(&rows[0][..rows[0].find('"').unwrap()]);
    assert!(
        href.starts_with("/logs?service=hdfs&since=2026%2D03%2D14T10%3A33%3A00Z&q=DataXceiver"),
        "{href}"
    );
    let lines = c.get(&href).body;
    assert_eq!(lines.matches("Connection reset by peer</td>").count(), 14, "{lines}");
    assert_eq!(c.get("/templates?sort=oldest").status, 400);
}

on_both!(
    the_templates_page_lists_filters_sorts_and_links_to_lines,
    the_templates_page_lists_filters_sorts_and_links_to_lines_on_a_cluster,
    the_templates_page_lists_filters_sorts_and_links_to_lines_in
);

fn the_alerts_page_lists_incidents_and_acknowledging_is_per_incident_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_incidents", cluster, &[]) else { return };
    let server = Server::start(&url, &[]);
    let incidents = count(&url, "SELECT count(*) FROM incidents");
    assert!(incidents > 0);
    assert_eq!(count(&url, "SELECT count(*) FROM alerts WHERE incident_id IS NULL"), 0);
    // One that is still open (the last windows of the data's end).
    let id = count(&url, "SELECT min(id) FROM incidents WHERE state = 'open'");
    let page = format!("/incidents/{id}");

    let mut viewer = signed_in(&server, VIEWER);
    let body = viewer.get("/alerts").body;
    assert_eq!(body.matches("class=\"incident\"").count() as i64, incidents.min(50));
    assert!(body.contains(&format!("href=\"{page}\"")));
    let r = viewer.get(&page);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<h2>Alerts ("));
    assert!(!r.body.contains("Acknowledge</button>"));

    // Each receiver's delivery state, and what the rule says (a runbook
    // that is no web address is not made a link).
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "INSERT INTO outbox (id_key, job, receiver, event, incident_id, payload, at, attempts,
                             last_error, next_attempt, gave_up_at, refused)
         SELECT 'k1', job, 'webhook chat.example', 'open', id, '{{}}', now(), 1,
                'answered 400: invalid_blocks', now(), now(), true FROM incidents WHERE id = {id};
         INSERT INTO outbox (id_key, job, receiver, event, incident_id, payload, at, attempts,
                             last_error, next_attempt)
         SELECT 'k2', job, 'email oncall@example.com', 'open', id, '{{}}', now(), 4,
                'smtp: timed out', '2100-01-01' FROM incidents WHERE id = {id};
         UPDATE rules SET definition = definition || '{{\"description\": \"<b>Too many</b>\", \"runbook\": \"javascript:alert(1)\"}}'
         WHERE (job, rule_id) IN (SELECT job, rule_id FROM incidents WHERE id = {id});"
    ))
    .unwrap();
    let parked = count(&url, "SELECT id FROM outbox WHERE id_key = 'k1'");
    let body = viewer.get(&page).body;
    assert!(body.contains("Delivery by receiver"), "{body}");
    assert!(body.contains(&format!("refused (parked: logtrack notify --requeue {parked})")));
    assert!(body.contains("pending, next try 2100-01-01T00:00:00Z"), "{body}");
    assert!(body.contains("&lt;b&gt;Too many&lt;/b&gt;"));
    assert!(!body.contains("href=\"javascript:"));
    let csrf = r.input("csrf").unwrap();
    assert_eq!(viewer.post(&format!("{page}/ack"), &[("csrf", &csrf)]).status, 403);

    let mut admin = signed_in(&server, ADMIN);
    let r = admin.get(&page);
    assert!(r.body.contains("Acknowledge</button>"));
    let csrf = r.input("csrf").unwrap();
    let r = admin.post(&format!("{page}/ack"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some(page.as_str()));
    assert!(admin.get(&page).body.contains("acknowledged by alice"));
    let sql = format!("SELECT count(*) FROM incidents WHERE id = {id} AND state = 'acknowledged'");
    assert_eq!(count(&url, &sql), 1);
    let sql =
        format!("SELECT count(*) FROM alerts WHERE incident_id = {id} AND acknowledged_by IS NULL");
    assert_eq!(count(&url, &sql), 0, "its alerts with it");
    let acked = admin.get("/alerts?state=acknowledged").body;
    assert_eq!(acked.matches("class=\"incident\"").count(), 1);
    let resolved = admin.get("/alerts?state=resolved").body;
    assert!(!resolved.contains(&format!("href=\"{page}\"")));
    assert_eq!(admin.post("/incidents/999999/ack", &[("csrf", &csrf)]).status, 404);
    assert_eq!(admin.get("/incidents/999999").status, 404);
    assert_eq!(admin.get("/alerts?ibefore=x").status, 400);
    // Times in the years 1 to 9999 only, as documented.
    assert_eq!(admin.get("/logs?since=0000-01-01T00:00:00Z").status, 400);
    assert_eq!(admin.get("/logs?until=0001-01-01T00:00:00%2B00:01").status, 400);
    assert_eq!(admin.get("/logs?since=0001-01-01T00:00:00Z").status, 200);
    // Page positions are microseconds: an older page of 2026 is one.
    assert_eq!(admin.get("/alerts?before=1773482400000000.999999").status, 200);
    assert_eq!(admin.get("/alerts?before=999999999999999999.1").status, 400);
    // An older page of incidents shows no history, and an alert links its incident.
    let older = admin.get(&format!("/alerts?ibefore=4102444800000000.{id}")).body;
    assert!(older.contains(&format!("href=\"{page}\"")), "{older}");
    assert!(!older.contains("History"));
    let alert = count(&url, &format!("SELECT min(id) FROM alerts WHERE incident_id = {id}"));
    let body = admin.get(&format!("/alerts/{alert}")).body;
    assert!(body.contains(&format!("<a href=\"{page}\">incident {id}</a>")), "{body}");

    // A resolved incident can no longer be acknowledged; one of its alerts
    // can (someone saw it), and the incident stays as it was.
    let resolved =
        count(&url, "SELECT coalesce(min(id), 0) FROM incidents WHERE state = 'resolved'");
    let resolved = if resolved > 0 {
        resolved
    } else {
        let other = count(&url, &format!("SELECT max(id) FROM incidents WHERE id <> {id}"));
        c.batch_execute(&format!("UPDATE incidents SET state = 'resolved' WHERE id = {other}"))
            .unwrap();
        other
    };
    let r = admin.post(&format!("/incidents/{resolved}/ack"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("resolved already"), "{}", r.body);
    let alert = count(&url, &format!("SELECT min(id) FROM alerts WHERE incident_id = {resolved}"));
    assert_eq!(admin.post(&format!("/alerts/{alert}/ack"), &[("csrf", &csrf)]).status, 303);
    let sql = format!(
        "SELECT count(*) FROM incidents WHERE id = {resolved} AND state = 'resolved' AND acknowledged_by IS NULL"
    );
    assert_eq!(count(&url, &sql), 1, "the resolved incident is as it was");
    let sql =
        format!("SELECT count(*) FROM alerts WHERE id = {alert} AND acknowledged_by = 'alice'");
    assert_eq!(count(&url, &sql), 1);
}

on_both!(
    the_alerts_page_lists_incidents_and_acknowledging_is_per_incident,
    the_alerts_page_lists_incidents_and_acknowledging_is_per_incident_on_a_cluster,
    the_alerts_page_lists_incidents_and_acknowledging_is_per_incident_in
);

/// Silences on the dashboard: every user sees them with the open incidents
/// they cover; only an admin adds or expires one, with the form token; a
/// log-chosen text in a matcher or comment is shown as text.
fn admins_add_and_expire_silences_with_the_form_token_in(cluster: bool) {
    let Some((url, _dir)) = setup("serve_silences", cluster, &[]) else { return };
    let server = Server::start(&url, &[]);
    // The rule of an incident still open at the data's end.
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rule: String = db
        .query_one(
            "SELECT rule_id FROM incidents WHERE state <> 'resolved' ORDER BY id LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let open = count(
        &url,
        &format!("SELECT count(*) FROM incidents WHERE state <> 'resolved' AND rule_id = '{rule}'"),
    );
    let mut viewer = signed_in(&server, VIEWER);
    let r = viewer.get("/silences");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("No silences."), "{}", r.body);
    assert!(!r.body.contains("Add a silence"), "no form for a viewer");
    let csrf = r.input("csrf").unwrap();
    let form = |csrf: &str, comment: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("match".to_string(), format!("rule = \"{rule}\"")),
            ("for".to_string(), "2h".to_string()),
            ("until".to_string(), String::new()),
            ("comment".to_string(), comment.to_string()),
        ]
    };
    let post = |c: &mut common::http::Client, path: &str, f: &[(String, String)]| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        c.post(path, &pairs)
    };
    assert_eq!(post(&mut viewer, "/silences", &form(&csrf, "x")).status, 403);
    assert_eq!(count(&url, "SELECT count(*) FROM silences"), 0);

    let mut admin = signed_in(&server, ADMIN);
    let r = admin.get("/silences");
    assert!(r.body.contains("Add a silence"));
    // Another session's token, or none: refused.
    assert_eq!(post(&mut admin, "/silences", &form(&csrf, "x")).status, 403);
    assert_eq!(admin.post("/silences", &[("match", "rule = \"x\"")]).status, 422);
    let csrf = r.input("csrf").unwrap();
    let comment = "<script>alert(1)</script> maintenance";
    let r = post(&mut admin, "/silences", &form(&csrf, comment));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/silences"));
    let id =
        count(&url, "SELECT id FROM silences WHERE created_by = 'alice' AND origin = 'dashboard'");
    let body = admin.get("/silences").body;
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt; maintenance"), "{body}");
    assert!(!body.contains("<script>alert(1)"));
    assert!(body.contains(&format!("id=\"silence-{id}\"")));
    // It covers the open web_volume incidents, each linked.
    assert!(open > 0);
    assert_eq!(body.matches("class=\"incident\"").count() as i64, open.min(20), "{body}");
    // A matcher that does not parse, or no end: 400, nothing stored.
    let mut bad = form(&csrf, "x");
    bad[1].1 = "rule ==".into();
    assert_eq!(post(&mut admin, "/silences", &bad).status, 400);
    let mut bad = form(&csrf, "x");
    bad[2].1 = String::new();
    assert_eq!(post(&mut admin, "/silences", &bad).status, 400);
    // A NUL, a megabyte of text, an end in the year 0 or a duration that
    // is none: 400, never 500, nothing stored.
    let mut bad = form(&csrf, "a\0b");
    assert_eq!(post(&mut admin, "/silences", &bad).status, 400);
    bad[4].1 = "x".repeat(1 << 20);
    assert_eq!(post(&mut admin, "/silences", &bad).status, 400);
    let mut bad = form(&csrf, "x");
    bad[1].1 = format!("rule = \"{}\"", "a".repeat(1 << 20));
    assert_eq!(post(&mut admin, "/silences", &bad).status, 400);
    let mut bad = form(&csrf, "x");
    (bad[2].1, bad[3].1) = (String::new(), "0000-01-01T00:00:00Z".into());
    assert_eq!(post(&mut admin, "/silences", &bad).status, 400);
    let mut bad = form(&csrf, "x");
    bad[2].1 = "forever".into();
    assert_eq!(post(&mut admin, "/silences", &bad).status, 400);
    assert_eq!(count(&url, "SELECT count(*) FROM silences"), 1);
    // Expired by a viewer: no; by the admin: yes, recorded.
    let expire = format!("/silences/{id}/expire");
    let vcsrf = viewer.get("/silences").input("csrf").unwrap();
    assert_eq!(viewer.post(&expire, &[("csrf", &vcsrf)]).status, 403);
    assert_eq!(admin.post(&expire, &[("csrf", &vcsrf)]).status, 403);
    assert_eq!(admin.post(&expire, &[("csrf", &csrf)]).status, 303);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM silences WHERE expired_by = 'alice' AND ends_at <= now()"
        ),
        1
    );
    assert!(admin.get("/silences").body.contains("No silences."));
    assert!(admin.get("/silences?all=1").body.contains("ended by alice"));
    assert_eq!(admin.post("/silences/999999/expire", &[("csrf", &csrf)]).status, 404);
}

on_both!(
    admins_add_and_expire_silences_with_the_form_token,
    admins_add_and_expire_silences_with_the_form_token_on_a_cluster,
    admins_add_and_expire_silences_with_the_form_token_in
);
