#!/usr/bin/env python3
"""A minimal stand-in for two Patroni 3.0.2 REST APIs (a leader and a lagging replica), for the
deploy tests that need a patroxy with a cluster to report on. usage: fake_patroni.py PORT_LEADER
PORT_REPLICA. Answers GET /patroni and GET /cluster as Patroni does (HTTP/1.0, JSON, close)."""
import http.server
import json
import sys
import threading

leader_port, replica_port = int(sys.argv[1]), int(sys.argv[2])
LEADER_LSN = 200_000_000
REPLICA_LSN = LEADER_LSN - 3 * 1024 * 1024  # 3 MiB behind


def member(role, xlog, name):
    return {"state": "running", "role": role, "server_version": 150004, "timeline": 3,
            "xlog": xlog, "dcs_last_seen": 1795318397,
            "database_system_identifier": "7710831728323457699",
            "patroni": {"version": "3.0.2", "scope": "demo", "name": name}}


bodies = {
    leader_port: member("master", {"location": LEADER_LSN}, "node1"),
    replica_port: member("replica", {"received_location": REPLICA_LSN, "replayed_location": REPLICA_LSN,
                                     "paused": False}, "node2"),
}
cluster = {"members": [
    {"name": "node1", "role": "leader", "state": "running", "host": "127.0.0.1", "port": 1,
     "api_url": f"http://127.0.0.1:{leader_port}/patroni", "timeline": 3},
    {"name": "node2", "role": "replica", "state": "running", "host": "127.0.0.1", "port": 2,
     "api_url": f"http://127.0.0.1:{replica_port}/patroni", "timeline": 3, "lag": 3 * 1024 * 1024},
]}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        port = self.server.server_address[1]
        body = cluster if self.path.startswith("/cluster") else bodies[port]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


servers = [http.server.HTTPServer(("127.0.0.1", p), Handler) for p in (leader_port, replica_port)]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
