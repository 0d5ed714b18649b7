"""synapse.py: a real Synapse homeserver for bart's Matrix tests.

Runs under Debian's python3 (PYTHON3_SYS) with the standard library only;
Synapse itself runs from a virtualenv made by setup-synapse-venv.sh (under
the build tree, or $BART_VENV_CACHE when set). Each Synapse gets its own
temp dir under the build tree, SQLite, a free loopback port, raised rate
limits and a registration_shared_secret; users are registered through the
shared-secret admin API.

    hs = Synapse.create()          # installs/reuses the venv, writes config
    hs.start()                     # waits for /health
    alice = hs.register("alice")   # -> MatrixClient, logged in
    ...
    hs.restart(); hs.stop()
"""

import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def builddir():
    return os.environ.get("top_builddir") or os.getcwd()


def ensure_venv():
    """Path of the Synapse virtualenv, creating it if needed."""
    script = os.path.join(HERE, "setup-synapse-venv.sh")
    env = dict(os.environ)
    env.setdefault("top_builddir", builddir())
    out = subprocess.run(["sh", script], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return out.strip().splitlines()[-1]


class MatrixError(Exception):
    def __init__(self, code, body):
        super().__init__("HTTP %d: %s" % (code, body[:300]))
        self.code = code
        self.body = body


def http(method, url, body=None, token=None, timeout=30):
    """One JSON request; returns the decoded body or raises MatrixError."""
    data = None
    headers = {}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raise MatrixError(e.code, e.read().decode("utf-8", "replace"))
    return json.loads(raw) if raw else {}


def q(s):
    return urllib.parse.quote(s, safe="")


class MatrixClient:
    """A plain client-server API client: what a resident's app does."""

    def __init__(self, base, user_id, token, device_id=None):
        self.base = base
        self.user_id = user_id
        self.token = token
        self.device_id = device_id
        self._txn = 0

    def call(self, method, path, body=None, timeout=30, retries=20):
        # Retried on 429 and on connection errors: a resident's app does
        # the same, and the fault tests restart the server under it.
        for i in range(retries):
            try:
                return http(method, self.base + path, body, self.token,
                            timeout)
            except MatrixError as e:
                if e.code != 429 and e.code < 500:
                    raise
                wait = 0.5
                try:
                    wait = json.loads(e.body).get("retry_after_ms",
                                                  500) / 1000
                except ValueError:
                    pass
                time.sleep(min(wait, 5))
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        return http(method, self.base + path, body, self.token, timeout)

    def create_room(self, name=None, invite=(), alias=None, encrypted=False,
                    public=False):
        body = {"preset": "public_chat" if public else "private_chat",
                "invite": list(invite)}
        if name:
            body["name"] = name
        if alias:
            body["room_alias_name"] = alias
        if encrypted:
            body["initial_state"] = [{
                "type": "m.room.encryption", "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
        return self.call("POST", "/_matrix/client/v3/createRoom",
                         body)["room_id"]

    def invite(self, room_id, user_id):
        self.call("POST", "/_matrix/client/v3/rooms/%s/invite" % q(room_id),
                  {"user_id": user_id})

    def join(self, room):
        return self.call("POST", "/_matrix/client/v3/join/%s" % q(room),
                         {})["room_id"]

    def send(self, room_id, content, evtype="m.room.message", txn=None):
        if txn is None:
            self._txn += 1
            txn = "t%d-%d" % (int(time.time() * 1000), self._txn)
        return self.call(
            "PUT", "/_matrix/client/v3/rooms/%s/send/%s/%s"
            % (q(room_id), q(evtype), q(txn)), content)["event_id"]

    def send_text(self, room_id, body, reply_to=None, msgtype="m.text"):
        content = {"msgtype": msgtype, "body": body}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to":
                                       {"event_id": reply_to}}
        return self.send(room_id, content)

    def messages(self, room_id, limit=1000):
        """Every event of the room's timeline, oldest first."""
        events = []
        frm = None
        while True:
            path = ("/_matrix/client/v3/rooms/%s/messages?dir=b&limit=%d"
                    % (q(room_id), min(limit, 1000)))
            if frm:
                path += "&from=" + q(frm)
            r = self.call("GET", path)
            chunk = r.get("chunk", [])
            events.extend(chunk)
            frm = r.get("end")
            if not chunk or not frm or len(events) >= limit:
                break
        events.reverse()
        return events

    def joined_members(self, room_id):
        r = self.call("GET", "/_matrix/client/v3/rooms/%s/joined_members"
                      % q(room_id))
        return sorted(r.get("joined", {}).keys())

    def devices(self):
        return self.call("GET", "/_matrix/client/v3/devices")["devices"]


class Synapse:
    def __init__(self, workdir, venv, port, server_name="localhost",
                 rc_message=None):
        self.workdir = workdir
        self.venv = venv
        self.port = port
        self.server_name = server_name
        self.base = "http://127.0.0.1:%d" % port
        self.secret = secrets.token_hex(16)
        self.proc = None
        self.logfile = os.path.join(workdir, "homeserver.log")
        self.setup_seconds = 0.0
        self._write_config(rc_message)

    @classmethod
    def create(cls, name="synapse", **kw):
        """A configured (not yet started) Synapse in a new temp dir."""
        t0 = time.monotonic()
        venv = ensure_venv()
        root = os.path.join(builddir(), "tests", "tmp")
        os.makedirs(root, exist_ok=True)
        workdir = tempfile.mkdtemp(prefix=name + "-", dir=root)
        hs = cls(workdir, venv, free_port(), **kw)
        hs.setup_seconds += time.monotonic() - t0
        return hs

    def _write_config(self, rc_message):
        d = self.workdir
        big = {"per_second": 10000, "burst_count": 10000}
        rc_msg = rc_message or big
        cfg = {
            "server_name": self.server_name,
            "pid_file": os.path.join(d, "homeserver.pid"),
            "listeners": [{
                "port": self.port, "bind_addresses": ["127.0.0.1"],
                "type": "http", "tls": False, "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }],
            "database": {"name": "sqlite3", "args": {
                "database": os.path.join(d, "homeserver.db")}},
            "log_config": os.path.join(d, "log.yaml"),
            "media_store_path": os.path.join(d, "media"),
            "signing_key_path": os.path.join(d, "signing.key"),
            "registration_shared_secret": self.secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "report_stats": False,
            "enable_registration": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            # Test users post in bursts; nothing here may slow them down.
            "rc_message": rc_msg,
            "rc_registration": big,
            "rc_login": {"address": big, "account": big,
                         "failed_attempts": big},
            "rc_joins": {"local": big, "remote": big},
            "rc_joins_per_room": big,
            "rc_invites": {"per_room": big, "per_user": big,
                           "per_issuer": big},
            "rc_admin_redaction": big,
            "rc_room_creation": big,
        }
        # JSON is YAML; no PyYAML needed on this side.
        with open(os.path.join(d, "homeserver.yaml"), "w") as f:
            json.dump(cfg, f, indent=1)
        with open(os.path.join(d, "log.yaml"), "w") as f:
            json.dump({
                "version": 1,
                "formatters": {"f": {"format":
                    "%(asctime)s %(levelname)s %(name)s %(message)s"}},
                "handlers": {"file": {"class": "logging.FileHandler",
                                      "filename": self.logfile,
                                      "formatter": "f"}},
                "root": {"level": "INFO", "handlers": ["file"]},
                "loggers": {"synapse.access.http": {"level": "WARNING"},
                            "synapse.storage.SQL": {"level": "WARNING"}},
                "disable_existing_loggers": False,
            }, f)

    def _python(self):
        return os.path.join(self.venv, "bin", "python")

    def start(self, timeout=90):
        """Starts Synapse and waits until /health answers."""
        t0 = time.monotonic()
        cfg = os.path.join(self.workdir, "homeserver.yaml")
        if not os.path.exists(os.path.join(self.workdir, "signing.key")):
            subprocess.run([self._python(), "-m", "synapse.app.homeserver",
                            "-c", cfg, "--generate-keys"], check=True,
                           cwd=self.workdir, stdout=subprocess.DEVNULL)
        out = open(os.path.join(self.workdir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(
            [self._python(), "-m", "synapse.app.homeserver", "-c", cfg],
            cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("synapse exited with %d; see %s"
                                   % (self.proc.returncode, self.workdir))
            try:
                with urllib.request.urlopen(self.base + "/health",
                                            timeout=2) as r:
                    if r.read().strip() == b"OK":
                        self.setup_seconds += time.monotonic() - t0
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("synapse did not become healthy in %ds" % timeout)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def kill(self):
        self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        self.start()

    def register(self, user, password=None, admin=False):
        """Registers user through the shared secret; a logged-in client."""
        t0 = time.monotonic()
        password = password or secrets.token_hex(12)
        url = self.base + "/_synapse/admin/v1/register"
        nonce = http("GET", url)["nonce"]
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), user.encode(),
                                 password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        r = http("POST", url, {"nonce": nonce, "username": user,
                               "password": password, "admin": admin,
                               "mac": mac.hexdigest()})
        c = MatrixClient(self.base, r["user_id"], r["access_token"],
                         r.get("device_id"))
        c.password = password
        self.setup_seconds += time.monotonic() - t0
        return c

    def unlimit(self, admin, user_id):
        """Lifts the message rate limit of one user (admin API); the
        others keep the configured rc_message."""
        admin.call("POST", "/_synapse/admin/v1/users/%s/override_ratelimit"
                   % q(user_id), {"messages_per_second": 0,
                                  "burst_count": 0})

    def login(self, user, password):
        r = http("POST", self.base + "/_matrix/client/v3/login", {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password})
        return MatrixClient(self.base, r["user_id"], r["access_token"],
                            r.get("device_id"))

    def user_id(self, user):
        return "@%s:%s" % (user, self.server_name)

    def cleanup(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


if __name__ == "__main__":
    # Smoke run: python3 synapse.py -> starts, registers, posts, stops.
    hs = Synapse.create()
    try:
        hs.start()
        a = hs.register("alice")
        b = hs.register("bob")
        room = a.create_room("test", invite=[b.user_id])
        b.join(room)
        ev = a.send_text(room, "hallo")
        msgs = [e for e in b.messages(room) if e["type"] == "m.room.message"]
        assert msgs[-1]["event_id"] == ev, msgs
        print("ok: synapse up in %.1fs at %s" % (hs.setup_seconds, hs.base))
    finally:
        hs.cleanup(keep="-k" in sys.argv)
