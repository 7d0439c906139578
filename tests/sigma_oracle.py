#!/usr/bin/env python3
"""LogTrack's Sigma engine against an independent one (pySigma, SQLite backend).

For every rule under the given folders, events are generated from the rule's
own selections: one per search identifier and one with all of them (what
the rule should match), each with its values' case swapped, with one field
left out, and with one value altered (near misses). Both engines are asked
which rules each event matches:

  - LogTrack: `logtrack sigma match --events FILE RULES...`;
  - pySigma: the rule converted to SQL by pysigma-backend-sqlite (strings
    compared without case, keywords over a `line` column that holds the
    event's JSON text), run by SQLite over a table of the events.

Prints one JSON object: per rule, the number of events, how many both
engines matched and did not match, and every disagreement. Rules pySigma
cannot convert (it names why) are listed apart, not compared.

Usage: sigma_oracle.py LOGTRACK WORKDIR RULES_DIR...
"""

import base64
import ipaddress
import json
import os
import re
import sqlite3
import subprocess
import sys

import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection


def unescape(v):
    """A Sigma string with its wildcards filled: `*` nothing, `?` one `x`;
    `\\*`, `\\?`, `\\\\` their literal selves."""
    out, i = [], 0
    while i < len(v):
        c = v[i]
        if c == "\\" and i + 1 < len(v) and v[i + 1] in "*?\\":
            out.append(v[i + 1])
            i += 2
            continue
        if c == "*":
            pass
        elif c == "?":
            out.append("x")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def sample(field_mods, values):
    """A value that the field test should match, or None when none is made."""
    mods = field_mods[1:]
    if not isinstance(values, list):
        values = [values]
    if values == [None]:
        return ("absent",)
    if "exists" in mods:
        return "present" if values[0] else ("absent",)
    if "re" in mods or "expand" in mods:
        return None
    if "cidr" in mods:
        net = ipaddress.ip_network(str(values[0]), strict=False)
        return str(net.network_address + (1 if net.num_addresses > 1 else 0))
    for op, delta in (("gt", 1), ("gte", 0), ("lt", -1), ("lte", 0)):
        if op in mods:
            return values[0] + delta
    if "fieldref" in mods:
        return ("ref", str(values[0]))
    chosen = values if "all" in mods else values[:1]
    parts = []
    for v in chosen:
        if isinstance(v, bool):
            v = "true" if v else "false"
        if isinstance(v, (int, float)) and not any(
            m in mods for m in ("contains", "startswith", "endswith", "all")
        ):
            return v
        s = unescape(str(v))
        if "base64" in mods or "base64offset" in mods:
            s = base64.b64encode(s.encode()).decode()
            if "base64offset" in mods:
                # The first of the three encodings, as the specification
                # cuts it (its last, partial characters left out).
                s = s.rstrip("=")
                cut = {1: 2, 2: 3}.get(len(str(v)) % 3, 0)
                s = s[: len(s) - cut] if cut else s
        parts.append(s)
    s = " ".join(parts)
    if "contains" in mods or "all" in mods:
        return ("text", "inside", s)
    if "startswith" in mods:
        return ("text", "start", s)
    if "endswith" in mods:
        return ("text", "end", s)
    return ("text", "exact", s)


def compose(tests):
    """One text for a field that several tests place (`|startswith`, then
    `|contains`, then `|endswith`)."""
    exact = [v for k, v in tests if k == "exact"]
    if exact:
        return exact[0]
    start = [v for k, v in tests if k == "start"]
    inside = [v for k, v in tests if k == "inside"]
    end = [v for k, v in tests if k == "end"]
    return " ".join(start + ["pre"] + inside + ["post"] + end)


def event_of(search):
    """An event meant to match one search identifier, or None."""
    if isinstance(search, list) and search and all(isinstance(x, dict) for x in search):
        search = search[0]
    if isinstance(search, dict):
        ev, refs, texts = {}, [], {}
        for key, values in search.items():
            parts = str(key).split("|")
            s = sample(parts, values)
            if s is None:
                return None
            if isinstance(s, tuple) and s[0] == "absent":
                ev.pop(parts[0], None)
                continue
            if isinstance(s, tuple) and s[0] == "ref":
                refs.append((parts[0], s[1]))
                continue
            if isinstance(s, tuple) and s[0] == "text":
                texts.setdefault(parts[0], []).append(s[1:])
                continue
            ev[parts[0]] = s
        for field, tests in texts.items():
            ev[field] = compose(tests)
        for field, other in refs:
            ev[field] = ev.setdefault(other, "same value")
        return ev
    # Keywords: the line holds them.
    words = search if isinstance(search, list) else [search]
    # The line is the event's JSON text: a keyword with a quote or a
    # backslash is written escaped there.
    plain = [w for w in words if not any(c in str(w) for c in '"\\')]
    if not plain:
        return None
    return {"message": "pre " + unescape(str(plain[0])) + " post"}


def merge(into, ev):
    """`ev`'s fields into `into`; two texts for one field are both kept (two
    searches that each need the field to contain something)."""
    for k, v in ev.items():
        old = into.get(k)
        if isinstance(old, str) and isinstance(v, str) and old != v:
            into[k] = old + " " + v
        else:
            into[k] = v


def variants(ev):
    """The event, its case swapped, each field left out, each value altered."""
    out = [ev]
    out.append({k: v.swapcase() if isinstance(v, str) else v for k, v in ev.items()})
    for k in list(ev)[:4]:
        out.append({x: y for x, y in ev.items() if x != k})
        v = ev[k]
        if isinstance(v, str) and v:
            mid = len(v) // 2
            c = v[mid]
            alt = "q" if c.lower() != "q" else "z"
            out.append({**ev, k: v[:mid] + alt + v[mid + 1 :]})
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append({**ev, k: v + 7})
    return out


def extra_events(rule):
    """Hand-made events for rules whose values the generator cannot use."""
    det = rule.get("detection") or {}
    out = []
    sel = det.get("selection")
    if isinstance(sel, dict):
        ev = event_of({k: v for k, v in sel.items() if "|re" not in k}) or {}
        for k, v in sel.items():
            field, _, mods = str(k).partition("|")
            if mods == "re" and v == ".{150}":
                ev[field] = "h" * 150
            elif mods == "re" and v == ".+:assumed-role/aws:.+":
                ev[field] = "arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0abc"
        out.append(ev)
        # A field a filter wants absent (`x: null`), present.
        for name, search in det.items():
            if name.startswith("filter") and isinstance(search, dict):
                for k, v in search.items():
                    if v is None:
                        out.append({**ev, str(k).split("|")[0]: "q=1"})
    return out


def events_of(rule):
    det = rule.get("detection") or {}
    singles = []
    for name, search in det.items():
        if name in ("condition", "timeframe"):
            continue
        e = event_of(search)
        if e is not None:
            singles.append(e)
    merged = {}
    for e in singles:
        merge(merged, e)
    # The searches the condition does not negate (`not x`, `not 1 of x*`),
    # together: what `a and b and not c` needs.
    cond = det.get("condition", "")
    cond = " ".join(cond) if isinstance(cond, list) else str(cond)
    negated = re.findall(r"\bnot\s+(?:(?:1|all|any)\s+of\s+)?([\w*]+)", cond)
    is_negated = lambda name: any(
        re.fullmatch(n.replace("*", ".*"), name) for n in negated
    )
    # One search of each group of names (`selection_action_*`: what
    # `1 of` needs), each search in turn, with the rest not negated.
    group = lambda name: name.rsplit("_", 1)[0] if "_" in name else name
    names = [
        n for n in det if n not in ("condition", "timeframe") and not is_negated(n)
    ]
    combos = []
    for chosen in names:
        picked = {}
        for n in names:
            g = group(n)
            if g == group(chosen):
                picked[g] = chosen
            else:
                picked.setdefault(g, n)
        combo = {}
        for n in picked.values():
            e = event_of(det[n])
            if e is not None:
                merge(combo, e)
        combos.append(combo)
    base = singles + [e for e in [merged] + combos if e and len(singles) > 1]
    base += extra_events(rule)
    seen, out = set(), []
    for e in base:
        for v in variants(e):
            key = json.dumps(v, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(v)
    return out


def regexp(pattern, value):
    if value is None:
        return 0
    try:
        return 1 if re.search(pattern, str(value)) else 0
    except re.error:
        return 0


def fields_of(rule):
    """Every field name the rule's searches name."""
    out = set()
    for name, search in (rule.get("detection") or {}).items():
        maps = search if isinstance(search, list) else [search]
        for m in maps:
            if isinstance(m, dict):
                out |= {str(k).split("|")[0] for k in m}
    return out


def pysigma_matches(text, rule, events, lines):
    """Indexes of `events` the rule matches, per pySigma's SQLite query."""
    backend = sqliteBackend(collate_nocase=True, fulltext_field="line")
    queries = backend.convert(SigmaCollection.from_yaml(text))
    cols = sorted({k for e in events for k in e} | fields_of(rule) | {"line"})
    db = sqlite3.connect(":memory:")
    db.create_function("REGEXP", 2, regexp)
    q = lambda c: '"' + c.replace('"', '""') + '"'
    db.execute("CREATE TABLE logs (" + ", ".join(q(c) + " COLLATE NOCASE" for c in cols) + ")")
    for i, (e, line) in enumerate(zip(events, lines)):
        row = {**e, "line": line}
        db.execute(
            "INSERT INTO logs (rowid, " + ", ".join(q(c) for c in row) + ") VALUES (?, "
            + ", ".join("?" for _ in row) + ")",
            [i + 1] + [v if not isinstance(v, bool) else str(v).lower() for v in row.values()],
        )
    hits = set()
    for query in queries:
        hits |= {r[0] - 1 for r in db.execute(query.replace("SELECT *", "SELECT rowid", 1))}
    return hits


def main():
    logtrack, work = sys.argv[1], sys.argv[2]
    files = []
    for d in sys.argv[3:]:
        for root, _, names in os.walk(d):
            files += [os.path.join(root, n) for n in names if n.endswith((".yml", ".yaml"))]
    files.sort()
    rules, all_events = [], []
    for f in files:
        text = open(f, encoding="utf-8").read()
        rule = yaml.safe_load(text)
        evs = events_of(rule)
        lines = [json.dumps(e) for e in evs]
        start = len(all_events)
        all_events += lines
        rules.append((f, rule, text, evs, lines, start))
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "events.jsonl")
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(all_events) + "\n")
    got = subprocess.run(
        [logtrack, "-q", "sigma", "match", "--events", path] + sys.argv[3:],
        capture_output=True, text=True, check=False,
    )
    logtrack_hits = {}
    for line in got.stdout.splitlines():
        n, _, ids = line.partition("\t")
        logtrack_hits[int(n) - 1] = set(filter(None, ids.split(",")))
    report = {"rules": [], "not_compared": []}
    for f, rule, text, evs, lines, start in rules:
        rid = str(rule.get("id") or rule.get("title"))
        try:
            theirs = pysigma_matches(text, rule, evs, lines)
        except Exception as e:  # pySigma cannot convert it: say why
            report["not_compared"].append({"file": f, "why": f"{type(e).__name__}: {e}"})
            continue
        ours = {i for i in range(len(evs)) if rid in logtrack_hits.get(start + i, set())}
        report["rules"].append({
            "file": f,
            "id": rid,
            "events": len(evs),
            "both_match": len(ours & theirs),
            "neither": len(evs) - len(ours | theirs),
            "disagree": [
                {"event": evs[i], "logtrack": i in ours, "pysigma": i in theirs}
                for i in sorted(ours ^ theirs)
            ],
        })
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
