#!/usr/bin/python3
"""Probes, watchers and measurements for the end-to-end tests (tests/e2e/*.sh).

Run with Debian's /usr/bin/python3 (stdlib + psycopg2, which Patroni needs anyway); the python3 first
on PATH may be a pyenv shim without psycopg2.

Every loop here is bounded in count and in time, and every background loop also stops when its
--stop file appears. Records are JSON lines with epoch times (seconds, float), so that the shell
drivers, the analyses and a human reading <build>/e2e-logs/ all see the same clock.

Subcommands:
  probe      a NEW connection every --interval, one attempt at a time: write (INSERT) or read
  watch      every member's GET /patroni every 100 ms (role, state, WAL positions, who streams)
  wait-over  until a failover/switchover is over for every given probe (bounded)
  outage     figures of a failover or switchover seen by one probe, with optional assertions
  landed     which members a probe's clients reached in a time window, with optional assertions
  when       waits until a member's GET /patroni says something (role, state, who streams)
  lag        waits until a replica's lag (as Patroni reports it) crosses a threshold
  cancel     N cancels of SELECT pg_sleep() through a listener, each must end with 57014 in time
  session    one session through a listener: where it landed, and whether both legs are TLS
  metric     the value of one Prometheus series of patroxy's /metrics
  table      the patroxy-vs-HAProxy comparison table (markdown) from outage summaries
  reserve    adds ports to (or removes them from) the kernel's ip_local_reserved_ports
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

try:
    import psycopg2
    import psycopg2.errorcodes  # noqa: F401  (the error codes module loads lazily otherwise)
except ImportError:  # pragma: no cover - only when run with the wrong interpreter
    sys.exit("e2e.py: no psycopg2: run it with Debian's /usr/bin/python3 (package python3-psycopg2)")

READY_ROLES = ("master", "primary")


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)


def fmt(t):
    """HH:MM:SS.mmm of an epoch time, or '-'."""
    if t is None or t != t or abs(t) == float("inf"):
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1000):03d}"


def secs(x):
    return "-" if x is None else f"{x + 0.0:.3f} s".replace("-0.000", "0.000")


def load(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line cut by a kill of the writer
    return out


def members_arg(text):
    """'node1:55441:58441,node2:...' -> {name: (pg_port, api_port)}"""
    out = {}
    for item in text.split(","):
        name, pg, api = item.split(":")
        out[name] = (int(pg), int(api))
    return out


def stopped(a, deadline):
    return time.time() >= deadline or (a.stop and os.path.exists(a.stop))


# --- probe -------------------------------------------------------------------------------------

def one_attempt(dsn, kind, seq):
    """One client: connect, ask where it landed, then INSERT (write) or nothing more (read).
    phase says where a failure happened: 'connect' (no session was established) or 'statement'."""
    rec = {"seq": seq, "start": time.time()}
    try:
        conn = psycopg2.connect(dsn)
    except psycopg2.Error as e:
        rec.update(end=time.time(), ok=False, phase="connect", sqlstate=e.pgcode,
                   error=" ".join(str(e).split()))
        return rec
    rec["connected"] = time.time()
    rec["ssl"] = bool(conn.info.ssl_in_use)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SELECT inet_server_port(), pg_is_in_recovery()")
        rec["port"], rec["recovery"] = cur.fetchone()
        if kind == "write":
            cur.execute("INSERT INTO e2e(t) VALUES (now())")
        rec.update(end=time.time(), ok=True)
    except psycopg2.Error as e:
        rec.update(end=time.time(), ok=False, phase="statement", sqlstate=e.pgcode,
                   error=" ".join(str(e).split()))
    finally:
        conn.close()
    return rec


def cmd_probe(a):
    dsn = (f"host=127.0.0.1 port={a.port} user=app dbname=app sslmode={a.sslmode} "
           f"connect_timeout={a.connect_timeout} application_name=e2e-{a.kind}-probe")
    deadline = time.time() + a.max_seconds
    seq = 0
    next_start = time.time()
    with open(a.out, "a", buffering=1) as f:
        while seq < a.max_attempts and not stopped(a, deadline):
            wait = next_start - time.time()
            if wait > 0:
                time.sleep(wait)
            seq += 1
            rec = one_attempt(dsn, a.kind, seq)
            f.write(json.dumps(rec) + "\n")
            # Every interval; an attempt that takes longer (held in a queue) is followed at once.
            next_start = rec["start"] + a.interval


# --- watch -------------------------------------------------------------------------------------

def patroni_status(api_port):
    """GET /patroni -> (role, state, body or None). Patroni answers 200 with JSON; a member whose
    REST API does not answer is ('-', 'down')."""
    url = f"http://127.0.0.1:{api_port}/patroni"
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    except (OSError, urllib.error.URLError):
        return "-", "down", None
    try:
        d = json.loads(body)
    except ValueError:
        return "-", "unreadable", None
    return d.get("role", "-"), d.get("state", "-"), d


def watch_member(a, name, api_port, f, lock, deadline):
    n = 0
    while n < a.max_polls and not stopped(a, deadline):
        n += 1
        t0 = time.time()
        role, state, d = patroni_status(api_port)
        rec = {"t0": t0, "t1": time.time(), "name": name, "role": role, "state": state}
        if d:
            x = d.get("xlog", {})
            for k in ("location", "received_location", "replayed_location"):
                if k in x:
                    rec[k] = x[k]
            if "paused" in x:
                rec["paused"] = x["paused"]
            rec["streaming"] = [r.get("application_name") for r in d.get("replication", [])
                                if r.get("state") == "streaming"]
        with lock:
            f.write(json.dumps(rec) + "\n")
        time.sleep(max(0.0, t0 + a.interval - time.time()))


def cmd_watch(a):
    members = members_arg(a.members)
    deadline = time.time() + a.max_seconds
    lock = threading.Lock()
    with open(a.out, "a", buffering=1) as f:
        threads = [threading.Thread(target=watch_member, args=(a, n, api, f, lock, deadline), daemon=True)
                   for n, (_, api) in members.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(a.max_seconds + 5)


# --- failover / switchover ---------------------------------------------------------------------

def new_leader_ready(watch, event, old_leader):
    """(name, t_ready, t_prev): the first answer after the event from a member other than the old
    leader that says it is the running primary, and that member's previous answer (the real moment
    lies between the two)."""
    best = None
    for r in watch:
        if (r["name"] != old_leader and r["t0"] >= event and r["role"] in READY_ROLES
                and r["state"] == "running" and (best is None or r["t1"] < best["t1"])):
            best = r
    if best is None:
        return None, None, None
    prev = [r["t1"] for r in watch if r["name"] == best["name"] and r["t1"] < best["t1"]]
    return best["name"], best["t1"], (max(prev) if prev else None)


def over(probe, watch, event, old_leader, run=10):
    """A failover is over for a probe once the new leader is ready and the probe has had `run`
    consecutive successes that started after it."""
    name, ready, _ = new_leader_ready(watch, event, old_leader)
    if name is None:
        return False
    streak = 0
    for r in sorted(probe, key=lambda r: r["start"]):
        if r["start"] < ready:
            continue
        streak = streak + 1 if r["ok"] else 0
        if streak >= run:
            return True
    return False


def cmd_wait_over(a):
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        watch = load(a.watch)
        if all(over(load(p), watch, a.event, a.old_leader) for p in a.probe):
            return 0
        time.sleep(0.2)
    fail(f"not over within {a.timeout} s: no new leader ready, or fewer than 10 successes in a row on "
         + ", ".join(a.probe))
    return 1


# Why a probe failed. In the order they are told apart:
#   read-only   a write reached a member in recovery (SQLSTATE 25006): the one error patroxy must never let
#               happen;
#   in-flight   the old primary ended a session it had already accepted: a statement it was running, or
#               a session still starting (authenticated, not yet ready) when its shutdown began ("FATAL:
#               terminating connection due to administrator command"), or a connection cut by a crash,
#               all while no new leader was ready yet;
#   connection  any other failure to connect: refused, closed, timed out, "the database system is
#               shutting down", 57P03 after the queue;
#   statement   any other failed statement.
CUT = ("terminating connection due to administrator command", "server closed the connection unexpectedly",
       "terminating connection because of crash", "SSL SYSCALL error: EOF")


def error_kind(r, old_port=None, ready=None):
    e = r.get("error", "")
    if r.get("sqlstate") == "25006" or "read-only transaction" in e:
        return "read-only"
    before_ready = ready is None or r["start"] < ready
    if r["phase"] == "statement" and (r.get("port") == old_port or (r.get("port") is None and before_ready)):
        return "in-flight"
    if r["phase"] == "connect" and before_ready and "terminating connection due to administrator command" in e:
        return "in-flight"
    if r["phase"] == "statement" and before_ready and any(c in e for c in CUT):
        return "in-flight"
    return "connection" if r["phase"] == "connect" else "statement"


def short_error(r):
    e = r.get("error", "")
    for cut in ("FATAL: ", "ERROR: "):
        if cut in e:
            e = e[e.index(cut):]
            break
    return e[:110]


def outage_figures(probe, watch, event, old_leader, ports):
    name, ready, prev = new_leader_ready(watch, event, old_leader)
    new_port = ports.get(name) if name else None
    recs = sorted(probe, key=lambda r: r["start"])
    after = [r for r in recs if r["end"] >= event]
    failed = [r for r in after if not r["ok"]]
    first_write = min((r["end"] for r in after if r["ok"] and r.get("port") == new_port), default=None)
    window = None
    if failed:
        first_fail = min(r["end"] for r in failed)
        back = min((r["end"] for r in after if r["ok"] and r["end"] > first_fail), default=None)
        window = None if back is None else back - first_fail
    # What an application sees: the longest stretch without a successful write, from the last
    # success before the event to the end of the record.
    oks = [r["end"] for r in recs if r["ok"] and r["end"] >= (max((x["end"] for x in recs
                                                                   if x["ok"] and x["end"] < event),
                                                                  default=event))]
    gap = max((b - a for a, b in zip(oks, oks[1:])), default=None)
    old_port = ports.get(old_leader)
    for r in failed:
        r["kind"] = error_kind(r, old_port, ready)
    kinds = [r["kind"] for r in failed]
    return {
        "old_leader": old_leader, "old_port": ports.get(old_leader), "new_leader": name,
        "new_port": new_port, "event": event, "ready": ready, "ready_prev": prev,
        "ready_after_event": None if ready is None else ready - event,
        "first_write": first_write,
        "delay": None if (ready is None or first_write is None) else first_write - ready,
        "attempts": len(after), "failed": len(failed),
        "connect_failures": kinds.count("connection"),
        "in_flight": kinds.count("in-flight"),
        "statement_failures": kinds.count("statement"),
        "read_only": kinds.count("read-only"),
        "error_window": window, "gap": gap,
        "longest_connect": max((r.get("connected", r["end"]) - r["start"] for r in after), default=None),
        # Sessions established after the event, and those of them over TLS (the client's leg).
        "connected": sum(1 for r in after if "connected" in r),
        "tls": sum(1 for r in after if r.get("ssl")),
        "wrong_member": [r["seq"] for r in after if r["ok"] and ready is not None
                         and r["start"] > ready and r.get("port") != new_port],
        "errors": failed,
    }


def print_outage(label, what, s):
    print(f"--- {what} through {label}")
    print(f"old leader:          {s['old_leader']} (:{s['old_port']})")
    print(f"new leader:          {s['new_leader']} (:{s['new_port']})")
    print(f"event:               {fmt(s['event'])}")
    print(f"new leader ready:    {fmt(s['ready'])}  (+{secs(s['ready_after_event'])} after the event; "
          f"its previous GET /patroni at {fmt(s['ready_prev'])} did not say so yet)")
    print(f"first write on it:   {fmt(s['first_write'])}")
    print(f"delay ready->write:  {secs(s['delay'])}")
    print(f"probes after event:  {s['attempts']}, failed {s['failed']}: connection errors {s['connect_failures']}, "
          f"cut in flight on the old primary {s['in_flight']}, read-only {s['read_only']}, "
          f"other statements {s['statement_failures']}")
    print(f"error window:        {secs(s['error_window']) if s['error_window'] is not None else 'none'}"
          "  (first failed probe -> first success after it)")
    print(f"longest without a successful write: {secs(s['gap'])}; longest connect: {secs(s['longest_connect'])}")
    print(f"sessions over TLS:   {s['tls']} of {s['connected']} established")
    if s["errors"]:
        counts = {}
        for r in s["errors"]:
            key = f"{r['kind']}: {short_error(r)}"
            counts[key] = counts.get(key, 0) + 1
        print("failed probes (count, kind: error):")
        for k, n in sorted(counts.items(), key=lambda kv: -kv[1])[:6]:
            print(f"  {n:4d} {k}")
    sys.stdout.flush()


def cmd_outage(a):
    ports = {n: pg for n, (pg, _) in members_arg(a.members).items()}
    s = outage_figures(load(a.probe), load(a.watch), a.event, a.old_leader, ports)
    print_outage(a.label, a.what, s)
    if a.json:
        summary = {k: v for k, v in s.items() if k != "errors"}
        summary.update(label=a.label, what=a.what)
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
    if not a.check:
        return 0
    bad = []
    if s["new_leader"] is None:
        bad.append("no member other than the old leader became the running primary")
    if s["first_write"] is None:
        bad.append(f"no successful write on the new leader {s['new_leader']}")
    if s["read_only"]:
        bad.append(f"{s['read_only']} write(s) reached a member in recovery (read-only transaction)")
    if s["wrong_member"]:
        bad.append(f"writes that started after the new leader was ready succeeded elsewhere: seq {s['wrong_member']}")
    if a.max_delay is not None and s["delay"] is not None and s["delay"] > a.max_delay:
        bad.append(f"first write {s['delay']:.3f} s after the new leader was ready (limit {a.max_delay} s)")
    if a.max_connect_failures is not None and s["connect_failures"] > a.max_connect_failures:
        bad.append(f"{s['connect_failures']} probe connection(s) failed (limit {a.max_connect_failures}): seq "
                   f"{[r['seq'] for r in s['errors'] if r['kind'] == 'connection']}")
    if a.expect_ssl and s["tls"] != s["connected"]:
        bad.append(f"{s['connected'] - s['tls']} of {s['connected']} probe sessions were not TLS (ssl_in_use false)")
    if a.statements_only_in_flight and s["statement_failures"]:
        bad.append(f"statements failed that were not in flight on the old primary: seq "
                   f"{[r['seq'] for r in s['errors'] if r['kind'] == 'statement']}")
    for b in bad:
        fail(b)
    return 1 if bad else 0


def cmd_table(a):
    rows = [json.load(open(p)) for p in a.summaries if os.path.exists(p)]
    lines = [
        "| scenario | through | new leader ready after event | error window | failed probes: connection errors / cut in flight / read-only / other | delay after new leader ready | longest without a write |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in rows:
        lines.append(
            f"| {s['what']} | {s['label']} | {secs(s['ready_after_event'])} | "
            f"{secs(s['error_window']) if s['error_window'] is not None else 'none'} | "
            f"{s['failed']} of {s['attempts']}: {s['connect_failures']} / {s['in_flight']} / {s['read_only']} / {s['statement_failures']} | "
            f"{secs(s['delay'])} | {secs(s['gap'])} |")
    if a.cancel:
        lines += ["", f"| {a.cancel_title} | took effect (57014, user request) | slowest |", "|---|---|---|"]
        for item in a.cancel:
            label, path = item.split("=", 1)
            if os.path.exists(path):
                c = json.load(open(path))
                lines.append(f"| {label} | {c['ok']} of {c['count']} | {secs(c['slowest'])} |")
    text = "\n".join(lines) + "\n"
    if a.header:
        text = a.header.rstrip("\n") + "\n\n" + text
    if a.footer:
        text += "\n" + a.footer.rstrip("\n") + "\n"
    if a.out and a.section:
        # One test's part of a file other tests write too: replaces that test's earlier part, if any.
        begin, end = f"<!-- {a.section} -->", f"<!-- /{a.section} -->"
        old = open(a.out).read() if os.path.exists(a.out) else ""
        if begin in old and end in old:
            old = old[:old.index(begin)] + old[old.index(end) + len(end):].lstrip("\n")
        old = old.rstrip("\n")
        with open(a.out, "w") as f:
            f.write((old + "\n\n" if old else "") + begin + "\n" + text + end + "\n")
    elif a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print(text, end="")
    return 0


# --- replicas ----------------------------------------------------------------------------------

def cmd_landed(a):
    """Clients of a probe that started within [--from, --to): where they landed and what failed."""
    ports = {n: pg for n, (pg, _) in members_arg(a.members).items()}
    names = {pg: n for n, pg in ports.items()}
    recs = [r for r in load(a.probe) if a.t_from <= r["start"] < a.t_to]
    by = {}
    for r in recs:
        if r["ok"]:
            n = names.get(r.get("port"), str(r.get("port")))
            by[n] = by.get(n, 0) + 1
    failed = [r for r in recs if not r["ok"]]
    want = a.expect_recovery == "true"
    wrong_kind = [r["seq"] for r in recs if r["ok"] and r.get("recovery") is not want]
    spread = ", ".join(f"{n} {c}" for n, c in sorted(by.items())) or "none"
    print(f"{a.what}: {len(recs)} clients {fmt(a.t_from)}..{fmt(a.t_to)}: {spread}; failed {len(failed)}")
    for r in failed[:5]:
        print(f"  failed seq {r['seq']} at {fmt(r['start'])} ({r['phase']}): {short_error(r)}")
    first = None
    ref = a.ref if a.ref is not None else a.t_from
    if a.last_on:
        last = max((r["end"] for r in recs if r["ok"] and r.get("port") == ports[a.last_on]), default=None)
        print(f"  last client on {a.last_on}: {fmt(last)}"
              + ("" if last is None else f" ({last - ref:+.3f} s from {fmt(ref)})"))
    if a.first_on:
        first = min((r["end"] for r in recs if r["ok"] and r.get("port") == ports[a.first_on]
                     and r["start"] >= ref), default=None)
        print(f"  first client on {a.first_on}: {fmt(first)}"
              + ("" if first is None else f" (+{first - ref:.3f} s after {fmt(ref)})"))
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"first": first, "after": None if first is None else first - ref}, f)
    bad = []
    allowed = set()
    if a.allow_in_flight_on:
        # A session its member had already accepted may be cut when that member stops (a statement
        # running, or a session still starting), as long as it began before the stop was over.
        allowed = {r["seq"] for r in failed if r["start"] <= a.in_flight_until
                   and error_kind(r, ports[a.allow_in_flight_on], a.in_flight_until) == "in-flight"}
        if allowed:
            print(f"  {len(allowed)} client(s) in flight on {a.allow_in_flight_on} cut by its stop (allowed): seq {sorted(allowed)}")
    if a.check_no_failures and len(failed) > len(allowed):
        bad.append(f"{len(failed) - len(allowed)} client(s) failed")
    if wrong_kind:
        bad.append(f"clients reached a member {'not ' if want else ''}in recovery: seq {wrong_kind}")
    for n in a.never_on or []:
        if by.get(n):
            bad.append(f"{by[n]} client(s) reached {n}")
    for n in a.also_on or []:
        if not by.get(n):
            bad.append(f"no client reached {n}")
    if a.min_clients and len(recs) < a.min_clients:
        bad.append(f"only {len(recs)} clients (expected at least {a.min_clients})")
    if a.first_on and a.first_within is not None and (first is None or first - ref > a.first_within):
        bad.append(f"no client on {a.first_on} within {a.first_within} s of {fmt(ref)}")
    for b in bad:
        fail(f"{a.what}: {b}")
    return 1 if bad else 0


def cmd_when(a):
    """Waits (bounded) for the first GET /patroni answer from --name, at or after --since, that says
    all of: --role (comma-separated alternatives), --state, --streaming NAME (NAME streams from it);
    prints its epoch time."""
    roles = a.role.split(",") if a.role else None
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        for r in sorted(load(a.watch), key=lambda r: r["t1"]):
            if (r["name"] == a.name and r["t0"] >= a.since and (roles is None or r["role"] in roles)
                    and (a.state is None or r["state"] == a.state)
                    and (a.streaming is None or a.streaming in r.get("streaming", []))):
                print(f"{r['t1']:.6f}")
                return 0
        time.sleep(0.2)
    last = [r for r in load(a.watch) if r["name"] == a.name][-1:]
    fail(f"{a.name} never said role {a.role} state {a.state} streaming {a.streaming} within {a.timeout} s "
         f"(last answer: {last})")
    return 1


def lag_series(watch, replica, leader):
    """[(t, lag bytes)]: the leader's last WAL location minus the replica's last replayed location,
    at each answer of either (as patroxy and Patroni's /replica?lag= compute it)."""
    loc = rep = None
    out = []
    for r in sorted(watch, key=lambda r: r["t1"]):
        if r["name"] == leader and "location" in r:
            loc = r["location"]
        elif r["name"] == replica and "replayed_location" in r:
            rep = r["replayed_location"]
        else:
            continue
        if loc is not None and rep is not None:
            out.append((r["t1"], loc - rep))
    return out


def cmd_lag(a):
    """Waits (bounded) until the replica's lag is above (--above) or at most (--at-most) N bytes,
    from --since on; prints the epoch time it was first seen so."""
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        for t, lag in lag_series(load(a.watch), a.replica, a.leader):
            if t >= a.since and ((a.above is not None and lag > a.above) or
                                 (a.at_most is not None and lag <= a.at_most)):
                print(f"{t:.6f} {lag}")
                return 0
        time.sleep(0.2)
    last = lag_series(load(a.watch), a.replica, a.leader)[-1:]
    fail(f"lag of {a.replica} behind {a.leader} never crossed the threshold in {a.timeout} s (last: {last})")
    return 1


# --- cancel ------------------------------------------------------------------------------------

def cmd_cancel(a):
    """N times: a new session through the listener runs SELECT pg_sleep(); after --after seconds
    psycopg2's connection.cancel() sends a CancelRequest (a new TCP connection to the same listener
    with the session's BackendKeyData). Each must end with 57014 within --within seconds. Each session
    also records whether its client leg is TLS (libpq's ssl_in_use) and whether the server sees its own
    leg as TLS (pg_stat_ssl): with --expect-ssl, both must be."""
    dsn = (f"host=127.0.0.1 port={a.port} user=app dbname=app sslmode={a.sslmode} connect_timeout=5 "
           f"application_name=e2e-cancel")
    ok = 0
    landed = {}
    results = []
    for i in range(1, a.count + 1):
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        cur = conn.cursor()
        # A statement the cancel does not reach still ends (with "statement timeout", which does not
        # count as a cancel), so a broken cancel costs seconds, not --sleep seconds.
        guard = a.after + a.within + 0.5
        cur.execute(f"SET statement_timeout = '{int(guard * 1000)}ms'")
        cur.execute("SELECT inet_server_port(), (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())")
        port, server_ssl = cur.fetchone()
        client_ssl = bool(conn.info.ssl_in_use)
        landed[port] = landed.get(port, 0) + 1
        outcome = {}

        def run(cur=cur, outcome=outcome):
            try:
                cur.execute(f"SELECT pg_sleep({a.sleep})")
                outcome["end"], outcome["code"], outcome["msg"] = time.time(), "completed", ""
            except psycopg2.Error as e:
                outcome["end"], outcome["code"], outcome["msg"] = time.time(), e.pgcode, " ".join(str(e).split())

        th = threading.Thread(target=run, daemon=True)
        th.start()
        time.sleep(a.after)
        t_cancel = time.time()
        conn.cancel()
        th.join(guard + 5)
        conn.close()
        took = outcome.get("end", time.time()) - t_cancel
        good = (outcome.get("code") == "57014" and "user request" in outcome.get("msg", "")
                and took <= a.within)
        ok += good
        results.append({"i": i, "port": port, "code": outcome.get("code"), "took": took,
                        "msg": outcome.get("msg", "")[:120], "ok": good, "ssl": client_ssl,
                        "server_ssl": bool(server_ssl)})
        tls = {(True, True): "TLS", (False, False): "plaintext"}.get((client_ssl, bool(server_ssl)),
                                                                     f"client TLS {client_ssl}, server TLS {bool(server_ssl)}")
        print(f"  cancel {i:2d}: session on :{port} ({tls}), {outcome.get('code')} after {took:.3f} s"
              f"{'' if good else '  <-- did not take effect in time: ' + outcome.get('msg', '')[:80]}")
    if a.out:
        with open(a.out, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    worst = max(r["took"] for r in results)
    in_1s = sum(1 for r in results if r["ok"] and r["took"] <= 1.0)
    both_tls = sum(1 for r in results if r["ssl"] and r["server_ssl"])
    print(f"{ok} of {a.count} cancels took effect (57014 canceling statement due to user request) within "
          f"{a.within} s, {in_1s} within 1 s; slowest {worst:.3f} s; sessions per server port: "
          + ", ".join(f":{p} {n}" for p, n in sorted(landed.items()))
          + f"; TLS on the client's and the server's leg: {both_tls} of {a.count}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"ok": ok, "count": a.count, "slowest": worst, "within": a.within, "tls": both_tls}, f)
    if not a.check:
        return 0
    bad = []
    if ok != a.count:
        bad.append(f"only {ok} of {a.count} cancels took effect within {a.within} s")
    if a.min_servers and len(landed) < a.min_servers:
        bad.append(f"the sessions reached {len(landed)} server(s), expected at least {a.min_servers}")
    if a.expect_ssl and both_tls != a.count:
        bad.append(f"only {both_tls} of {a.count} sessions were TLS on both legs (ssl_in_use and pg_stat_ssl)")
    for b in bad:
        fail(b)
    return 1 if bad else 0


# --- one session, metrics -------------------------------------------------------------------------

def cmd_session(a):
    """One session through a listener (--write: an INSERT first): where it landed, whether the client's
    leg is TLS (libpq's ssl_in_use) and whether the server sees its own leg as TLS (pg_stat_ssl, the
    leg from patroxy when patroxy terminates). Asserts --expect-port, --expect-recovery, --expect-ssl."""
    dsn = (f"host=127.0.0.1 port={a.port} user=app dbname=app sslmode={a.sslmode} connect_timeout=10 "
           f"application_name=e2e-session")
    sql = ("INSERT INTO e2e(t) VALUES (now()) RETURNING " if a.write else "SELECT ") + \
        "inet_server_port(), pg_is_in_recovery(), (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())"
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(sql)
        port, recovery, server_ssl = cur.fetchone()
        client_ssl = bool(conn.info.ssl_in_use)
        proto = conn.info.ssl_attribute("protocol") if client_ssl else None
    finally:
        conn.close()
    print(f"{a.what}: landed on :{port} (in recovery: {recovery}); client's leg TLS: {client_ssl}"
          f"{f' ({proto})' if proto else ''}; the server's view of its leg (pg_stat_ssl): {server_ssl}")
    bad = []
    if a.expect_port is not None and port != a.expect_port:
        bad.append(f"landed on :{port}, not :{a.expect_port}")
    if a.expect_recovery is not None and recovery != (a.expect_recovery == "true"):
        bad.append(f"pg_is_in_recovery() is {recovery}")
    if a.expect_ssl and not (client_ssl and server_ssl):
        bad.append(f"not TLS on both legs (client ssl_in_use {client_ssl}, server pg_stat_ssl {server_ssl})")
    for b in bad:
        fail(f"{a.what}: {b}")
    return 1 if bad else 0


def cmd_metric(a):
    """Prints the value of one series of patroxy's /metrics (NAME with --label KEY=VALUE...), or
    'absent'. With --at-least N it waits (bounded by --timeout) until the value is N or more, and
    fails if it never is (an absent series counts as 0)."""
    want = tuple(sorted(tuple(x.split("=", 1)) for x in a.label or []))
    deadline = time.time() + a.timeout
    while True:
        text = urllib.request.urlopen(f"http://127.0.0.1:{a.stats_port}/metrics", timeout=5).read().decode()
        value = metric_samples(text, a.name).get(want)
        if a.at_least is None or (value or 0) >= a.at_least or time.time() > deadline:
            break
        time.sleep(0.2)
    print("absent" if value is None else f"{value:g}")
    if a.at_least is not None and (value or 0) < a.at_least:
        fail(f"{a.name}{dict(want)} is {value}, expected at least {a.at_least:g} within {a.timeout} s")
        return 1
    return 0


RESERVED = "/proc/sys/net/ipv4/ip_local_reserved_ports"


def port_set(text):
    """'1,5-7' -> {1, 5, 6, 7}"""
    out = set()
    for item in text.replace("\n", "").split(","):
        item = item.strip()
        if "-" in item:
            lo, hi = item.split("-")
            out.update(range(int(lo), int(hi) + 1))
        elif item:
            out.add(int(item))
    return out


def port_list(ports):
    """{1, 5, 6, 7} -> '1,5-7'"""
    items, run = [], []
    for p in sorted(ports):
        if run and p == run[-1] + 1:
            run.append(p)
            continue
        if run:
            items.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [p]
    if run:
        items.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(items)


def cmd_reserve(a):
    """Our ports lie in the kernel's ephemeral range: reserved, no outgoing connection (ours included:
    a walreceiver, Patroni's etcd watch) is ever given one as its local port, which would keep a
    server from binding it. --add prints the ports it added."""
    want = port_set(a.ports)
    try:
        with open(RESERVED) as f:
            cur = port_set(f.read())
        new = (cur | want) if a.add else (cur - want)
        if new != cur:
            with open(RESERVED, "w") as f:
                f.write(port_list(new) or "\n")
    except OSError as e:
        print(f"cannot change {RESERVED}: {e.strerror}", file=sys.stderr)
        return 1
    if a.add:
        print(port_list(want - cur))
    return 0


# patronictl's Role column -> the role label of patroxy_member_role.
METRIC_ROLE = {"Leader": "primary", "Replica": "replica", "Sync Standby": "sync_standby",
               "Standby Leader": "standby_leader"}


def metric_samples(text, name):
    """{labels-dict-as-tuple: value} for one metric family in Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', head)))
        out[labels] = float(value)
    return out


def stats_disagreements(patronictl, stats, metrics):
    """What the stats page and /metrics say differently from `patronictl list`; [] when they agree."""
    problems = []
    ctl = {m["Member"]: m for m in patronictl}
    page = {m["name"]: m for m in stats["cluster"]}
    if set(ctl) != set(page):
        problems.append(f"members: patronictl {sorted(ctl)}, stats.json {sorted(page)}")
    roles = metric_samples(metrics, "patroxy_member_role")
    leader = [n for n, m in ctl.items() if m["Role"] == "Leader"]
    for name, m in ctl.items():
        if name in page and page[name]["role"] != m["Role"]:
            problems.append(f"{name}: patronictl role {m['Role']}, stats.json {page[name]['role']}")
        want = (("member", name), ("role", METRIC_ROLE.get(m["Role"], "unknown")))
        if roles.get(want) != 1.0:
            problems.append(f"{name}: no patroxy_member_role{{member={name},role={want[1][1]}}} 1 in /metrics")
    if leader and stats.get("primary") != leader[0]:
        problems.append(f"primary: patronictl leader {leader[0]}, stats.json {stats.get('primary')!r}")
    up = metric_samples(metrics, "patroxy_server_up")
    for listener in stats["listeners"]:
        for server in listener["servers"]:
            role = ctl.get(server["name"], {}).get("Role")
            want = role == "Leader" if listener["name"] == "primary" else role in ("Replica", "Sync Standby")
            if server["active"] != want:
                problems.append(f"listener {listener['name']}: {server['name']} ({role}) active={server['active']}")
            got = up.get((("listener", listener["name"]), ("member", server["name"])))
            if got != (1.0 if want else 0.0):
                problems.append(f"listener {listener['name']}: patroxy_server_up for {server['name']} is {got}")
    return problems


def cmd_stats_vs_patronictl(a):
    """Retries for a few seconds: the stats follow Patroni one poll later."""
    deadline = time.time() + a.timeout
    while True:
        patronictl = json.loads(subprocess.run(a.patronictl, shell=True, check=True, capture_output=True,
                                               text=True).stdout)
        base = f"http://127.0.0.1:{a.stats_port}"
        stats = json.loads(urllib.request.urlopen(base + "/stats.json", timeout=5).read())
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        problems = stats_disagreements(patronictl, stats, metrics)
        if not problems:
            names = ", ".join(f"{m['Member']} {m['Role']}" for m in patronictl)
            print(f"stats page and /metrics agree with patronictl list: {names}")
            return 0
        if time.time() > deadline:
            fail("stats disagree with patronictl list: " + "; ".join(problems))
        time.sleep(0.5)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("probe")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--kind", choices=("write", "read"), required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--stop")
    s.add_argument("--interval", type=float, default=0.1)
    s.add_argument("--connect-timeout", type=int, default=15)
    s.add_argument("--max-seconds", type=float, default=240)
    s.add_argument("--max-attempts", type=int, default=3000)

    s.add_argument("--sslmode", default="disable", help="libpq sslmode (prefer: libpq's default)")

    s = sub.add_parser("watch")
    s.add_argument("--members", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--stop")
    s.add_argument("--interval", type=float, default=0.1)
    s.add_argument("--max-seconds", type=float, default=240)
    s.add_argument("--max-polls", type=int, default=3000)

    s = sub.add_parser("wait-over")
    s.add_argument("--probe", action="append", required=True)
    s.add_argument("--watch", required=True)
    s.add_argument("--event", type=float, required=True)
    s.add_argument("--old-leader", required=True)
    s.add_argument("--timeout", type=float, default=60)

    s = sub.add_parser("outage")
    s.add_argument("--probe", required=True)
    s.add_argument("--watch", required=True)
    s.add_argument("--event", type=float, required=True)
    s.add_argument("--old-leader", required=True)
    s.add_argument("--members", required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--what", required=True)
    s.add_argument("--json")
    s.add_argument("--check", action="store_true", help="fail on a read-only error or a stray write")
    s.add_argument("--max-delay", type=float)
    s.add_argument("--max-connect-failures", type=int)
    s.add_argument("--statements-only-in-flight", action="store_true")
    s.add_argument("--expect-ssl", action="store_true", help="fail unless every probe session was TLS")

    s = sub.add_parser("table")
    s.add_argument("summaries", nargs="+")
    s.add_argument("--out")
    s.add_argument("--header")
    s.add_argument("--footer")
    s.add_argument("--cancel", action="append", help="LABEL=FILE: a cancel --json summary, for a second table")
    s.add_argument("--cancel-title", default="cancel of SELECT pg_sleep(30) through the replica listener")
    s.add_argument("--section", help="replace (or append) this test's marked part of --out, not the whole file")

    s = sub.add_parser("landed")
    s.add_argument("--probe", required=True)
    s.add_argument("--members", required=True)
    s.add_argument("--from", dest="t_from", type=float, required=True)
    s.add_argument("--to", dest="t_to", type=float, default=float("inf"))
    s.add_argument("--what", required=True)
    s.add_argument("--never-on", action="append")
    s.add_argument("--also-on", action="append")
    s.add_argument("--min-clients", type=int)
    s.add_argument("--check-no-failures", action="store_true")
    s.add_argument("--allow-in-flight-on")
    s.add_argument("--in-flight-until", type=float, default=0)
    s.add_argument("--first-on")
    s.add_argument("--ref", type=float, help="the time --first-within and --last-on count from (default --from)")
    s.add_argument("--last-on")
    s.add_argument("--first-within", type=float)
    s.add_argument("--json")
    s.add_argument("--expect-recovery", choices=("true", "false"), default="true")

    s = sub.add_parser("when")
    s.add_argument("--watch", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--since", type=float, default=0)
    s.add_argument("--role")
    s.add_argument("--state")
    s.add_argument("--streaming")
    s.add_argument("--timeout", type=float, default=30)

    s = sub.add_parser("lag")
    s.add_argument("--watch", required=True)
    s.add_argument("--replica", required=True)
    s.add_argument("--leader", required=True)
    s.add_argument("--since", type=float, default=0)
    s.add_argument("--above", type=int)
    s.add_argument("--at-most", type=int)
    s.add_argument("--timeout", type=float, default=30)

    s = sub.add_parser("cancel")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, default=20)
    s.add_argument("--sleep", type=float, default=30)
    s.add_argument("--after", type=float, default=0.3)
    s.add_argument("--within", type=float, default=2.0)
    s.add_argument("--min-servers", type=int)
    s.add_argument("--sslmode", default="disable", help="libpq sslmode (prefer: libpq's default)")
    s.add_argument("--expect-ssl", action="store_true", help="fail unless every session was TLS on both legs")
    s.add_argument("--out")
    s.add_argument("--json")
    s.add_argument("--check", action="store_true")

    s = sub.add_parser("session")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--what", required=True)
    s.add_argument("--sslmode", default="prefer")
    s.add_argument("--write", action="store_true")
    s.add_argument("--expect-port", type=int)
    s.add_argument("--expect-recovery", choices=("true", "false"))
    s.add_argument("--expect-ssl", action="store_true")

    s = sub.add_parser("metric")
    s.add_argument("--stats-port", type=int, required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--label", action="append", help="KEY=VALUE")
    s.add_argument("--at-least", type=float)
    s.add_argument("--timeout", type=float, default=5)

    s = sub.add_parser("stats-vs-patronictl")
    s.add_argument("--patronictl", required=True, help="shell command printing `patronictl list -f json`")
    s.add_argument("--stats-port", type=int, required=True)
    s.add_argument("--timeout", type=float, default=10)

    s = sub.add_parser("reserve")
    s.add_argument("ports", help="comma-separated ports and ranges")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--add", action="store_true")
    g.add_argument("--remove", action="store_true")

    a = p.parse_args()
    handler = {"probe": cmd_probe, "watch": cmd_watch, "wait-over": cmd_wait_over, "outage": cmd_outage,
               "table": cmd_table, "landed": cmd_landed, "when": cmd_when, "lag": cmd_lag, "reserve": cmd_reserve, "cancel": cmd_cancel,
               "session": cmd_session, "metric": cmd_metric, "stats-vs-patronictl": cmd_stats_vs_patronictl}[a.cmd]
    return handler(a) or 0


if __name__ == "__main__":
    sys.exit(main())
