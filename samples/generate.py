#!/usr/bin/env python3
"""Writes the quickstart sample logs (deterministic: run it again, get the
same bytes). One hour, 2026-03-14 10:00-11:00 UTC, in three formats, with
these incidents planted in ordinary traffic:

web (Apache combined, logged at +0100):
  10:12:00-10:13:30  outage: 24 responses 500/503          -> web_5xx_spike
  10:25:00-10:26:40  password guessing on /admin as "admin" -> admin_bruteforce
                     (50 x 401 from one client)
  10:40:00-10:41:00  a scanner: 150 x 404 from one client    -> scanner, web_volume
  10:45:10-10:58:00  no requests at all (13 minutes)         -> web_down
  10:59:30           alice signs in from an address she
                     never used                              -> web_new_address
hdfs (raw HDFS, UTC):
  10:33:00-10:34:30  the same IOException 14 times           -> hdfs_repeated_error
                     (a kind of message never seen before)   -> hdfs_new_message
cloudtrail ({"Records":[...]}):
  10:50:00-10:50:50  one role lists IAM users/roles/policies
                     30 times, many AccessDenied              -> iam_enumeration
  10:56:12           deploy-bot, which only ever read, calls
                     CreateAccessKey                          -> new_api_call
                                                                 sigma_cloudtrail (AWS IAM
                                                                 Backdoor Users Keys)
  10:57:40           deploy-bot stops the trail's logging
                     (StopLogging)                            -> sigma_cloudtrail (SigmaHQ's
                                                                 AWS CloudTrail Important Change)
auth (syslog as Debian 12's rsyslog writes it, high-precision times):
  10:20:00-10:21:58  SSH password guessing from one address:
                     60 failures for 15 account names          -> ssh_guessing
app (JSON lines, pino):
  10:35:00-10:36:55  the payment provider times out: 24 errors -> app_errors
"""
import json
import random
from datetime import datetime, timedelta, timezone

rng = random.Random(20260314)
START = datetime(2026, 3, 14, 10, 0, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=1)
WEB_TZ = timezone(timedelta(hours=1))

PAGES = ["/", "/index.html", "/products", "/products/42", "/cart", "/search?q=lamp",
         "/static/app.js", "/static/site.css", "/img/logo.png", "/about", "/api/v1/items?page=2"]
CLIENTS = ["198.51.100.%d" % i for i in range(2, 40)] + ["2001:db8::%x" % i for i in range(1, 6)]
UAS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/123.0",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) Safari/605.1.15",
       "curl/8.5.0"]


def clf_time(t):
    return t.astimezone(WEB_TZ).strftime("%d/%b/%Y:%H:%M:%S %z")


def web_line(t, client, user, method, path, status, size, ua):
    return '%s - %s [%s] "%s %s HTTP/1.1" %d %s "-" "%s"' % (
        client, user or "-", clf_time(t), method, path, status, size, ua)


def web():
    lines = []
    t = START
    while t < END:
        t += timedelta(seconds=rng.randint(3, 11))
        if datetime(2026, 3, 14, 10, 45, 10, tzinfo=timezone.utc) <= t < datetime(2026, 3, 14, 10, 58, tzinfo=timezone.utc):
            continue
        if t >= END:
            break
        path = rng.choice(PAGES)
        status = 304 if rng.random() < 0.1 else 200
        lines.append((t, web_line(t, rng.choice(CLIENTS), None, "GET", path, status,
                                  "-" if status == 304 else rng.randint(200, 40000), rng.choice(UAS))))
    # A logged-in editor uses /admin normally, a few times.
    for m in (5, 20, 35):
        t = START + timedelta(minutes=m, seconds=17)
        lines.append((t, web_line(t, "198.51.100.7", "alice", "GET", "/admin/pages", 200, 5120, UAS[0])))
    # Outage: 5xx for ninety seconds.
    for i in range(24):
        t = START + timedelta(minutes=12, seconds=i * 4)
        lines.append((t, web_line(t, rng.choice(CLIENTS), None, "GET", rng.choice(PAGES),
                                  rng.choice([500, 503]), rng.randint(200, 600), rng.choice(UAS))))
    # Password guessing against /admin.
    for i in range(50):
        t = START + timedelta(minutes=25, seconds=i * 2)
        lines.append((t, web_line(t, "203.0.113.66", "admin", "POST", "/admin/login", 401, 381,
                                  "python-requests/2.31")))
    # A scanner walking well-known paths.
    probes = ["/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/", "/admin.php", "/backup.zip"]
    for i in range(150):
        t = START + timedelta(minutes=40, seconds=i * 0.4)
        lines.append((t, web_line(t, "192.0.2.200", None, "GET", probes[i % len(probes)] + "?n=%d" % i,
                                  404, 196, "Mozilla/5.0 zgrab/0.x")))
    # Servers log at completion: a little out of order, as real logs are.
    lines.sort(key=lambda x: (x[0] + timedelta(seconds=rng.choice([0, 0, 0, 1])), x[1]))
    # The editor signs in from an address never seen before (added after
    # the sort, so that the lines above keep their bytes).
    t = datetime(2026, 3, 14, 10, 59, 30, tzinfo=timezone.utc)
    at = next(i for i, (lt, _) in enumerate(lines) if lt > t)
    lines.insert(at, (t, web_line(t, "203.0.113.99", "alice", "POST", "/admin/login", 200, 412, UAS[1])))
    return "".join(l + "\n" for _, l in lines)


def hdfs():
    comps = [("INFO", "dfs.DataNode$PacketResponder", "PacketResponder %d for block blk_%d terminating"),
             ("INFO", "dfs.FSNamesystem", "BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.250.%d.%d:50010 is added to blk_%d size 67108864"),
             ("INFO", "dfs.DataNode$DataXceiver", "Receiving block blk_%d src: /10.251.%d.%d:%d dest: /10.251.%d.%d:50010")]
    out = []
    t = START
    while t < END:
        t += timedelta(seconds=rng.randint(5, 20))
        if t >= END:
            break
        lvl, comp, tmpl = rng.choice(comps)
        n = tmpl.count("%d")
        vals = [rng.randint(0, 2) if i == 0 and "PacketResponder" in tmpl else rng.randint(1, 250) for i in range(n)]
        if "blk_%d" in tmpl:
            idx = tmpl[:tmpl.index("blk_%d")].count("%d")
            vals[idx] = rng.randint(-9 * 10**18, 9 * 10**18)
        out.append((t, lvl, comp, tmpl % tuple(vals)))
    for i in range(14):
        t = START + timedelta(minutes=33, seconds=i * 6)
        out.append((t, "WARN", "dfs.DataNode", "DataXceiver: java.io.IOException: Connection reset by peer"))
    out.sort(key=lambda x: x[0])
    return "".join("%s %s %s %s %s: %s\n" % (t.strftime("%y%m%d"), t.strftime("%H%M%S"), 143 + i % 7, lvl, comp, msg)
                   for i, (t, lvl, comp, msg) in enumerate(out))


def event(t, user, role, source, name, error=None):
    ident = ({"type": "IAMUser", "principalId": "AIDA%s" % user.upper(), "arn": "arn:aws:iam::111122223333:user/%s" % user,
              "accountId": "111122223333", "userName": user} if not role else
             {"type": "AssumedRole", "principalId": "AROAEXAMPLE:%s" % user,
              "arn": "arn:aws:sts::111122223333:assumed-role/%s/%s" % (role, user), "accountId": "111122223333",
              "sessionContext": {"sessionIssuer": {"type": "Role", "userName": role,
                                                   "arn": "arn:aws:iam::111122223333:role/%s" % role}}})
    e = {"eventVersion": "1.08", "userIdentity": ident, "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
         "eventSource": source, "eventName": name, "awsRegion": "eu-west-1",
         "sourceIPAddress": "203.0.113.%d" % rng.randint(1, 50), "userAgent": "aws-cli/2.15.0",
         "requestParameters": None, "responseElements": None,
         "requestID": "%08x-0000-4000-8000-%012x" % (rng.getrandbits(32), rng.getrandbits(48)),
         "eventID": "%08x-1111-4000-8000-%012x" % (rng.getrandbits(32), rng.getrandbits(48)),
         "readOnly": True, "eventType": "AwsApiCall", "managementEvent": True,
         "recipientAccountId": "111122223333", "eventCategory": "Management"}
    if error:
        e["errorCode"] = error
        e["errorMessage"] = "User is not authorized to perform this action"
    return e


def cloudtrail():
    calls = [("s3.amazonaws.com", "GetObject"), ("ec2.amazonaws.com", "DescribeInstances"),
             ("sts.amazonaws.com", "GetCallerIdentity"), ("kms.amazonaws.com", "Decrypt"),
             ("iam.amazonaws.com", "GetUser")]
    recs = []
    t = START
    while t < END:
        t += timedelta(seconds=rng.randint(20, 60))
        if t >= END:
            break
        src, name = rng.choice(calls)
        recs.append(event(t, rng.choice(["maria", "deploy-bot", "tom"]), None, src, name))
    for i in range(30):
        t = START + timedelta(minutes=50, seconds=i * 1.7)
        name = ["ListUsers", "ListRoles", "ListPolicies", "ListAttachedUserPolicies", "GetAccountAuthorizationDetails"][i % 5]
        recs.append(event(t, "i-0abc123", "ci-runner", "iam.amazonaws.com", name,
                          "AccessDenied" if i % 3 else None))
    rng.shuffle(recs)  # delivery files are not sorted
    # A user that has called the same five read APIs all along creates an
    # access key (after the shuffle, so that the records above keep their
    # bytes).
    key = event(START + timedelta(minutes=56, seconds=12), "deploy-bot", None, "iam.amazonaws.com", "CreateAccessKey")
    key["readOnly"] = False
    recs.append(key)
    # Then covers its tracks: the trail stops logging (drawn last, so that
    # every record above keeps its bytes).
    stop = event(START + timedelta(minutes=57, seconds=40), "deploy-bot", None, "cloudtrail.amazonaws.com", "StopLogging")
    stop["readOnly"] = False
    stop["requestParameters"] = {"name": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/management-events"}
    recs.append(stop)
    return json.dumps({"Records": recs}, separators=(",", ":")) + "\n"


# The logs added later draw from their own generator, so that the older
# samples stay byte for byte what they were.
rng2 = random.Random(20260315)


def auth():
    def line(t, tag, pid, msg):
        return (t, "%s web1 %s[%d]: %s" % (t.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"), tag, pid, msg))
    out = []
    t = START
    pid = 20000
    staff = [("alice", "198.51.100.7"), ("bob", "198.51.100.8"), ("deploy", "192.0.2.10")]
    while t < END:
        t += timedelta(seconds=rng2.randint(60, 240))
        if t >= END:
            break
        pid += 1
        kind = rng2.random()
        if kind < 0.45:
            user, ip = rng2.choice(staff)
            port = rng2.randint(40000, 60000)
            out.append(line(t, "sshd", pid, "Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:Zm9vYmFy" % (user, ip, port)))
            out.append(line(t, "sshd", pid, "pam_unix(sshd:session): session opened for user %s(uid=1000) by (uid=0)" % user))
        elif kind < 0.65:
            # The background noise of the internet: one try, then gone.
            ip = "203.0.113.%d" % rng2.randint(100, 200)
            port = rng2.randint(30000, 65000)
            out.append(line(t, "sshd", pid, "Invalid user %s from %s port %d" % (rng2.choice(["test", "oracle", "ubuntu", "pi"]), ip, port)))
            out.append(line(t + timedelta(seconds=2), "sshd", pid, "Connection closed by invalid user test %s port %d [preauth]" % (ip, port)))
        elif kind < 0.8:
            out.append(line(t, "CRON", pid, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"))
        else:
            out.append(line(t, "sudo", pid, "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl reload nginx"))
    # Password guessing: one address, many names, two minutes.
    names = ["root", "admin", "ubuntu", "postgres", "git", "oracle", "test", "user", "deploy", "ftp",
             "www-data", "support", "guest", "mysql", "jenkins"]
    for i in range(60):
        t = START + timedelta(minutes=20, seconds=i * 2)
        pid += 1
        name = names[i % len(names)]
        port = 40000 + i * 7
        if name in ("root", "deploy"):
            msg = "Failed password for %s from 203.0.113.66 port %d ssh2" % (name, port)
        else:
            msg = "Failed password for invalid user %s from 203.0.113.66 port %d ssh2" % (name, port)
        out.append(line(t, "sshd", pid, msg))
    out.sort(key=lambda x: x[0])
    return "".join(l + "\n" for _, l in out)


def app():
    def line(t, level, msg, **extra):
        rec = {"level": level, "time": int(t.timestamp() * 1000), "pid": 4242, "hostname": "app-1",
               "name": "checkout", "msg": msg}
        rec.update(extra)
        return (t, json.dumps(rec, separators=(",", ":")))
    out = []
    t = START
    n = 0
    while t < END:
        t += timedelta(milliseconds=rng2.randint(2000, 9000))
        if t >= END:
            break
        n += 1
        route = rng2.choice(["/cart", "/checkout", "/orders", "/health"])
        out.append(line(t, 30, "request completed", req={"id": n, "method": "GET", "url": route},
                        res={"statusCode": 200}, responseTime=rng2.randint(3, 80)))
        if rng2.random() < 0.03:
            out.append(line(t, 40, "slow query", query="select_cart", ms=rng2.randint(500, 900)))
    for i in range(24):
        t = START + timedelta(minutes=35, seconds=i * 5)
        out.append(line(t, 50, "payment provider timeout", provider="acme-pay", err={"type": "TimeoutError",
                                                                                       "message": "timed out after 3000 ms"}))
    # While the provider times out, checkouts fail with 502 after about 3 s:
    # a failure rate and a p95 latency step on /checkout only.
    for i in range(12):
        t = START + timedelta(minutes=35, seconds=i * 10 + 3)
        out.append(line(t, 50, "request completed", req={"id": 100000 + i, "method": "POST", "url": "/checkout"},
                        res={"statusCode": 502}, responseTime=3000 + i * 7))
    out.sort(key=lambda x: x[0])
    return "".join(l + "\n" for _, l in out)


if __name__ == "__main__":
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    for sub, name, text in [("web", "access.log", web()), ("hdfs", "hdfs.log", hdfs()),
                            ("cloudtrail", "111122223333_CloudTrail_eu-west-1_20260314T1000Z.json", cloudtrail()),
                            ("auth", "auth.log", auth()), ("app", "app.jsonl", app())]:
        os.makedirs(os.path.join(here, sub), exist_ok=True)
        with open(os.path.join(here, sub, name), "w") as f:
            f.write(text)
