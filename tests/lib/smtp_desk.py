"""smtp_desk.py: a desk inbox for tests, a real SMTP server (Debian's
python3-aiosmtpd) on a free loopback port that keeps what it receives.

    box = SmtpDesk()                 # box.url is smtp://127.0.0.1:PORT
    box.set_mode("451")              # answer DATA with 451 (temporary)
    box.set_mode("550")              # answer DATA with 550 (permanent)
    box.wait_count(1, 30)
    m = box.messages()[0]            # dict: mail_from, rcpt_tos, msg
                                     # (email.message.EmailMessage), raw
    box.close()

No TLS is offered (so a client that requires STARTTLS must refuse to
send); AUTH is offered in the clear when users= is given (loopback
tests only)."""

import email
import email.policy
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import barttest

# aiosmtpd 1.4 warns about its own use of a deprecated attribute on AUTH.
warnings.filterwarnings("ignore", message=".*login_data is deprecated")


class SmtpDesk:
    def __init__(self, users=None):
        self.mode = "ok"
        self.received = []          # accepted messages
        self.refused = []           # (code, envelope) we answered 4xx/5xx
        self.logins = []            # (user, ok)
        self.cond = threading.Condition()
        self.port = barttest.free_port()
        self.url = "smtp://127.0.0.1:%d" % self.port
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with box.cond:
                    mode = box.mode
                    if mode != "ok":
                        box.refused.append((mode, envelope.rcpt_tos))
                        box.cond.notify_all()
                if mode == "451":
                    return "451 4.3.0 test desk: try again later"
                if mode == "550":
                    return "550 5.7.1 test desk: refused"
                raw = envelope.original_content or envelope.content
                msg = email.message_from_bytes(raw,
                                               policy=email.policy.default)
                with box.cond:
                    box.received.append({
                        "mail_from": envelope.mail_from,
                        "rcpt_tos": list(envelope.rcpt_tos),
                        "raw": raw, "msg": msg, "time": time.time(),
                        "auth": session.authenticated,
                    })
                    box.cond.notify_all()
                return "250 2.0.0 queued"

        def authenticator(server, session, envelope, mechanism, auth_data):
            user = auth_data.login.decode()
            ok = users is not None and \
                users.get(user) == auth_data.password.decode()
            with box.cond:
                box.logins.append((user, ok))
            return AuthResult(success=ok)

        kw = {}
        if users is not None:
            kw = {"authenticator": authenticator, "auth_require_tls": False}
        self.controller = Controller(Handler(), hostname="127.0.0.1",
                                     port=self.port, **kw)
        self.controller.start()

    def set_mode(self, mode):
        with self.cond:
            self.mode = mode

    def messages(self):
        with self.cond:
            return list(self.received)

    def wait_count(self, n, timeout=30):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.received) >= n,
                                      timeout)

    def wait_refused(self, n, timeout=30):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.refused) >= n,
                                      timeout)

    def close(self):
        self.controller.stop()
