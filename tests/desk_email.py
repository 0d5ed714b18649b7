"""desk-email: a desk that takes e-mail gets a readable message with the
report attached, and updates thread under it.

Prosody (MUC) with a resident, bartd with three e-mail desks, and a real
SMTP server (python3-aiosmtpd) on a free loopback port:
- politie-spoed: plaintext SMTP to two addresses (loopback only);
- gemeente-mail: plaintext, with SMTP AUTH from a password file;
- gemeente-tls: the default, STARTTLS required; the test server offers no
  TLS, so bart must not send it at all.
Checks the envelope, the headers (From, To, Subject with an encoded
neighbourhood name, Date, Message-ID from the report id), the text part,
the JSON attachment against the stored report, the update (In-Reply-To
and References to the first message), a 451 answer retried, a 550 answer
dead-lettered and retried by the operator, the room's acknowledgement,
and that chit-chat sends nothing."""

import email.utils
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."),
                                "tests", "lib"))
import barttest  # noqa: E402
from barttest import Tap, wait_until  # noqa: E402

t = Tap()
try:
    import slixmpp  # noqa: F401
    import aiosmtpd  # noqa: F401
except ImportError as e:
    t.skip_all("needs python3-slixmpp and python3-aiosmtpd (%s)" % e)
if not os.path.exists(os.path.join(barttest.builddir(), "src", "bartd")):
    t.skip_all("src/bartd is not built")
import prosody  # noqa: E402
from smtp_desk import SmtpDesk  # noqa: E402

BREAKIN = "Ze zijn nu aan het inbreken bij nummer 12, twee mannen!"
FOLLOW = "Nu zijn ze ook aan het inbreken bij nummer 14, richting het park"
LIGHT = "De lantaarnpaal bij de speeltuin is al een week kapot."
CHAT = "Wie heeft er zin in een barbecue zaterdag?"
NB = "Kiëvitsbuurt"
SPOED_TO = ["meldkamer@politie.example", "wachtcommandant@politie.example"]

dir = barttest.workdir("desk-email")
srv = prosody.Prosody(os.path.join(dir, "prosody"))
box = SmtpDesk(users={"bart-wijk": "smtp-secret-pw"})
bartd = None
people = []


def bartctl(cfg, *args):
    p = subprocess.run([os.path.join(barttest.builddir(), "src", "bartctl"),
                        "-c", cfg] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def outbox(db):
    """Outbox rows: dicts with id, report_id, desk, state, version,
    last_error."""
    c = sqlite3.connect(db, timeout=10)
    try:
        rows = c.execute("SELECT id, report_id, desk, state, version, "
                         "last_error FROM outbox ORDER BY id").fetchall()
    finally:
        c.close()
    return [dict(zip(("id", "report_id", "desk", "state", "version",
                      "last_error"), r)) for r in rows]


def stored_report(db, rid):
    c = sqlite3.connect(db, timeout=10)
    try:
        row = c.execute("SELECT json FROM reports WHERE id=?",
                        (rid,)).fetchone()
    finally:
        c.close()
    return json.loads(row[0]) if row else None


def parts(msg):
    """(text part, JSON attachment part) of a received message."""
    text = att = None
    for p in msg.walk():
        if p.get_content_maintype() == "multipart":
            continue
        if p.get_content_type() == "text/plain" and \
                p.get_filename() is None:
            text = p
        elif p.get_content_type() == "application/json":
            att = p
    return text, att


try:
    srv.start()
    room = srv.room("buurtpreventie-email")
    alice = prosody.Resident(srv, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")

    acct = srv.bart_account("bartbot", "bot-secret-pw", [room])
    smtp_pw = barttest.write_secret(os.path.join(dir, "smtp.pass"),
                                    "smtp-secret-pw")
    desks = [
        {"id": "politie-spoed", "name": "Meldkamer", "type": "email",
         "url": box.url, "tls": "plaintext", "from": "bart@wijk.example",
         "to": SPOED_TO, "timeout": 5},
        {"id": "gemeente-mail", "name": "Gemeente", "type": "email",
         "url": box.url, "tls": "plaintext", "from": "bart@wijk.example",
         "to": "meldingen@gemeente.example", "username": "bart-wijk",
         "password_file": smtp_pw, "timeout": 5},
        {"id": "gemeente-tls", "name": "Gemeente (TLS)", "type": "email",
         "url": box.url, "from": "bart@wijk.example",
         "to": "tls@gemeente.example", "timeout": 5},
    ]
    routes = [{"category": "inbraak", "desk": "politie-spoed"},
              {"category": "openbare-ruimte",
               "desk": ["gemeente-mail", "gemeente-tls"]}]
    cfg = barttest.bart_config(
        dir, os.path.join(barttest.srcdir(), "tests", "xmpp-rules"), "",
        xmpp=[acct], desks=desks, routes=routes,
        neighbourhoods=[{"id": "testwijk", "name": NB,
                         "cbs_code": "BU03630001",
                         "location": [52.37403, 4.88969]}])
    db = os.path.join(dir, "state", "bart.db")
    rc, out = barttest.run_bartd_check(cfg)
    t.is_(rc, 0, "bartd -n accepts the e-mail desks") or t.diag(out)
    bartd = barttest.Bartd(cfg).start()
    t.ok(bartd.wait_log(r"starts at|caught up", 30) is not None,
         "bartd joins the room", bartd.tail())

    # 1. A break-in: one e-mail to the control room's two addresses.
    b = alice.say(room, BREAKIN)
    t.ok(box.wait_count(1, 30), "the break-in arrives as an e-mail",
         bartd.tail())
    m = box.messages()[0] if box.messages() else None
    msg = m["msg"] if m else {}
    rid = msg.get("X-Bart-Report-Id", "") if m else ""
    ref = rid[:8]
    t.ok(re.match(r"^[0-9a-f-]{36}$", rid or ""), "it names the report id",
         rid)
    t.is_(m and m["mail_from"], "bart@wijk.example", "envelope sender")
    t.is_(m and sorted(m["rcpt_tos"]), sorted(SPOED_TO),
          "envelope recipients: both addresses of the desk")
    t.is_(msg.get("From"), "bart <bart@wijk.example>", "From header")
    t.is_(sorted(a for _, a in email.utils.getaddresses(
        [str(msg.get("To", ""))])), sorted(SPOED_TO), "To header")
    t.is_(str(msg.get("Subject")),
          "[bart] spoed inbraak in %s (ref %s)" % (NB, ref),
          "Subject: urgency, category, neighbourhood (non-ASCII, encoded) "
          "and ref")
    t.ok(m and "=?UTF-8?B?" in m["raw"].split(b"\r\n\r\n")[0].decode(),
         "the Subject is RFC 2047 encoded on the wire")
    t.is_(msg.get("Message-ID"), "<%s@bart>" % rid,
          "Message-ID derived from the report id")
    d = email.utils.parsedate_to_datetime(msg.get("Date")) \
        if msg.get("Date") else None
    t.ok(d is not None and abs(d.timestamp() - time.time()) < 120,
         "a Date header of now", msg.get("Date"))
    t.ok(msg.get_content_type() == "multipart/mixed" if m else False,
         "multipart/mixed", m and msg.get_content_type())
    text, att = parts(msg) if m else (None, None)
    body = text.get_content() if text is not None else ""
    t.diag("what the desk reads:\n" + body)
    for want, what in ((BREAKIN, "the resident's message"),
                       ("inbraak", "the category"),
                       ("spoed", "the urgency"), (NB, "the neighbourhood"),
                       ("CBS BU03630001", "the CBS code"),
                       ("52.37403, 4.88969", "the neighbourhood location"),
                       ("Ref:       %s" % ref, "the ref")):
        t.ok(want in body, "the text part has %s" % what)
    t.ok(re.search(r'Herkend aan: .*"inbreken"', body),
         "the text part has the matched words")
    t.ok(re.search(r"Wanneer: +\d{4}-\d\d-\d\d \d\d:\d\d UTC", body),
         "the text part says when")
    t.ok(att is not None and att.get_filename() == "report-%s.json" % rid,
         "the report is attached as report-<id>.json",
         att and att.get_filename())
    payload = json.loads(att.get_content()) if att is not None else {}
    if isinstance(payload, bytes):
        payload = json.loads(payload)
    stored = stored_report(db, rid) or {}
    t.is_((payload.get("desk"), payload.get("status")),
          ("politie-spoed", "new"), "the attachment says desk and status")
    t.ok(stored and {k: v for k, v in payload.items()
                     if k not in ("desk", "status")} == stored,
         "the attachment is the stored report")
    ack = alice.wait_message(lambda e: e["nick"] != "alice" and
                             "doorgezet naar Meldkamer" in e["body"] and
                             ref in e["body"], 20)
    t.ok(ack is not None, "the room is told the report went to Meldkamer")

    # 2. A follow-up while the server answers 451: retried, and it
    # threads under the first message.
    box.set_mode("451")
    alice.say(room, FOLLOW)
    t.ok(box.wait_refused(1, 30), "the server answers 451 to the update")
    box.set_mode("ok")
    t.ok(box.wait_count(2, 40), "the update arrives once the server takes "
         "mail again", bartd.tail())
    u = box.messages()[1]["msg"] if len(box.messages()) > 1 else {}
    t.is_(u.get("Message-ID"), "<%s.v1@bart>" % rid,
          "the update's Message-ID is derived from the report id")
    t.is_(u.get("In-Reply-To"), "<%s@bart>" % rid,
          "In-Reply-To the first message")
    t.is_(u.get("References"), "<%s@bart>" % rid,
          "References the first message")
    t.is_(str(u.get("Subject")), "Re: [bart] spoed inbraak in %s (ref %s)"
          % (NB, ref), "Subject of the update")
    ut, ua = parts(u) if u else (None, None)
    ubody = ut.get_content() if ut is not None else ""
    t.ok("Update 1 van melding %s" % ref in ubody and FOLLOW in ubody,
         "the update's text says so and has the follow-up", ubody)
    upay = json.loads(ua.get_content()) if ua is not None else {}
    t.ok(upay.get("status") == "updated" and upay.get("id") == rid and
         FOLLOW in [c.get("text") for c in upay.get("corroborations", [])],
         "the attached report is the updated one")
    acks = [e for e in alice.messages(room) if "doorgezet" in e["body"]]
    t.is_(len(acks), 1, "the room is not told again about an update")

    # 3. A broken light while the server answers 550: dead-lettered,
    # then retried by the operator; the TLS desk never sends in clear.
    box.set_mode("550")
    alice.say(room, LIGHT)
    alice.say(room, CHAT)

    def dead():
        return [r for r in outbox(db) if r["desk"] == "gemeente-mail" and
                r["state"] == "dead"]
    t.ok(wait_until(dead, 30), "a 550 answer dead-letters the report",
         outbox(db))
    rc, out = bartctl(cfg, "outbox", "list", "dead")
    t.ok(rc == 0 and "gemeente-mail" in out, "bartctl outbox list dead "
         "shows it", out)
    box.set_mode("ok")
    rows = dead()
    rc, out = bartctl(cfg, "outbox", "retry", str(rows[0]["id"]) if rows
                      else "0")
    t.is_(rc, 0, "bartctl outbox retry ID", ) or t.diag(out)
    t.ok(box.wait_count(3, 40), "after the retry the e-mail arrives",
         bartd.tail())
    g = box.messages()[2] if len(box.messages()) > 2 else None
    t.is_(g and g["rcpt_tos"], ["meldingen@gemeente.example"],
          "to the municipality")
    t.ok(g and g["auth"] and ("bart-wijk", True) in box.logins,
         "after logging in with the password from the file",
         box.logins)
    t.is_(str(g["msg"].get("Subject")) if g else None,
          "[bart] normaal openbare-ruimte in %s (ref %s)" %
          (NB, g["msg"].get("X-Bart-Report-Id", "")[:8] if g else ""),
          "Subject of the broken light")
    tls = [r for r in outbox(db) if r["desk"] == "gemeente-tls"]
    t.ok(tls and tls[0]["state"] == "pending" and
         re.search(r"SSL|TLS", tls[0]["last_error"] or ""),
         "the desk that requires STARTTLS does not send to a server "
         "without it", tls)
    time.sleep(2)
    t.ok(not any("tls@gemeente.example" in x["rcpt_tos"]
                 for x in box.messages()) and
         not any("tls@gemeente.example" in str(r)
                 for r in box.refused), "nothing went to it in the clear")
    t.is_(len(box.messages()), 3, "three e-mails in all: no chit-chat")
    t.ok("smtp-secret-pw" not in bartd.logtext(False),
         "the SMTP password is not in the log")
    t.ok(bartd.running(), "bartd is still running")
except Exception:       # noqa: report, then clean up
    import traceback
    t.ok(False, "test ran without exceptions", traceback.format_exc())
finally:
    if bartd is not None:
        if t.failed:
            t.diag("bartd log (tail):\n" + bartd.tail(60))
        bartd.stop()
    for p in people:
        p.stop()
    srv.stop()
    box.close()
sys.exit(t.done())
