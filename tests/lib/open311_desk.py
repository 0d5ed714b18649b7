"""open311_desk.py: a municipal Open311 GeoReport v2 endpoint for tests,
on a free loopback port. It checks each POST {base}/requests.json the
way GeoReport v2 says a server does, and answers like one:

- 201 [{"service_request_id": "...", "service_notice": ""}] when valid;
- 400 [{"code": 400, "description": "..."}] when not: not form-encoded,
  a parameter given twice, api_key missing or wrong, service_code
  missing or unknown, no location (lat+long, address_string or
  address_id) and no description, lat/long not numbers in range;
- mode "503": 503 for everything; mode "token": 200 with a token only.

Every request is recorded as a dict: method, path, headers, form (dict
of lists), raw, status, error, id."""

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Open311Desk:
    def __init__(self, api_key, services, base="/open311/v2"):
        self.api_key = api_key
        self.services = set(services)
        self.base = base.rstrip("/")
        self.mode = "ok"
        self.requests = []
        self.next_id = 1000
        self.cond = threading.Condition()
        desk = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, obj):
                out = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                self._answer(404, [{"code": 404, "description": "no"}])

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if 0 < n < 1 << 20 else b""
                entry = {"method": "POST", "path": self.path,
                         "headers": {k.lower(): v
                                     for k, v in self.headers.items()},
                         "raw": raw, "form": {}, "time": time.time()}
                status, obj = desk._handle(entry)
                entry["status"] = status
                with desk.cond:
                    desk.requests.append(entry)
                    desk.cond.notify_all()
                self._answer(status, obj)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d%s" % (self.port, self.base)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def _error(self, entry, status, why):
        entry["error"] = why
        return status, [{"code": status, "description": why}]

    def _handle(self, e):
        with self.cond:
            mode = self.mode
        if mode == "503":
            return self._error(e, 503, "down for maintenance")
        if e["path"] != self.base + "/requests.json":
            return self._error(e, 404, "unknown path " + e["path"])
        ctype = e["headers"].get("content-type", "").split(";")[0].strip()
        if ctype != "application/x-www-form-urlencoded":
            return self._error(e, 400, "not form-encoded: " + ctype)
        try:
            form = urllib.parse.parse_qs(e["raw"].decode("utf-8"),
                                         keep_blank_values=True,
                                         strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as x:
            return self._error(e, 400, "bad form encoding: %s" % x)
        e["form"] = form
        for k, v in form.items():
            if len(v) != 1:
                return self._error(e, 400, "%s given %d times" % (k, len(v)))
        f = {k: v[0] for k, v in form.items()}
        if not f.get("api_key"):
            return self._error(e, 400, "api_key is required")
        if f["api_key"] != self.api_key:
            return self._error(e, 403, "invalid api_key")
        if not f.get("service_code"):
            return self._error(e, 400, "service_code is required")
        if f["service_code"] not in self.services:
            return self._error(e, 400, "unknown service_code " +
                               f["service_code"])
        if ("lat" in f) != ("long" in f):
            return self._error(e, 400, "lat and long go together")
        if "lat" in f:
            try:
                lat, lon = float(f["lat"]), float(f["long"])
            except ValueError:
                return self._error(e, 400, "lat/long must be numbers")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                return self._error(e, 400, "lat/long out of range")
        if not ("lat" in f or f.get("address_string") or
                f.get("address_id") or f.get("description")):
            return self._error(e, 400, "a location or a description is "
                               "required")
        if len(f.get("description", "")) > 4000:
            return self._error(e, 400, "description too long")
        with self.cond:
            self.next_id += 1
            rid = "GR-%d" % self.next_id
        e["id"] = rid
        if mode == "token":
            return 200, [{"token": "tok-" + rid}]
        return 201, [{"service_request_id": rid, "service_notice": ""}]

    def set_mode(self, mode):
        with self.cond:
            self.mode = mode

    def posts(self):
        with self.cond:
            return list(self.requests)

    def accepted(self):
        return [r for r in self.posts() if r["status"] < 300]

    def wait(self, pred, timeout=30):
        with self.cond:
            return self.cond.wait_for(lambda: pred(list(self.requests)),
                                      timeout)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
