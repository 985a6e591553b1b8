#!/usr/bin/python3
"""The storm's table (patroxy next to HAProxy) and the check of patroxy's promises.

Reads the two reports tests/storm/storm.sh wrote (bench/storm's JSON plus the event's figures),
prints a Markdown table, writes it to --out, and exits 1 when patroxy broke a promise: a client not
accounted for, one that hung, a failure other than 53300 or 57P03, nobody served, or a peak RSS over
the bound."""
import argparse
import json
import sys

ALLOWED = {"served", "sqlstate 53300", "sqlstate 57P03"}


def cell(v, unit=""):
    return "-" if v is None else f"{v}{unit}"


def seconds(ms):
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def row(label, r):
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items(), key=lambda kv: -kv[1]))
    return (f"| {label} | {outcomes} | {cell(r.get('new_leader_s'), ' s')} | {seconds(r.get('first_served_ms'))} "
            f"| {seconds(r.get('last_served_ms'))} | {seconds(r.get('last_ended_ms'))} "
            f"| {seconds(r['last_start_ms'])} | {r['peak_open']} "
            f"| {r['proxy_cpu_ms'] / 1000:.1f} s | {r['rss_before_kb'] / 1024:.1f} / {r['peak_rss_kb'] / 1024:.1f} MB |")


def broken_promises(r, clients, rss_bound_mb):
    out = []
    accounted = sum(r["outcomes"].values())
    if accounted != clients:
        out.append(f"{accounted} of {clients} clients accounted for")
    for outcome, n in r["outcomes"].items():
        if outcome not in ALLOWED:
            sample = r["samples"].get(outcome, "")
            out.append(f"{n} clients ended '{outcome}' ({sample})")
    if r.get("served", 0) == 0:
        out.append("no client was served")
    if r["peak_rss_kb"] > rss_bound_mb * 1024:
        out.append(f"peak RSS {r['peak_rss_kb'] / 1024:.1f} MB over the bound of {rss_bound_mb} MB")
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--event", required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--spread-ms", type=int, required=True)
    p.add_argument("--patroxy", required=True)
    p.add_argument("--haproxy", required=True)
    p.add_argument("--rss-bound-mb", type=float, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    px, hp = json.load(open(a.patroxy)), json.load(open(a.haproxy))
    what = "kill -9 of the leader's Patroni and PostgreSQL" if a.event == "crash" else "planned switchover"
    lines = [
        f"## Connection storm: {a.clients} clients within {a.spread_ms} ms during a failover ({what})",
        "",
        "Each client connects to the proxy's primary port, runs SELECT 1 once and disconnects (bench/storm).",
        "Times from the storm's start (right after the event); new leader = a member other than the old",
        "leader answers GET /primary 200. patroxy: primary listener max_connections 4000, 90 per member,",
        "queue_timeout 30s. HAProxy 2.6: the classic config (maxconn 1000, server maxconn 100, inter 3s fall 3 rise 2).",
        "",
        "| proxy | outcomes | new leader | first served | last served | last client done | last connect started | most open | proxy CPU | RSS before / peak |",
        "|---|---|---|---|---|---|---|---|---|---|",
        row("patroxy", px),
        row("HAProxy 2.6", hp),
    ]
    samples = {**{f"HAProxy: {k}": v for k, v in hp["samples"].items()},
               **{f"patroxy: {k}": v for k, v in px["samples"].items()}}
    if samples:
        lines += ["", "First message of each failure kind:"] + [f"- {k}: `{v}`" for k, v in sorted(samples.items())]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    broken = broken_promises(px, a.clients, a.rss_bound_mb)
    for b in broken:
        print(f"storm.failover: patroxy: {b}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
