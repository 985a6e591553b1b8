#!/usr/bin/python3
"""The load and the verdict of the chaos test (tests/chaos/events.sh).

Run with Debian's /usr/bin/python3 (psycopg2). Every loop is bounded in count and in time and also
stops when its --stop file appears. Records are JSON lines with epoch times, on the same clock as
the event driver, Patroni's history and PostgreSQL's clock_timestamp() (one machine).

Subcommands:
  writer      one session through the primary listener, one INSERT per transaction; reconnects on error
  reader      sessions through the replica listener, a few SELECTs each, then a new session
  create-table  the writer's table
  write-once  one write straight to a server: proves that a write on a replica is told apart (25006)
  verdict     the invariants over the records, the final leader's table and Patroni's history,
              and the report (markdown)
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime

try:
    import psycopg2
except ImportError:  # pragma: no cover - only when run with the wrong interpreter
    sys.exit("chaos.py: no psycopg2: run it with Debian's /usr/bin/python3 (package python3-psycopg2)")

# The member's current timeline is read from the WAL file name of its insert position: PostgreSQL 15
# names it with the insertion timeline, which changes at the promotion itself. pg_control_checkpoint()
# only changes once the first checkpoint after the promotion completes (recorded too, as tl_checkpoint,
# to show the difference). pg_walfile_name() refuses to run in recovery, but the INSERT is refused
# first (25006, at executor start), so a write reaching a replica is still seen as a read-only error.
WRITE_SQL = """
INSERT INTO chaos_writes (seq, port, tl, tl_checkpoint, in_recovery, at)
SELECT %s, inet_server_port(), ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int,
       (SELECT timeline_id FROM pg_control_checkpoint()), pg_is_in_recovery(), clock_timestamp()
RETURNING port, tl, tl_checkpoint, in_recovery, extract(epoch FROM at)::float8
"""
TABLE_SQL = """
CREATE TABLE IF NOT EXISTS chaos_writes (
  seq bigint PRIMARY KEY, port int NOT NULL, tl int NOT NULL, tl_checkpoint int NOT NULL,
  in_recovery boolean NOT NULL, at timestamptz NOT NULL)
"""
READ_SQL = "SELECT inet_server_port(), pg_is_in_recovery(), (SELECT max(seq) FROM chaos_writes)"
# patroxy learns a promotion at its next poll of the member: within fast_interval (100 ms) while a
# leader change is under way, within interval (1 s) at the latest. A read session that reaches a
# member this soon after that member's promotion raced the news; later it would be a routing error.
PROMOTION_NEWS = 1.0
# libpq notices a dead peer in ~5 s instead of the kernel's two hours.
KEEPALIVES = "keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=3"


def dsn(port, user, connect_timeout, name):
    return (f"host=127.0.0.1 port={port} user={user} dbname=app sslmode=disable "
            f"connect_timeout={connect_timeout} application_name={name} {KEEPALIVES}")


def stopped(a, deadline):
    return time.time() >= deadline or os.path.exists(a.stop)


def error_fields(e, phase):
    return {"ok": False, "phase": phase, "sqlstate": e.pgcode, "error": " ".join(str(e).split())[:300]}


def close_quietly(conn):
    if conn is not None:
        try:
            conn.close()
        except psycopg2.Error:
            pass


class Backoff:
    """After a failure wait 50 ms, doubling up to 1 s; a success starts again from 50 ms."""

    def __init__(self):
        self.next = 0.05

    def failed(self):
        time.sleep(self.next)
        self.next = min(1.0, self.next * 2)

    def succeeded(self):
        self.next = 0.05


# --- writer ------------------------------------------------------------------------------------

def one_write(conn, seq):
    rec = {"seq": seq, "start": time.time()}
    try:
        with conn.cursor() as cur:
            cur.execute(WRITE_SQL, (seq,))
            port, tl, tlc, in_recovery, at = cur.fetchone()
        rec.update(end=time.time(), ok=True, port=port, tl=tl, tlc=tlc, rec=in_recovery, at=at)
    except psycopg2.Error as e:
        rec.update(end=time.time(), **error_fields(e, "write"))
    return rec


def cmd_writer(a):
    """Autocommit: each INSERT is its own transaction, and a result means its COMMIT was
    acknowledged (after the synchronous standby confirmed it). A write that fails may still have
    committed (the connection broke during the commit): it is not counted as acknowledged."""
    deadline = time.time() + a.max_seconds
    seq, conn, backoff = 0, None, Backoff()
    with open(a.out, "a", buffering=1) as f:
        while seq < a.max_writes and not stopped(a, deadline):
            if conn is None:
                t0 = time.time()
                try:
                    conn = psycopg2.connect(dsn(a.port, "app", a.connect_timeout, "chaos-writer"))
                    conn.autocommit = True
                except psycopg2.Error as e:
                    f.write(json.dumps({"seq": None, "start": t0, "end": time.time(), **error_fields(e, "connect")}) + "\n")
                    conn = None
                    backoff.failed()
                    continue
            seq += 1
            rec = one_write(conn, seq)
            f.write(json.dumps(rec) + "\n")
            if rec["ok"]:
                backoff.succeeded()
                time.sleep(a.interval)
            else:
                close_quietly(conn)
                conn = None
                backoff.failed()
    close_quietly(conn)


def cmd_create_table(a):
    conn = psycopg2.connect(dsn(a.port, "app", 10, "chaos-create-table"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(TABLE_SQL)
    conn.close()


def cmd_write_once(a):
    conn = psycopg2.connect(dsn(a.port, "postgres", 5, "chaos-write-once"))
    conn.autocommit = True
    rec = one_write(conn, a.seq)
    close_quietly(conn)
    print(json.dumps(rec))
    if a.expect_sqlstate and rec.get("sqlstate") != a.expect_sqlstate:
        print(f"FAIL: expected SQLSTATE {a.expect_sqlstate}, got {rec}", file=sys.stderr)
        return 1
    return 0


# --- reader ------------------------------------------------------------------------------------

def one_session(a, sid, f):
    """A new session through the replica listener and up to --per-session SELECTs on it. Returns
    False when it failed (the caller backs off)."""
    t0 = time.time()
    try:
        conn = psycopg2.connect(dsn(a.port, "app", a.connect_timeout, f"chaos-reader-{a.id}"))
        conn.autocommit = True
    except psycopg2.Error as e:
        f.write(json.dumps({"reader": a.id, "sid": sid, "q": 0, "start": t0, "end": time.time(),
                            **error_fields(e, "connect")}) + "\n")
        return False
    try:
        for q in range(1, a.per_session + 1):
            rec = {"reader": a.id, "sid": sid, "q": q, "start": time.time()}
            try:
                with conn.cursor() as cur:
                    cur.execute(READ_SQL)
                    port, in_recovery, max_seq = cur.fetchone()
                rec.update(end=time.time(), ok=True, port=port, rec=in_recovery, max_seq=max_seq)
            except psycopg2.Error as e:
                rec.update(end=time.time(), **error_fields(e, "read"))
            f.write(json.dumps(rec) + "\n")
            if not rec["ok"]:
                return False
            time.sleep(a.interval)
        return True
    finally:
        close_quietly(conn)


def cmd_reader(a):
    deadline = time.time() + a.max_seconds
    sid, backoff = 0, Backoff()
    with open(a.out, "a", buffering=1) as f:
        while sid < a.max_sessions and not stopped(a, deadline):
            sid += 1
            if one_session(a, sid, f):
                backoff.succeeded()
            else:
                backoff.failed()


# --- verdict -----------------------------------------------------------------------------------

def load(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line cut by a kill of the writer
    return out


def error_kind(r):
    """'phase SQLSTATE' or, for libpq's own errors (no SQLSTATE), 'phase: what happened'."""
    if r.get("sqlstate"):
        return f"{r['phase']} {r['sqlstate']}"
    e = r.get("error", "")
    for known in ("server closed the connection unexpectedly", "timeout expired", "Connection refused",
                  "connection already closed", "could not receive data from server", "SSL SYSCALL error"):
        if known in e:
            return f"{r['phase']}: {known}"
    return f"{r['phase']}: {e[:60]}"


def history_timelines(history, first_leader):
    """Patroni's GET /history lines [tl, lsn, reason, timestamp, new_leader]: timeline tl ended when
    new_leader promoted into tl + 1, at timestamp (the mtime of the new timeline's history file,
    written by the promotion itself). -> {tl: (leader, began, ended)} with epoch times."""
    out, leader, began = {}, first_leader, float("-inf")
    for line in sorted(history, key=lambda x: x[0]):
        tl = line[0]
        if len(line) < 5:
            raise ValueError(f"history line without timestamp and new leader: {line}")
        ended = datetime.fromisoformat(line[3]).timestamp()
        out[tl] = (leader, began, ended)
        leader, began = line[4], ended
    last = max(out) + 1 if out else 1
    out[last] = (leader, began, float("inf"))
    return out


def final_rows(port):
    conn = psycopg2.connect(dsn(port, "postgres", 5, "chaos-verdict"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT seq, port, tl, extract(epoch FROM at)::float8 FROM chaos_writes")
            return {seq: (p, tl, at) for seq, p, tl, at in cur.fetchall()}
    finally:
        conn.close()


def lost_writes(acked, rows):
    """Acknowledged writes missing on the final leader, or there with another member or timeline."""
    return [w for w in acked if w["seq"] not in rows or rows[w["seq"]][:2] != (w["port"], w["tl"])]


def wrong_leader_writes(acked, timelines, names):
    """Acknowledged writes on a member that was not the leader of the timeline it wrote on, or
    outside that timeline's time span, or on an earlier timeline than a write before it."""
    bad, prev_tl = [], 0
    for r in acked:
        span = timelines.get(r["tl"])
        member = names.get(r["port"], f":{r['port']}")
        if span is None:
            bad.append(f"seq {r['seq']} on {member}: timeline {r['tl']} is not in Patroni's history")
        elif span[0] != member:
            bad.append(f"seq {r['seq']} on {member} on timeline {r['tl']}, whose leader was {span[0]}")
        elif not span[1] <= r["at"] < span[2]:
            bad.append(f"seq {r['seq']} on {member} at {r['at']:.6f}, outside timeline {r['tl']} "
                       f"[{span[1]:.6f}, {span[2]:.6f})")
        if r["tl"] < prev_tl:
            bad.append(f"seq {r['seq']} on timeline {r['tl']} after a write on timeline {prev_tl}")
        prev_tl = max(prev_tl, r["tl"])
    return bad


def event_figures(ev, writes, next_start):
    """Write-unavailability of one event: from its start to the first acknowledged write that began
    after it, the first one on the new leader, and the longest stretch without an acknowledged
    write until the next event."""
    acked = [w for w in writes if w["ok"] and w["start"] >= ev["start"]]
    first = min((w["end"] for w in acked), default=None)
    on_new = min((w["end"] for w in acked if w.get("member") == ev.get("new_leader")), default=None)
    ends = [ev["start"]] + sorted(w["end"] for w in acked if w["end"] < next_start)
    gap = max((b - a for a, b in zip(ends, ends[1:])), default=None)
    # A failure belongs to the event during which its error arrived.
    failed = [w for w in writes if not w["ok"] and ev["start"] <= w["end"] < next_start]
    return {"first": None if first is None else first - ev["start"],
            "on_new": None if on_new is None else on_new - ev["start"],
            "gap": gap, "failed": len(failed)}


def promoted_just_before(first, timelines, names):
    """Whether the member of a session's first answer was promoted at most PROMOTION_NEWS before it."""
    member = names.get(first["port"])
    return any(leader == member and 0 <= first["start"] - began <= PROMOTION_NEWS
               for leader, began, _ in timelines.values())


def reader_figures(reads, timelines, names, rows):
    """Per session: did its first answer come from a member in recovery? One that came from a member
    promoted just before raced patroxy's next poll and is counted apart, and so are sessions whose
    replica was promoted under them (patroxy keeps those, by design). Phantoms: reads whose newest
    row is not on the final leader (a commit a replica replayed before the synchronous standby had
    it, discarded by the failover): PostgreSQL's doing, reported."""
    sessions = {}
    for r in reads:
        if r["ok"]:
            sessions.setdefault((r["reader"], r["sid"]), []).append(r)
    firsts = [min(s, key=lambda r: r["q"]) for s in sessions.values()]
    on_primary = [f for f in firsts if f["rec"] is False]
    raced = [f for f in on_primary if promoted_just_before(f, timelines, names)]
    later_on_primary = [s for s in sessions.values()
                        if min(s, key=lambda r: r["q"])["rec"] and any(r["rec"] is False for r in s)]
    phantoms = [r for s in sessions.values() for r in s if r.get("max_seq") is not None and r["max_seq"] not in rows]
    return {"sessions": len(sessions), "queries": sum(len(s) for s in sessions.values()),
            "first_on_primary": [f for f in on_primary if f not in raced], "raced_promotion": len(raced),
            "promoted_under": len(later_on_primary), "phantoms": len(phantoms)}


def sessions_left(stats):
    return sum(l["sessions_cur"] + l["queue_cur"] for l in stats["listeners"])


def fmt_t(t):
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1000):03d}"


def fmt_s(x):
    return "-" if x is None else f"{x:.2f} s"


def counts_table(title, records):
    kinds = {}
    for r in records:
        kinds[error_kind(r)] = kinds.get(error_kind(r), 0) + 1
    lines = [f"| {title} | count |", "|---|---:|"]
    lines += [f"| {k} | {n} |" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])] or ["| none | 0 |"]
    return lines


def listener_line(l):
    killed = ", ".join(f"{k} {n}" for k, n in l["killed"].items() if n) or "none"
    return (f"{l['name']}: {l['sessions_total']} sessions, {l['queued_total']} queued, "
            f"{l['denied_no_server']} refused for want of a member, killed: {killed}")


def report(a, events, writes, reads, figures, lost, wrong, rd, proc, stats, rows):
    stats_left = sessions_left(stats)
    acked = [w for w in writes if w["ok"]]
    tl_lag = sum(1 for w in acked if w["tlc"] != w["tl"])
    # A write whose session broke before its result arrived may have committed all the same (a
    # backend ended while it waits for the synchronous standby closes without a word: PostgreSQL's
    # syncrep.c); how many of those the final leader holds says how often that happened.
    unsure = [w for w in writes if not w["ok"] and w["phase"] == "write"]
    kept = sum(1 for w in unsure if w["seq"] in rows)
    out = [f"# chaos: {len(events)} events under load ({a.label})", "",
           "| # | event | target | leader before → after | start | settled after | first ack after it | "
           "first ack on the new leader | write-unavailability (longest without an ack) | failed writes |",
           "|---:|---|---|---|---|---:|---:|---:|---:|---:|"]
    for ev, fig in zip(events, figures):
        out.append(f"| {ev['n']} | {ev['kind']} | {ev['target']} | {ev['old_leader']} → {ev['new_leader']} | "
                   f"{fmt_t(ev['start'])} | {fmt_s(ev['end'] - ev['start'])} | {fmt_s(fig['first'])} | "
                   f"{fmt_s(fig['on_new']) if ev['new_leader'] != ev['old_leader'] else '-'} | "
                   f"{fmt_s(fig['gap'])} | {fig['failed']} |")
    out += ["", f"Writes: {len(writes)} attempted, **{len(acked)} acknowledged, {len(lost)} acknowledged lost**, "
            f"{len(wrong)} on a member that was not the leader, "
            f"{sum(1 for w in writes if w.get('sqlstate') == '25006')} read-only (25006); "
            f"{tl_lag} acknowledged on a timeline pg_control_checkpoint() did not show yet; "
            f"{len(unsure)} failed during the write, {kept} of them committed all the same (on the final leader).",
            f"Reads: {rd['queries']} in {rd['sessions']} sessions; {len(rd['first_on_primary'])} sessions began on a "
            f"member not in recovery ({rd['raced_promotion']} more within {PROMOTION_NEWS:g} s of its promotion); "
            f"{rd['promoted_under']} sessions saw their replica promoted under them; "
            f"{rd['phantoms']} reads saw a newest row the final leader does not have.", ""]
    out += counts_table("writer errors (phase, SQLSTATE or libpq message)", [w for w in writes if not w["ok"]]) + [""]
    out += counts_table("reader errors", [r for r in reads if not r["ok"]]) + [""]
    b, f_ = proc["before"], proc["after"]
    out += ["| patroxy | before the load | after it | band |", "|---|---:|---:|---|",
            f"| VmRSS | {b['rss_kb']} kB | {f_['rss_kb']} kB | ≤ {proc['rss_limit_kb']} kB |",
            f"| open fds | {b['fds']} | {f_['fds']} | ≤ {proc['fd_limit']} |",
            f"| live sessions, queued (stats.json) | - | {stats_left} | 0 |", "",
            "patroxy's counters (warm-up included): " + "; ".join(listener_line(l) for l in stats["listeners"]) + ".", ""]
    return "\n".join(out) + "\n"


def cmd_verdict(a):
    names = {}
    for item in a.members.split(","):
        name, pg, _ = item.split(":")
        names[int(pg)] = name
    events = load(a.events)
    writes = sorted((w for w in load(a.writes) if w.get("seq") is not None or not w["ok"]),
                    key=lambda w: w["start"])
    for w in writes:
        if w["ok"]:
            w["member"] = names.get(w["port"])
    reads = [r for p in a.reads for r in load(p)]
    acked = sorted((w for w in writes if w["ok"]), key=lambda w: w["seq"])
    rows = final_rows(a.final_port)
    lost = lost_writes(acked, rows)
    timelines = history_timelines(json.load(open(a.history)), a.first_leader)
    wrong = wrong_leader_writes(acked, timelines, names)
    starts = [ev["start"] for ev in events] + [float("inf")]
    figures = [event_figures(ev, writes, starts[i + 1]) for i, ev in enumerate(events)]
    rd = reader_figures(reads, timelines, names, rows)
    proc = json.load(open(a.proc))
    stats = json.load(open(a.stats))
    left = sessions_left(stats)
    text = report(a, events, writes, reads, figures, lost, wrong, rd, proc, stats, rows)
    with open(a.report, "w") as f:
        f.write(text)
    print(text)

    bad = []
    if len(events) != a.expect_events:
        bad.append(f"{len(events)} events recorded, {a.expect_events} planned")
    if not acked:
        bad.append("no write was acknowledged at all")
    if lost:
        bad.append(f"{len(lost)} acknowledged write(s) missing or different on the final leader: "
                   f"seq {[w['seq'] for w in lost[:20]]}")
    bad += wrong[:20]
    ro = [w["seq"] for w in writes if w.get("sqlstate") == "25006" or w.get("rec") is True]
    if ro:
        bad.append(f"{len(ro)} write(s) reached a member in recovery (25006): seq {ro[:20]}")
    if rd["first_on_primary"]:
        bad.append(f"{len(rd['first_on_primary'])} read session(s) through the replica listener began on a member "
                   f"not in recovery: {[(f['reader'], f['sid'], f['port']) for f in rd['first_on_primary'][:10]]}")
    if not rd["queries"]:
        bad.append("no read succeeded at all")
    for ev, fig in zip(events, figures):
        if fig["first"] is None:
            bad.append(f"no acknowledged write after event {ev['n']} ({ev['kind']})")
    b, f_ = proc["before"], proc["after"]
    if f_["pid"] != b["pid"]:
        bad.append(f"patroxy's PID changed from {b['pid']} to {f_['pid']}: it restarted during the test")
    if f_["rss_kb"] > proc["rss_limit_kb"]:
        bad.append(f"patroxy's RSS {f_['rss_kb']} kB after the load, band ≤ {proc['rss_limit_kb']} kB (before {b['rss_kb']})")
    if f_["fds"] > proc["fd_limit"]:
        bad.append(f"patroxy has {f_['fds']} open fds after the load, band ≤ {proc['fd_limit']} (before {b['fds']})")
    if left:
        bad.append(f"stats.json still counts {left} live or queued session(s) after the load stopped")
    for x in bad:
        print(f"FAIL: {x}", file=sys.stderr)
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def load_args(s, max_seconds):
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--out", required=True)
        s.add_argument("--stop", required=True)
        s.add_argument("--max-seconds", type=float, default=max_seconds)
        # Longer than patroxy's queue_timeout (30 s): the listener, not libpq, decides how long to hold.
        s.add_argument("--connect-timeout", type=int, default=40)

    s = sub.add_parser("writer")
    load_args(s, 1800)
    s.add_argument("--interval", type=float, default=0.01)
    s.add_argument("--max-writes", type=int, default=500000)
    s = sub.add_parser("reader")
    load_args(s, 1800)
    s.add_argument("--id", type=int, required=True)
    s.add_argument("--interval", type=float, default=0.05)
    s.add_argument("--per-session", type=int, default=20)
    s.add_argument("--max-sessions", type=int, default=50000)
    s = sub.add_parser("create-table")
    s.add_argument("--port", type=int, required=True)
    s = sub.add_parser("write-once")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--seq", type=int, default=0)
    s.add_argument("--expect-sqlstate")
    s = sub.add_parser("verdict")
    s.add_argument("--writes", required=True)
    s.add_argument("--reads", nargs="+", required=True)
    s.add_argument("--events", required=True)
    s.add_argument("--history", required=True, help="GET /history of the final leader, saved")
    s.add_argument("--first-leader", required=True, help="the leader of timeline 1")
    s.add_argument("--final-port", type=int, required=True, help="the final leader's PostgreSQL port")
    s.add_argument("--members", required=True, help="name:pg_port:api_port,...")
    s.add_argument("--proc", required=True, help="JSON: patroxy's RSS and fds before and after, and the band")
    s.add_argument("--stats", required=True, help="patroxy's /stats.json after the load, saved")
    s.add_argument("--expect-events", type=int, required=True)
    s.add_argument("--label", default="")
    s.add_argument("--report", required=True)
    a = p.parse_args()
    return {"writer": cmd_writer, "reader": cmd_reader, "create-table": cmd_create_table, "write-once": cmd_write_once,
            "verdict": cmd_verdict}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
