"""xmpp-tls: bartd talks TLS with certificate verification, and falls
back to plaintext only when the configuration says tls: plaintext.

- A server offering STARTTLS with a self-signed certificate: with
  tls: required bartd refuses it (and never authenticates); once the
  certificate is trusted (SSL_CERT_FILE) it connects over TLS and a
  report flows end to end.
- A server without TLS: tls: required never sends the password."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."),
                                "tests", "lib"))
import barttest  # noqa: E402
from barttest import Tap  # noqa: E402

t = Tap()
prosody = barttest.xmpp_test(t)
if not __import__("shutil").which("openssl"):
    t.skip_all("openssl is not installed (needed for a test certificate)")

RULES = os.path.join(barttest.srcdir(), "tests", "xmpp-rules")
BREAKIN = "Ze zijn nu aan het inbreken bij nummer 8!"

dir = barttest.workdir("xmpp-tls")
servers, daemons, people = [], [], []
desk = barttest.DeskReceiver()


def daemon(name, srv, room, env=None, **acct_kw):
    d = os.path.join(dir, name)
    os.makedirs(d)
    acct = srv.bart_account("bot" + name.replace("-", ""), "pw-" + name,
                            [room], **acct_kw)
    cfg = barttest.bart_config(d, RULES, desk.url, xmpp=[acct])
    b = barttest.Bartd(cfg, env=env).start()
    daemons.append(b)
    return b, acct


try:
    tls = prosody.Prosody(os.path.join(dir, "prosody-tls"), tls=True)
    servers.append(tls)
    tls.start()
    room = tls.room("tls-test")
    alice = prosody.Resident(tls, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")

    b, acct = daemon("untrusted", tls, room, tls="required")
    t.ok(b.wait_log(r"certificate for localhost is not trusted", 20)
         is not None, "tls: required refuses a certificate it cannot "
         "verify, and the log says so", b.tail())
    t.ok(b.wait_log(r"joined", 3) is None, "and joins nothing")
    t.ok("Authenticated as %s" % acct["jid"] not in tls.log(),
         "and never authenticates")
    b.stop()

    b, acct = daemon("trusted", tls, room, tls="required",
                     env={"SSL_CERT_FILE": tls.cert})
    m = b.wait_log(r"connected as (\S+)(.*)", 20)
    t.ok(m is not None and "no TLS" not in m.group(2),
         "with the certificate trusted it connects over TLS", b.tail())
    t.ok(b.wait_log(r"starts at|caught up", 20) is not None,
         "and joins the room")
    alice.say(room, BREAKIN)
    t.ok(desk.wait(lambda rs: any(r["body"] and r["body"].get("text") ==
                                  BREAKIN for r in rs), 20),
         "a report flows end to end over TLS")
    b.stop()

    plain = prosody.Prosody(os.path.join(dir, "prosody-plain"))
    servers.append(plain)
    plain.start()
    b, acct = daemon("plain-required", plain, plain.room("x"),
                     tls="required")
    t.ok(b.wait_log(r"TLS is not supported", 20) is not None,
         "tls: required does not talk to a server without TLS", b.tail())
    time.sleep(1)
    t.ok("Authenticated as %s" % acct["jid"] not in plain.log(),
         "and never sends its password there")
    t.ok(b.running(), "bartd keeps running (and retrying)")
    b.stop()
    b, acct = daemon("plain-allowed", plain, plain.room("x"),
                     tls="plaintext")
    m = b.wait_log(r"connected as (\S+)(.*)", 20)
    t.ok(m is not None and "no TLS" in m.group(2),
         "tls: plaintext connects without TLS, and says so in the log")
except Exception:      # noqa: report, then clean up
    import traceback
    t.ok(False, "test ran without exceptions", traceback.format_exc())
finally:
    for b in daemons:
        if t.failed:
            t.diag("bartd log (tail):\n" + b.tail(30))
        b.stop()
    for p in people:
        p.stop()
    for s in servers:
        s.stop()
    desk.close()
sys.exit(t.done())
