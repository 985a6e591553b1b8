#!/usr/bin/python3
"""The load of the chaos test (tests/chaos/events.sh): a writer through the primary listener and
readers through the replica listener, each recording every attempt as a JSON line.

Run with Debian's /usr/bin/python3 (psycopg2). Every loop is bounded in count and in time and also
stops when its --stop file appears. Times are epoch seconds, on the same clock as the event driver,
Patroni's history and PostgreSQL's clock_timestamp() (one machine).

Subcommands:
  writer        one session through the primary listener, one INSERT per transaction; reconnects on error
  reader        sessions through the replica listener, a few SELECTs each, then a new session
  create-table  the writer's table
  write-once    one write straight to a server: shows that a write on a replica is told apart (25006)
"""

import argparse
import json
import os
import sys
import time

try:
    import psycopg2
except ImportError:  # pragma: no cover - only when run with the wrong interpreter
    sys.exit("traffic.py: no psycopg2: run it with Debian's /usr/bin/python3 (package python3-psycopg2)")


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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def load_args(s):
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--out", required=True)
        s.add_argument("--stop", required=True)
        s.add_argument("--max-seconds", type=float, default=1800)
        # Longer than patroxy's queue_timeout (30 s): the listener, not libpq, decides how long to hold.
        s.add_argument("--connect-timeout", type=int, default=40)

    s = sub.add_parser("writer")
    load_args(s)
    s.add_argument("--interval", type=float, default=0.01)
    s.add_argument("--max-writes", type=int, default=500000)
    s = sub.add_parser("reader")
    load_args(s)
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
    a = p.parse_args()
    return {"writer": cmd_writer, "reader": cmd_reader, "create-table": cmd_create_table,
            "write-once": cmd_write_once}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
