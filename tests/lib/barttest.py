"""barttest.py: shared pieces of bart's end-to-end tests (stdlib only, so
it imports under /usr/bin/python3 and in a virtualenv alike).

- TAP output (Tap)
- free loopback ports and per-test work dirs under the build dir
- DeskReceiver: an HTTP desk that records every POST and can be told to
  answer 503 / 400 / hang
- write_yaml / Bartd: write a bart config and run src/bartd -c FILE
  (start, wait for a log line, kill -9, restart)
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def srcdir():
    return os.environ.get("top_srcdir") or \
        os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def builddir():
    return os.environ.get("top_builddir") or os.getcwd()


def uuid4():
    return str(uuid.uuid4())


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_workdirs = []


def workdir(name):
    """A fresh directory tests/tmp/NAME.PID under the build dir. Tap.done()
    removes it when every test passed (set BART_KEEP_TMP=1 to keep it);
    after a failure it stays for the post-mortem."""
    d = os.path.join(builddir(), "tests", "tmp", "%s.%d" % (name, os.getpid()))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    _workdirs.append(d)
    return d


def wait_until(pred, timeout, step=0.1):
    """Polls pred until it is true (returns its value) or timeout (None)."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= deadline:
            return None
        time.sleep(step)


class Tap:
    """Minimal TAP producer: t.ok(cond, name), t.diag(...), t.done()."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def plan(self, n):
        print("1..%d" % n, flush=True)

    def ok(self, cond, name, *diag):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name),
              flush=True)
        if not cond:
            for d in diag:
                self.diag(d)
        return cond

    def is_(self, got, want, name):
        return self.ok(got == want, name, "got:  %r" % (got,),
                       "want: %r" % (want,))

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            print("# " + line, flush=True)

    def skip_all(self, why):
        print("1..0 # SKIP " + why, flush=True)
        sys.exit(0)

    def bail(self, why):
        print("Bail out! " + why, flush=True)
        sys.exit(1)

    def done(self):
        """Prints the plan; returns the exit status. Call it after the
        servers are stopped: on success it removes the work dirs."""
        print("1..%d" % self.n, flush=True)
        if not self.failed and not os.environ.get("BART_KEEP_TMP"):
            for d in _workdirs:
                shutil.rmtree(d, ignore_errors=True)
        return 1 if self.failed else 0


# ---------------------------------------------------------------- desks

def xmpp_test(t):
    """For a test that needs Prosody, slixmpp and a built bartd: skips the
    whole test (TAP skip plan) when one is missing, else returns the
    prosody harness module."""
    try:
        import slixmpp  # noqa: F401
    except ImportError:
        t.skip_all("python3-slixmpp is not installed")
    if not os.path.exists(os.path.join(builddir(), "src", "bartd")):
        t.skip_all("src/bartd is not built")
    import prosody
    if prosody.missing():
        t.skip_all(prosody.missing())
    return prosody


class DeskReceiver:
    """HTTP desk on a free loopback port. Every POST is recorded as a dict
    {path, headers (lower-case keys), body (parsed JSON or None), raw,
    status (what we answered), time}. mode is one of "ok" (200), "503",
    "400", "hang" (holds the request until mode changes or hang_max s).
    Set it with set_mode(); status codes other than these: set_mode(int)."""

    def __init__(self, mode="ok", hang_max=120):
        self.mode = mode
        self.hang_max = hang_max
        self.requests = []
        self.cond = threading.Condition()
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n > 0 else b""
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = None
                status = recv._status()
                entry = {"path": self.path,
                         "headers": {k.lower(): v
                                     for k, v in self.headers.items()},
                         "body": body, "raw": raw, "status": status,
                         "time": time.time()}
                with recv.cond:
                    recv.requests.append(entry)
                    recv.cond.notify_all()
                if status is None:      # hang: the client has to give up
                    self.close_connection = True
                    return
                out = b'{"ok":true}' if status < 300 else \
                    b'{"error":"test desk says %d"}' % status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def _status(self):
        with self.cond:
            mode = self.mode
            if mode == "hang":
                self.cond.wait_for(lambda: self.mode != "hang",
                                   self.hang_max)
                return None
        if mode == "ok":
            return 200
        return int(mode)

    def set_mode(self, mode):
        with self.cond:
            self.mode = str(mode) if isinstance(mode, int) else mode
            self.cond.notify_all()

    def posts(self, path=None):
        with self.cond:
            return [r for r in self.requests
                    if path is None or r["path"] == path]

    def accepted(self, path=None):
        """The POSTs we answered with 2xx."""
        return [r for r in self.posts(path)
                if r["status"] is not None and r["status"] < 300]

    def wait(self, pred, timeout=30):
        """Waits until pred(list of requests) is true; returns it."""
        with self.cond:
            return self.cond.wait_for(lambda: pred(list(self.requests)),
                                      timeout)

    def wait_count(self, n, timeout=30, accepted=True):
        def enough(reqs):
            return len([r for r in reqs if not accepted or
                        (r["status"] is not None and r["status"] < 300)]) >= n
        return self.wait(enough, timeout)

    def close(self):
        self.set_mode("ok")
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------- config

def _yaml_scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v), ensure_ascii=False)


def _yaml_lines(obj, indent):
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:" % (pad, k))
                out.extend(_yaml_lines(v, indent + 1))
            elif isinstance(v, list):
                out.append("%s%s: []" % (pad, k))
            else:
                out.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict) and v:
                sub = _yaml_lines(v, indent + 1)
                sub[0] = pad + "- " + sub[0].lstrip()
                out.extend(sub)
            elif isinstance(v, list):
                out.append(pad + "- [" + ", ".join(_yaml_scalar(x)
                                                   for x in v) + "]")
            else:
                out.append(pad + "- " + _yaml_scalar(v))
    return out


def write_yaml(path, obj):
    """Writes dicts/lists/scalars as block YAML (strings double-quoted)."""
    with open(path, "w") as f:
        f.write("\n".join(_yaml_lines(obj, 0)) + "\n")
    return path


def write_secret(path, secret):
    with open(path, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    return path


DESKS = ("politie-spoed", "politie", "gemeente")


def bart_config(dir, rules_dir, desk_url, xmpp=(), matrix=(),
                neighbourhoods=None, desks=None, routes=None,
                log_level="debug", name="bart.yaml", **extra):
    """Writes DIR/NAME for bartd: state under DIR/state, a fresh HMAC key,
    neighbourhood "testwijk", the three default desks as webhooks at
    DESK_URL + desk id (one DeskReceiver tells them apart by path), the
    default routes unless routes is given. xmpp/matrix are lists of
    account dicts as in contrib/bart.yaml. Returns the path."""
    hmac = write_secret(os.path.join(dir, "hmac.key"), uuid4() + uuid4())
    cfg = {
        "state_dir": os.path.join(dir, "state"),
        "rules_dir": rules_dir,
        "hmac_key_file": hmac,
        "log_level": log_level,
        "neighbourhoods": neighbourhoods or
        [{"id": "testwijk", "name": "Testwijk"}],
        "desks": desks or [{"id": d, "name": d, "type": "webhook",
                            "url": desk_url + d, "timeout": 5}
                           for d in DESKS],
    }
    if xmpp:
        cfg["xmpp"] = list(xmpp)
    if matrix:
        cfg["matrix"] = list(matrix)
    if routes:
        cfg["routes"] = routes
    cfg.update(extra)
    return write_yaml(os.path.join(dir, name), cfg)


# ---------------------------------------------------------------- bartd

class Bartd:
    """src/bartd -c CONFIG with its stderr in DIR/bartd.log (appended over
    restarts). env adds environment variables."""

    def __init__(self, config, logdir=None, env=None, args=()):
        self.config = config
        self.dir = logdir or os.path.dirname(os.path.abspath(config))
        self.log = os.path.join(self.dir, "bartd.log")
        self.exe = os.path.join(builddir(), "src", "bartd")
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.args = list(args)
        self.proc = None
        self.starts = 0
        self._logpos = 0

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return self
        with open(self.log, "ab") as f:
            f.write(b"=== bartd start %d\n" % self.starts)
            self._logpos = f.tell()
            self.proc = subprocess.Popen([self.exe] + self.args +
                                         ["-c", self.config],
                                         stdout=f, stderr=f,
                                         stdin=subprocess.DEVNULL,
                                         env=self.env)
        self.starts += 1
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def logtext(self, since_start=True):
        try:
            with open(self.log, "rb") as f:
                if since_start:
                    f.seek(self._logpos)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=30):
        """Waits for a line matching regex pattern in this run's log;
        returns the match or None (also None once bartd has exited)."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.logtext())
            if m:
                return m
            if not self.running() or time.time() >= deadline:
                return None
            time.sleep(0.1)

    def wait_ready(self, timeout=30):
        """Waits until this run of bartd says it is running (config and
        rules loaded, threads started); False if it exited instead."""
        return self.wait_log(r"bartd \S+ running", timeout) is not None

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after timeout. Returns the exit status
        (None if it had to be killed)."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        self.proc = None
        return rc

    def restart(self):
        self.stop()
        return self.start()

    def tail(self, n=40):
        return "\n".join(self.logtext(False).splitlines()[-n:])


def run_bartd_check(config, timeout=30):
    """bartd -n -c CONFIG: returns (exit status, stdout+stderr)."""
    p = subprocess.run([os.path.join(builddir(), "src", "bartd"), "-n",
                        "-c", config], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")
