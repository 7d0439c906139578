#!/usr/bin/env python3
"""Deterministic generator of large logs in the formats added after the
access log, for `make bench` (bench/formats.sh). Stdlib only; the same
arguments give the same bytes.

  gen_formats.py syslog|json|app --size 1G --seed 1 --out FILE

  syslog  /var/log/auth.log and syslog lines: sshd failures and logins,
          sudo, CRON, systemd, kernel, postfix; classic times (no year) and
          rsyslog's high-precision ISO times, about half each
  json    application JSON lines: pino, ECS (nested objects) and zap shapes
  app     a log4j-style text line for a 6-capture regex:
          2024-05-01 12:00:00,123 WARN  [pool-1] ann@203.0.113.4 orders: message
  java    a Java application's log: one line per event, and one event in
          twenty an error with its stack trace (10-40 frames, sometimes a
          "Caused by:" with its own, "... N more"), for `--multiline java`:
          2024-05-01T12:00:00.123Z ERROR [pool-1] com.example.Orders - message
"""
import argparse
import random
from datetime import datetime, timedelta, timezone

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
USERS = ["root", "admin", "alice", "bob", "deploy", "git", "oracle", "test", "ubuntu", "postgres"]
HOSTS = ["web1", "web2", "db1", "cache-3"]


def size_arg(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(s[:-1]) * mult[s[-1].upper()]) if s[-1].upper() in mult else int(s)


def syslog_lines(rng, t):
    ips = ["203.0.113.%d" % i for i in range(1, 255)] + ["2001:db8::%x" % i for i in range(1, 40)]
    pid = 1000
    while True:
        t += timedelta(microseconds=rng.randint(1000, 400000))
        pid = pid + 1 if pid < 65000 else 1000
        host = rng.choice(HOSTS)
        if rng.random() < 0.5:
            ts = "%s %2d %02d:%02d:%02d" % (MONTHS[t.month - 1], t.day, t.hour, t.minute, t.second)
        else:
            ts = t.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        r = rng.random()
        if r < 0.30:
            user = rng.choice(USERS)
            inv = "invalid user " if user in ("admin", "test", "oracle", "ubuntu") else ""
            msg = "sshd[%d]: Failed password for %s%s from %s port %d ssh2" % (pid, inv, user, rng.choice(ips), rng.randint(1024, 65535))
        elif r < 0.40:
            msg = "sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:%032x" % (pid, rng.choice(USERS[:5]), rng.choice(ips), rng.randint(1024, 65535), rng.getrandbits(128))
        elif r < 0.50:
            msg = "sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=%s" % (pid, rng.choice(ips), rng.choice(USERS))
        elif r < 0.55:
            msg = "sudo:    %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx" % (rng.choice(USERS[:5]), rng.randint(0, 9), rng.choice(USERS[:5]))
        elif r < 0.70:
            msg = "CRON[%d]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)" % pid
        elif r < 0.82:
            msg = "systemd[1]: Started Session %d of User %s." % (rng.randint(1, 99999), rng.choice(USERS[:5]))
        elif r < 0.92:
            msg = "kernel: [%d.%06d] [UFW BLOCK] IN=eth0 OUT= MAC=00:16:3e:00:00:01 SRC=%s DST=192.0.2.1 LEN=40 TOS=0x00 PROTO=TCP SPT=%d DPT=22" % (rng.randint(1, 999999), rng.randint(0, 999999), rng.choice(ips[:254]), rng.randint(1024, 65535))
        else:
            msg = "postfix/smtpd[%d]: connect from unknown[%s]" % (pid, rng.choice(ips[:254]))
        yield "%s %s %s\n" % (ts, host, msg)


def json_lines(rng, t):
    routes = ["/api/v1/orders", "/api/v1/cart", "/health", "/login", "/api/v1/items?page=2"]
    levels = [30, 30, 30, 30, 40, 50, 20]
    n = 0
    while True:
        t += timedelta(microseconds=rng.randint(1000, 200000))
        n += 1
        r = rng.random()
        ms = int(t.timestamp() * 1000)
        if r < 0.5:
            yield '{"level":%d,"time":%d,"pid":%d,"hostname":"%s","name":"api","req":{"id":%d,"method":"GET","url":"%s","remoteAddress":"203.0.113.%d"},"res":{"statusCode":%d},"responseTime":%d,"msg":"request completed"}\n' % (
                rng.choice(levels), ms, rng.randint(100, 999), rng.choice(HOSTS), n, rng.choice(routes), rng.randint(1, 254), rng.choice([200, 200, 200, 201, 404, 500]), rng.randint(1, 900))
        elif r < 0.8:
            yield '{"@timestamp":"%s","log.level":"%s","message":"payment %s for order %d","ecs.version":"1.6.0","service":{"name":"checkout","version":"2.%d.0"},"host":{"name":"%s"},"client":{"ip":"198.51.100.%d"},"user":{"name":"%s"},"event":{"duration":%d,"outcome":"%s"},"trace.id":"%032x"}\n' % (
                t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000), rng.choice(["info", "info", "warn", "error"]), rng.choice(["accepted", "declined"]), n, rng.randint(0, 9), rng.choice(HOSTS), rng.randint(1, 254), rng.choice(USERS), rng.randint(1000, 9999999), rng.choice(["success", "failure"]), rng.getrandbits(128))
        else:
            yield '{"level":"%s","ts":%.6f,"logger":"db.pool","caller":"pool/pool.go:%d","msg":"query done","rows":%d,"elapsed":"%dms","query":"SELECT * FROM items WHERE id = $1"}\n' % (
                rng.choice(["debug", "info", "warn"]), t.timestamp(), rng.randint(10, 400), rng.randint(0, 500), rng.randint(1, 999))


def app_lines(rng, t):
    threads = ["main", "pool-1-thread-3", "http-nio-8080-exec-7", "scheduler"]
    services = ["orders", "payments", "auth", "inventory"]
    levels = ["INFO ", "INFO ", "INFO ", "WARN ", "ERROR", "DEBUG"]
    while True:
        t += timedelta(microseconds=rng.randint(1000, 200000))
        who = "-" if rng.random() < 0.3 else rng.choice(USERS)
        yield "%s,%03d %s [%s] %s@203.0.113.%d %s: handled request %d in %d ms\n" % (
            t.strftime("%Y-%m-%d %H:%M:%S"), t.microsecond // 1000, rng.choice(levels), rng.choice(threads),
            who, rng.randint(1, 254), rng.choice(services), rng.getrandbits(32), rng.randint(1, 5000))


def java_lines(rng, t):
    classes = ["com.example.Orders", "com.example.Payments", "com.example.Inventory", "org.example.http.Server"]
    errors = ["java.lang.IllegalStateException", "java.lang.NullPointerException",
              "java.io.IOException", "java.util.concurrent.TimeoutException"]

    def frames(n):
        return "".join("\tat com.example.layer%d.Service%d.call(Service%d.java:%d)\n" % (i, i, i, rng.randint(1, 500))
                       for i in range(n))
    n = 0
    while True:
        n += 1
        t += timedelta(microseconds=rng.randint(1000, 200000))
        ts = t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)
        head = "%s %s [pool-%d] %s - " % (ts, "%s", rng.randint(0, 15), rng.choice(classes))
        if rng.random() < 0.05:
            trace = "%s: request %d went wrong\n%s" % (rng.choice(errors), n, frames(rng.randint(10, 40)))
            if rng.random() < 0.5:
                trace += "Caused by: java.sql.SQLException: deadlock detected\n%s\t... %d more\n" % (
                    frames(rng.randint(5, 15)), rng.randint(5, 40))
            yield head % "ERROR" + "request %d failed\n" % n + trace
        else:
            yield head % rng.choice(["INFO", "INFO", "INFO", "WARN", "DEBUG"]) + "handled request %d for user%d in %d ms\n" % (
                n, rng.randint(1, 999), rng.randint(1, 5000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["syslog", "json", "app", "java"])
    ap.add_argument("--size", type=size_arg, default=size_arg("100M"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    gen = {"syslog": syslog_lines, "json": json_lines, "app": app_lines, "java": java_lines}[a.kind](rng, start)
    written = 0
    with open(a.out, "w") as f:
        buf = []
        while written < a.size:
            line = next(gen)
            buf.append(line)
            written += len(line)
            if len(buf) >= 10000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))


if __name__ == "__main__":
    main()
