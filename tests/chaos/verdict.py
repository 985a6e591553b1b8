#!/usr/bin/python3
"""The verdict of the chaos test (tests/chaos/events.sh): the invariants over the load's records,
the final leader's table and Patroni's history, and the report (markdown). tests/chaos/README.md
explains each check; verdict_test.py shows each one failing on records that break it.

Run with Debian's /usr/bin/python3 (psycopg2: the final leader's table is read straight from it).
"""

import argparse
import bisect
import json
import os
import sys
import time
from datetime import datetime

import psycopg2

from traffic import dsn

# The e2e suite's reader of JSON-lines records (a line cut by a kill is skipped).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from e2e import load  # noqa: E402

# patroxy learns a promotion at its next poll of the member: within fast_interval (100 ms) while a
# leader change is under way, within interval (1 s) at the latest. A read session that reaches a
# member this soon after that member's promotion raced the news; later it would be a routing error.
PROMOTION_NEWS = 1.0


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


def reader_figures(reads, timelines, names, rows, acked):
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
            "promoted_under": len(later_on_primary), "phantoms": len(phantoms),
            "phantoms_after_new_leader": sum(1 for r in phantoms if moved_on(r, acked))}


def moved_on(read, acked):
    """Whether a later write had been acknowledged (by the new leader) before this read began: the
    replica still served a row the failover had discarded."""
    i = bisect.bisect_right([w["seq"] for w in acked], read["max_seq"])
    return i < len(acked) and acked[i]["end"] < read["start"]


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
            f"{rd['phantoms']} reads saw a newest row the final leader does not have "
            f"({rd['phantoms_after_new_leader']} of them after the new leader had acknowledged a later write).", ""]
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
    rd = reader_figures(reads, timelines, names, rows, acked)
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
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--writes", required=True)
    p.add_argument("--reads", nargs="+", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--history", required=True, help="GET /history of the final leader, saved")
    p.add_argument("--first-leader", required=True, help="the leader of timeline 1")
    p.add_argument("--final-port", type=int, required=True, help="the final leader's PostgreSQL port")
    p.add_argument("--members", required=True, help="name:pg_port:api_port,...")
    p.add_argument("--proc", required=True, help="JSON: patroxy's RSS and fds before and after, and the band")
    p.add_argument("--stats", required=True, help="patroxy's /stats.json after the load, saved")
    p.add_argument("--expect-events", type=int, required=True)
    p.add_argument("--label", default="")
    p.add_argument("--report", required=True)
    return cmd_verdict(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
