#!/usr/bin/python3
"""browser.stats_page: patroxy's stats page in a real browser (headless Chromium over the DevTools
protocol), against real parts: three PostgreSQL 15 servers (initdb/pg_ctl, as the postgres user
when run as root), a fake Patroni REST API per member (http.server), and the patroxy binary.

It checks that the page loads through Basic auth (the browser's own 401 challenge, answered with
the Fetch domain), that each member's row (`tr[data-member]`) shows the right role and status,
then makes node3's API answer 503 and, without navigating again, waits for the page's own meta
refresh to show node3 DOWN with HAProxy's red background. The screenshot (stats-page.png) and
the logs go to --artifacts.

Run with Debian's /usr/bin/python3 (python3-websocket, python3-psycopg2); ctest passes the
patroxy binary and the artifact directory.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import psycopg2
    import websocket
except ImportError as e:  # pragma: no cover - only with the wrong interpreter
    sys.exit(f"stats_page_test.py: {e}: run it with Debian's /usr/bin/python3 "
             "(packages python3-websocket, python3-psycopg2)")

PG_BIN = "/usr/lib/postgresql/15/bin"
CHROMIUM = "/usr/bin/chromium"
USER, PASSWORD = "admin", "s3cret"
MEMBERS = ("node1", "node2", "node3")
WAL = 67309440
VIEWPORT_WIDTH = 1500


def log(msg):
    print(f"[browser] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, pred, timeout, step=0.1):
    """Polls pred() until it returns something truthy; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


# --- PostgreSQL -------------------------------------------------------------------------------

def as_postgres(cmd):
    """PostgreSQL refuses to run as root: switch to the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PgServers:
    """N throwaway servers on 127.0.0.1 with trust auth; initdb runs for all of them at once."""

    def __init__(self, root, n):
        self.dirs = [os.path.join(root, f"pg{i + 1}") for i in range(n)]
        self.ports = [free_port() for _ in range(n)]
        self.started = []
        for d in self.dirs:
            os.mkdir(d)
            if os.geteuid() == 0:
                shutil.chown(d, "postgres", "postgres")
        initdbs = [subprocess.Popen(as_postgres([f"{PG_BIN}/initdb", "-D", f"{d}/data", "-U", "postgres",
                                                 "-A", "trust", "--no-sync", "-E", "UTF8"]),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for d in self.dirs]
        for p in initdbs:
            _, err = p.communicate(timeout=120)
            if p.returncode != 0:
                raise RuntimeError(f"initdb failed: {err.decode(errors='replace')}")
        for d, port in zip(self.dirs, self.ports):
            opts = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={d} "
                    "-c fsync=off -c shared_buffers=16MB -c max_connections=20")
            subprocess.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", f"{d}/data", "-l", f"{d}/server.log",
                                        "-o", opts, "-w", "-t", "60", "start"]),
                           check=True, stdout=subprocess.DEVNULL, timeout=90)
            self.started.append(d)

    def stop(self):
        for d in self.started:
            subprocess.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", f"{d}/data", "-m", "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        self.started = []


# --- fake Patroni -----------------------------------------------------------------------------

class FakePatroni:
    """GET /patroni and GET /cluster as Patroni 3.0.2 answers them; `status` can turn it to 503."""

    def __init__(self, name, leader, cluster):
        self.name, self.leader, self.cluster, self.status = name, leader, cluster, 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):  # noqa: N802 (http.server's name)
                path = self.path.split("?")[0]
                body = fake.cluster() if path == "/cluster" else fake.patroni()
                data = json.dumps(body).encode()
                try:
                    self.send_response(fake.status if path == "/patroni" else 200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # patroxy gave up on a slow answer (its health.timeout): its business

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def patroni(self):
        body = {"state": "running", "role": "master" if self.leader else "replica",
                "postmaster_start_time": "2026-11-22 03:25:16.162682+00:00", "server_version": 150018,
                "timeline": 1, "dcs_last_seen": int(time.time()),
                "database_system_identifier": "7710831728323457699",
                "patroni": {"version": "3.0.2", "scope": "demo"}}
        if self.leader:
            body["xlog"] = {"location": WAL}
        else:
            body["xlog"] = {"received_location": WAL, "replayed_location": WAL,
                            "replayed_timestamp": "2026-11-22 03:26:46.408307+00:00", "paused": False}
        return body

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- Chromium over the DevTools protocol ------------------------------------------------------

class Browser:
    """Headless Chromium with a fresh profile; one page target driven over its websocket."""

    def __init__(self, root, artifacts):
        self.profile = os.path.join(root, "chromium-profile")
        os.mkdir(self.profile)
        self.stderr = open(os.path.join(artifacts, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={self.profile}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.stderr, start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")

        def devtools_port():
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}; see chromium.log")
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
                return int(lines[0]) if len(lines) >= 2 and lines[0] else None
            except FileNotFoundError:
                return None

        port = wait_for("chromium's DevToolsActivePort", devtools_port, 30)
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.results = {}
        self.events = []
        self.auth_challenges = 0
        self.frozen = False
        self.refreshes_stopped = 0

    def _handle_event(self, msg):
        method, params = msg["method"], msg.get("params", {})
        if method == "Fetch.requestPaused":
            if self.frozen and params.get("resourceType") == "Document":
                # A refresh after freeze(): cancelled, so the page stays as it is (net::ERR_ABORTED
                # commits no error page).
                self.refreshes_stopped += 1
                self._send("Fetch.failRequest", {"requestId": params["requestId"], "errorReason": "Aborted"})
            else:
                self._send("Fetch.continueRequest", {"requestId": params["requestId"]})
        elif method == "Fetch.authRequired":
            self.auth_challenges += 1
            self._send("Fetch.continueWithAuth", {
                "requestId": params["requestId"],
                "authChallengeResponse": {"response": "ProvideCredentials", "username": USER, "password": PASSWORD}})
        self.events.append(msg)

    def _send(self, method, params=None):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        return self.next_id

    def pump(self, until, timeout, what="DevTools"):
        """Reads messages (answering Fetch events) until until() holds; fails after timeout seconds."""
        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{what}: no answer within {timeout}s")
            self.ws.settimeout(left)
            try:
                raw = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                recent = ", ".join(e["method"] for e in self.events[-8:])
                raise AssertionError(f"{what}: no answer within {timeout}s (last events: {recent})") from None
            msg = json.loads(raw)
            if "id" in msg:
                self.results[msg["id"]] = msg
            else:
                self._handle_event(msg)

    def call(self, method, params=None, timeout=15):
        i = self._send(method, params)
        self.pump(lambda: i in self.results, timeout, method)
        msg = self.results.pop(i)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg["result"]

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def rows(self):
        """The page's member rows by (table id, member), or None while a refresh replaces the page."""
        try:
            rows = self.evaluate(ROWS_JS)
        except RuntimeError:
            return None
        return {(r["table"], r["member"]): r for r in rows} if rows else None

    def loads(self):
        return sum(1 for e in self.events if e["method"] == "Page.loadEventFired")

    def wait_load(self, count, timeout):
        self.pump(lambda: self.loads() >= count, timeout, "Page.loadEventFired")

    def freeze(self, timeout):
        """Stops the page's meta refresh: its next one is cancelled, and a document refreshes only
        once. A capture racing a navigation can hang Chromium's Page.captureScreenshot."""
        self.frozen = True
        self.pump(lambda: self.refreshes_stopped >= 1, timeout, "the next meta refresh")

    def screenshot(self, path):
        # The whole page: the viewport grows to the content's height (more dependable in headless
        # mode than captureBeyondViewport), then one capture, given time on a loaded machine.
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        self.call("Emulation.setDeviceMetricsOverride", {"width": VIEWPORT_WIDTH, "height": int(size["height"]) + 1,
                                                         "deviceScaleFactor": 1, "mobile": False})
        shot = self.call("Page.captureScreenshot", {"format": "png"}, timeout=60)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        log(f"screenshot: {path}")

    def close(self):
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - closing on the way out
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.stderr.close()


# Every member row of the page: the cluster panel's and each listener table's.
ROWS_JS = r"""
(() => Array.from(document.querySelectorAll('tr[data-member]')).map(tr => {
  const table = tr.closest('table');
  const cells = Array.from(tr.cells).map(td => td.textContent.trim());
  const status = table.id === 'cluster' ? cells[6] : cells[15];
  return {table: table.id, member: tr.dataset.member, role: tr.dataset.role, cls: tr.className,
          status: status, background: getComputedStyle(tr).backgroundColor};
}))()
"""


def rgb(text):
    m = re.match(r"rgba?\((\d+), (\d+), (\d+)", text)
    return tuple(int(x) for x in m.groups()) if m else None


def is_red(background):
    c = rgb(background)
    return c is not None and c[0] >= 200 and c[1] <= 160 and c[2] <= 160


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def run(args, root):
    started = time.monotonic()
    pg = PgServers(root, len(MEMBERS))
    log(f"{len(MEMBERS)} PostgreSQL servers up in {time.monotonic() - started:.1f}s")
    fakes = []
    proxy = None
    proxy_log = None
    browser = None
    try:
        def cluster():
            return {"members": [
                {"name": f.name, "role": "leader" if f.leader else "replica", "state": "running",
                 "api_url": f"http://127.0.0.1:{f.port}/patroni", "host": "127.0.0.1", "port": port,
                 "timeline": 1, **({} if f.leader else {"lag": 0})}
                for f, port in zip(fakes, pg.ports)]}

        for i, name in enumerate(MEMBERS):
            fakes.append(FakePatroni(name, i == 0, cluster))
        ports = {"primary": free_port(), "replicas": free_port(), "stats": free_port()}
        config = {
            "cluster": {"scope": "demo", "members": [
                {"name": f.name, "host": "127.0.0.1", "port": port, "api": f"http://127.0.0.1:{f.port}"}
                for f, port in zip(fakes, pg.ports)]},
            # Generous timeout: a busy CI machine must not fail a healthy member's check.
            "health": {"interval": "500ms", "fast_interval": "100ms", "timeout": "1s", "fall": 2, "rise": 2},
            "listeners": [
                {"name": "primary", "bind": f"127.0.0.1:{ports['primary']}", "role": "primary"},
                {"name": "replicas", "bind": f"127.0.0.1:{ports['replicas']}", "role": "replica",
                 "balance": "roundrobin"}],
            "workers": 1,
            "stats": {"bind": f"127.0.0.1:{ports['stats']}", "refresh": "1s",
                      "auth": {"user": USER, "password": PASSWORD}},
        }
        config_path = os.path.join(root, "patroxy.json")
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2)
        proxy_log = open(os.path.join(args.artifacts, "patroxy.log"), "wb")
        proxy = subprocess.Popen([args.patroxy, "-f", config_path], stdout=proxy_log, stderr=subprocess.STDOUT)

        stats = f"http://127.0.0.1:{ports['stats']}"

        def health_ok():
            if proxy.poll() is not None:
                raise RuntimeError(f"patroxy exited with {proxy.returncode}; see patroxy.log")
            try:
                return urllib.request.urlopen(f"{stats}/health", timeout=2).status == 200
            except OSError:
                return False

        wait_for("patroxy's /health", health_ok, 15)

        # Real sessions through both listeners, so the page has traffic to show.
        def sessions(port, n):
            for _ in range(n):
                c = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                     sslmode="disable", connect_timeout=5)
                with c.cursor() as cur:
                    cur.execute("SELECT inet_server_port(), repeat('x', 20000)")
                    yield cur.fetchone()[0]
                c.close()

        def routed(port, expected):
            try:
                return set(sessions(port, 2 * len(expected))) == expected
            except psycopg2.Error:
                return False

        wait_for("primary routed to node1", lambda: routed(ports["primary"], {pg.ports[0]}), 10, 0.2)
        wait_for("replicas routed to node2, node3", lambda: routed(ports["replicas"], set(pg.ports[1:])), 10, 0.2)

        log(f"patroxy routes both listeners ({time.monotonic() - started:.1f}s)")
        browser = Browser(root, args.artifacts)
        log(f"chromium up ({time.monotonic() - started:.1f}s)")
        browser.call("Page.enable")
        browser.call("Runtime.enable")
        browser.call("Fetch.enable", {"handleAuthRequests": True, "patterns": [{"urlPattern": "*"}]})
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": VIEWPORT_WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        loads = browser.loads()
        browser.call("Page.navigate", {"url": f"{stats}/"})
        browser.wait_load(loads + 1, 15)
        check(browser.auth_challenges >= 1, "the page was served without asking for credentials")
        title = browser.evaluate("document.title")
        check(title.startswith("patroxy"), f"title {title!r}: the page did not load (401?)")

        expected_role = {"node1": "primary", "node2": "replica", "node3": "replica"}
        # Right after the start a member may still show "UP" going up; wait on the page's own refresh.
        # Every member is UP in the cluster table; in a listener's table only those that fit its role
        # (HAProxy shows the others DOWN: their check URI answers 503).
        up_in = {"cluster": {"node1", "node2", "node3"}, "listener-primary": {"node1"},
                 "listener-replicas": {"node2", "node3"}}

        def all_up():
            rows = browser.rows()
            ok = rows and len(rows) == 3 * len(MEMBERS) and all(
                r["status"].endswith("UP") == (member in up_in[table]) for (table, member), r in rows.items())
            return rows if ok else None

        rows = wait_for("every member row UP where it fits the listener, DOWN elsewhere", all_up, 10, 0.3)
        for (table, member), r in sorted(rows.items()):
            log(f"{table:18} {member}: role={r['role']} class={r['cls']} status={r['status']!r} bg={r['background']}")
            check(r["role"] == expected_role[member], f"{table}/{member}: role {r['role']}")
        check(rows[("cluster", "node1")]["cls"] == "active_up", "cluster/node1 not active_up")
        check(rows[("listener-primary", "node1")]["cls"] == "active_up", "primary/node1 not active_up")
        check(rows[("listener-primary", "node2")]["cls"] == "active_down",
              "primary/node2: a replica is not eligible on the primary listener")
        for member in ("node2", "node3"):
            check(rows[("listener-replicas", member)]["cls"] == "active_up", f"replicas/{member} not active_up")
            check(not is_red(rows[("listener-replicas", member)]["background"]), f"replicas/{member} red while up")

        # node3's API fails; the page is not navigated again: its meta refresh must show it.
        browser.evaluate("window.__before_failure = true")
        loads_before = browser.loads()
        fakes[2].status = 503
        failed_at = time.monotonic()

        def node3_down():
            rows = browser.rows()
            if not rows or browser.loads() == loads_before:
                return None
            r = rows.get(("listener-replicas", "node3"))
            return rows if r and re.search(r"(^|\s)DOWN$", r["status"]) else None

        rows = wait_for("node3 DOWN on the refreshed page", node3_down, 15, 0.2)
        log(f"node3 DOWN on the page {time.monotonic() - failed_at:.1f}s after its API failed "
            f"({browser.loads() - loads_before} refresh(es))")
        check(browser.evaluate("window.__before_failure === undefined"), "the page was not reloaded")
        down = rows[("listener-replicas", "node3")]
        log(f"replicas/node3: class={down['cls']} status={down['status']!r} background={down['background']}")
        check(down["cls"] == "active_down", f"replicas/node3 class {down['cls']}")
        check(is_red(down["background"]), f"replicas/node3 background {down['background']} is not red")
        cluster_row = rows[("cluster", "node3")]
        check(cluster_row["status"] == "DOWN" and is_red(cluster_row["background"]),
              f"cluster/node3: {cluster_row}")
        for member in ("node1", "node2"):
            check(rows[("cluster", member)]["status"] == "UP", f"cluster/{member} no longer UP")
        check(rows[("listener-replicas", "node2")]["cls"] == "active_up", "replicas/node2 not active_up")
        browser.freeze(15)
        frozen = browser.rows()
        check(frozen and frozen[("listener-replicas", "node3")]["cls"] == "active_down", "the frozen page changed")
        browser.screenshot(os.path.join(args.artifacts, "stats-page.png"))
    finally:
        if browser:
            browser.close()
        if proxy and proxy.poll() is None:
            proxy.send_signal(signal.SIGINT)
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait(10)
        if proxy_log:
            proxy_log.close()
        for f in fakes:
            f.stop()
        pg.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patroxy", required=True, help="the patroxy binary under test")
    parser.add_argument("--artifacts", required=True, help="where screenshots and logs go")
    args = parser.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    for path in (CHROMIUM, f"{PG_BIN}/initdb"):
        if not os.access(path, os.X_OK):
            sys.exit(f"FAIL: {path} is missing (deploy/install-packages.sh installs it)")
    for old in ("stats-page.png", "stats-page-up.png"):  # never mistake an old run's picture for this one's
        if os.path.exists(os.path.join(args.artifacts, old)):
            os.remove(os.path.join(args.artifacts, old))
    started = time.monotonic()
    root = tempfile.mkdtemp(prefix="patroxy-browser-")
    os.chmod(root, 0o755)  # the postgres user walks into it
    try:
        run(args, root)
    except Exception as e:  # noqa: BLE001 - one line saying what failed, then the traceback
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        raise
    finally:
        if not os.environ.get("PATROXY_TEST_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
    log(f"passed in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
