"""matrix_fake.py: a FAKE Matrix homeserver for bad-input tests only.

Synapse never sends malformed JSON, oversized bodies, wrongly typed fields
or invalid UTF-8, so the only way to show that bartd survives them is a
server that does. This one answers just what bart's connector asks (login,
whoami, join, encryption state, /sync, send, messages) and serves /sync
responses from a script, one entry per request, in order; requests are
recorded with their time. Everything real is tested against Synapse.
"""

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "fake-secret-token-0123456789"


class FakeHomeserver:
    def __init__(self, user_id="@bart:fake", room_id="!room:fake"):
        self.user_id = user_id
        self.room_id = room_id
        self.script = []        # (status, extra headers, raw body bytes)
        self.requests = []      # dicts: method, path, query, auth, time
        self.sent = []          # (txn id, content) of PUT .../send/...
        self.lock = threading.Condition()
        self.served = 0         # script entries served
        self.aliases = {}       # alias -> room id (directory and join)
        self.logins = []        # bodies of POST /login
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _reply(self, status, body, headers=()):
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _handle(self, method):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                with fake.lock:
                    fake.requests.append({
                        "method": method, "path": u.path, "query": q,
                        "auth": self.headers.get("Authorization"),
                        "time": time.monotonic()})
                    fake.lock.notify_all()
                p = u.path
                c = "/_matrix/client/v3"
                if p == c + "/login":
                    with fake.lock:
                        fake.logins.append(json.loads(raw or b"{}"))
                    return self._reply(200, {"access_token": TOKEN,
                                             "user_id": fake.user_id,
                                             "device_id": "FAKEDEV"})
                if self.headers.get("Authorization") != "Bearer " + TOKEN:
                    return self._reply(401, {"errcode": "M_UNKNOWN_TOKEN",
                                             "error": "who are you"})
                if p == c + "/account/whoami":
                    return self._reply(200, {"user_id": fake.user_id,
                                             "device_id": "FAKEDEV"})
                if p.startswith(c + "/join/"):
                    target = urllib.parse.unquote(p[len(c + "/join/"):])
                    return self._reply(200, {"room_id": fake.aliases.get(
                        target, fake.room_id)})
                if p.startswith(c + "/directory/room/"):
                    alias = urllib.parse.unquote(
                        p[len(c + "/directory/room/"):])
                    if alias in fake.aliases:
                        return self._reply(200, {"room_id":
                                                 fake.aliases[alias]})
                    return self._reply(404, {"errcode": "M_NOT_FOUND"})
                if "/state/m.room.encryption" in p:
                    return self._reply(404, {"errcode": "M_NOT_FOUND"})
                if p.endswith("/messages"):
                    return self._reply(200, {"chunk": [], "start": "x"})
                if "/send/m.room.message/" in p and method == "PUT":
                    txn = urllib.parse.unquote(p.rsplit("/", 1)[1])
                    with fake.lock:
                        fake.sent.append((txn, json.loads(raw)))
                        fake.lock.notify_all()
                    return self._reply(200, {"event_id": "$ack-" + txn})
                if p == c + "/sync":
                    return self._sync(q)
                return self._reply(404, {"errcode": "M_UNRECOGNIZED"})

            def _sync(self, q):
                if "since" not in q:
                    return self._reply(200, {"next_batch": "s0"})
                with fake.lock:
                    entry = None
                    if fake.served < len(fake.script):
                        entry = fake.script[fake.served]
                        fake.served += 1
                        fake.lock.notify_all()
                if entry is None:   # script done: an idle long-poll
                    time.sleep(0.5)
                    return self._reply(200, {"next_batch":
                                             q["since"][0]})
                status, headers, body = entry
                return self._reply(status, body, headers)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def add_sync(self, body, status=200, headers=()):
        """Queues one /sync answer: a dict (sent as JSON) or raw bytes."""
        with self.lock:
            self.script.append((status, list(headers), body))

    def wait_served(self, n, timeout=60):
        with self.lock:
            return self.lock.wait_for(lambda: self.served >= n, timeout)

    def joins(self):
        """Room ids and aliases bart asked to join, in order."""
        c = "/_matrix/client/v3/join/"
        with self.lock:
            return [urllib.parse.unquote(r["path"][len(c):])
                    for r in self.requests if r["path"].startswith(c)]

    def sync_requests(self):
        with self.lock:
            return [r for r in self.requests if r["path"].endswith("/sync")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def message_event(event_id, body, sender="@alice:fake", ts=1700000000000):
    return {"type": "m.room.message", "event_id": event_id,
            "sender": sender, "origin_server_ts": ts,
            "content": {"msgtype": "m.text", "body": body}}


def sync_body(next_batch, room_id, events, limited=False):
    return {"next_batch": next_batch, "rooms": {"join": {room_id: {
        "timeline": {"events": events, "limited": limited,
                     "prev_batch": "p-" + next_batch}}}}}
