"""xmpp-hostile: a server that misbehaves cannot crash or fool bartd.

A small fake XMPP server (plain sockets, SASL PLAIN, one MUC room) lets
bartd log in and join, then sends what no decent server would: messages
without a sender, from rooms bart is not in, empty bodies, ids of 10 kB,
a 2 MB body, archive results for queries never asked, stanza-ids
claimed by someone else, garbage timestamps, error stanzas without an
error. bartd must report only the real break-ins (with the room's
stanza-id, cut to 64 KiB), answer pings, and reconnect after the server
sends invalid UTF-8 (libstrophe's parser stops there, answers nothing,
and bartd's own pings find the connection dead)."""

import base64
import os
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."),
                                "tests", "lib"))
import barttest  # noqa: E402
from barttest import Tap  # noqa: E402

t = Tap()
if not os.path.exists(os.path.join(barttest.builddir(), "src", "bartd")):
    t.skip_all("src/bartd is not built")

DOMAIN = "localhost"
ROOM = "wijk@muc.localhost"
STREAM = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' id='s%d' "
          "from='localhost' version='1.0'>")
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


def q(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


class Conn:
    """One client connection: negotiates, then runs the script."""

    def __init__(self, server, sock, n):
        self.srv = server
        self.sock = sock
        self.n = n
        self.stanzas = []          # ET elements received after login
        self.nick = None
        self.pings_answered = []
        self.lock = threading.Lock()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def parser(self):
        p = ET.XMLPullParser(events=("start", "end"))
        return p

    def run(self):
        p = self.parser()
        depth = 0
        authed = False
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                p.feed(data)
                for ev, el in p.read_events():
                    if ev == "start":
                        depth += 1
                        if depth == 1:          # stream header
                            self.send(STREAM % self.n)
                            if not authed:
                                self.send("<stream:features><mechanisms "
                                          "xmlns='%s'><mechanism>PLAIN"
                                          "</mechanism></mechanisms>"
                                          "</stream:features>" % SASL)
                            else:
                                self.send(
                                    "<stream:features><bind xmlns='urn:"
                                    "ietf:params:xml:ns:xmpp-bind'/>"
                                    "</stream:features>")
                        continue
                    depth -= 1
                    if depth != 1:
                        continue
                    tag = el.tag.split("}")[-1]
                    if tag == "auth":
                        raw = base64.b64decode(el.text or "")
                        self.srv.auths.append(raw.split(b"\0"))
                        self.send("<success xmlns='%s'/>" % SASL)
                        authed = True
                        p = self.parser()       # the client restarts
                        depth = 0
                        break
                    self.stanza(el)
        except (OSError, ET.ParseError):
            return
        finally:
            self.sock.close()

    def stanza(self, el):
        tag = el.tag.split("}")[-1]
        typ = el.get("type")
        sid = el.get("id")
        with self.lock:
            self.stanzas.append(el)
        if tag == "iq" and el.find("{urn:ietf:params:xml:ns:xmpp-bind}bind") \
                is not None:
            self.send("<iq type='result' id='%s'><bind xmlns='urn:ietf:"
                      "params:xml:ns:xmpp-bind'><jid>bot@localhost/fake"
                      "</jid></bind></iq>" % q(sid))
        elif tag == "iq" and el.find("{urn:ietf:params:xml:ns:xmpp-session}"
                                     "session") is not None:
            self.send("<iq type='result' id='%s'/>" % q(sid))
        elif tag == "iq" and el.find("{urn:xmpp:mam:2}query") is not None:
            after = el.find("{urn:xmpp:mam:2}query/"
                            "{http://jabber.org/protocol/rsm}set/"
                            "{http://jabber.org/protocol/rsm}after")
            if after is not None and self.n > 1:
                # A broken archive: "not complete", but no step forward.
                self.send("<iq type='result' id='%s' from='%s'><fin xmlns="
                          "'urn:xmpp:mam:2'><set xmlns='http://jabber.org/"
                          "protocol/rsm'><last>%s</last></set></fin></iq>" %
                          (q(sid), ROOM, q(after.text or "")))
                return
            self.send("<iq type='result' id='%s' from='%s'><fin xmlns="
                      "'urn:xmpp:mam:2' complete='true'><set xmlns='http://"
                      "jabber.org/protocol/rsm'/></fin></iq>" % (q(sid), ROOM))
        elif tag == "iq" and el.find("{urn:xmpp:ping}ping") is not None:
            self.send("<iq type='result' id='%s' from='%s'/>" %
                      (q(sid), q(el.get("to") or DOMAIN)))
        elif tag == "iq" and typ == "result":
            with self.lock:
                self.pings_answered.append(sid)
        elif tag == "presence" and (el.get("to") or "").startswith(ROOM):
            self.nick = el.get("to").split("/", 1)[1]
            if typ == "unavailable":
                return
            self.send("<presence from='%s/%s'><x xmlns='http://jabber.org/"
                      "protocol/muc#user'><item affiliation='none' role="
                      "'participant'/><status code='110'/></x></presence>" %
                      (ROOM, q(self.nick)))
            self.srv.joined.set()


class FakeServer:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.auths = []
        self.joined = threading.Event()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        n = 0
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            n += 1
            c = Conn(self, s, n)
            self.conns.append(c)
            threading.Thread(target=c.run, daemon=True).start()

    def current(self):
        return self.conns[-1]

    def close(self):
        self.lsock.close()
        for c in self.conns:
            try:
                c.sock.close()
            except OSError:
                pass


BREAKIN = "Ze zijn nu aan het inbreken bij nummer %d"


def groupchat(body, nick="eve", sid=None, extra="", frm=None, mid="m1"):
    frm = frm if frm is not None else "%s/%s" % (ROOM, nick)
    s = "<message type='groupchat' id='%s'%s>" % (
        q(mid), " from='%s'" % q(frm) if frm else "")
    if body is not None:
        s += "<body>%s</body>" % q(body)
    if sid:
        s += "<stanza-id xmlns='urn:xmpp:sid:0' by='%s' id='%s'/>" % (
            ROOM, q(sid))
    return s + extra + "</message>"


dir = barttest.workdir("xmpp-hostile")
fake = FakeServer()
desk = barttest.DeskReceiver()
bartd = None

try:
    pw = barttest.write_secret(os.path.join(dir, "bot.pass"), "hostile-pw")
    acct = {"id": "fake", "jid": "bot@localhost", "password_file": pw,
            "host": "127.0.0.1", "port": fake.port, "tls": "plaintext",
            "nick": "bart", "ping_interval": 2, "ping_timeout": 5,
            "rooms": [{"id": ROOM, "neighbourhood": "testwijk"}]}
    cfg = barttest.bart_config(dir, os.path.join(barttest.srcdir(), "tests",
                                                 "xmpp-rules"), desk.url,
                               xmpp=[acct], group_window=0,
                               room_reports_per_hour=0)
    bartd = barttest.Bartd(cfg).start()
    t.ok(fake.joined.wait(20), "bartd logs in to the fake server and joins",
         bartd.tail())
    t.ok(fake.auths and fake.auths[0][-1] == b"hostile-pw",
         "with the password from its file")
    t.ok(bartd.wait_log(r"starts at", 10) is not None,
         "and asks the archive for its position")
    c = fake.current()
    big = "ë" * (2 * 1024 * 1024 // 2)
    hostile = [
        groupchat(BREAKIN % 1, frm=""),                     # no sender
        groupchat(BREAKIN % 2, frm=ROOM),                   # the room itself
        groupchat(BREAKIN % 3, frm="other@muc.localhost/x"),  # not our room
        groupchat(BREAKIN % 4, nick="bart"),                # bart's own nick
        groupchat("", sid="e1"),                            # empty body
        groupchat(None, sid="e2", extra="<subject>" + BREAKIN % 5 +
                  "</subject>"),                            # subject change
        groupchat(BREAKIN % 6, sid="x" * 10000, mid="y" * 10000),
        groupchat(BREAKIN % 7 + " " + big, sid="big-1"),
        groupchat(BREAKIN % 8, sid="d1",
                  extra="<delay xmlns='urn:xmpp:delay' stamp='gisteren'/>"
                  "<reply xmlns='urn:xmpp:reply:0' id='%s'/>" % ("r" * 5000)),
        "<message from='%s' type='groupchat'><result xmlns='urn:xmpp:mam:2' "
        "queryid='never-asked' id='a1'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<message from='%s/mallory' type='groupchat'><body>%s</body>"
        "</message></forwarded></result></message>" % (ROOM, ROOM,
                                                       BREAKIN % 9),
        "<message from='%s'><result xmlns='urn:xmpp:mam:2'/></message>" % ROOM,
        groupchat(BREAKIN % 10, sid=None, extra="<stanza-id xmlns='urn:"
                  "xmpp:sid:0' by='mallory@localhost' id='spoofed'/>",
                  mid="plain-id-10"),
        "<message type='error' from='%s'/>" % ROOM,
        "<presence type='error' from='%s/bart'/>" % ROOM,
        "<presence from='%s/eve'><x xmlns='http://jabber.org/protocol/"
        "muc#user'><item affiliation='none' role='participant'/></x>"
        "</presence>" % ROOM,
        "<iq type='get' id='u1' from='eve@localhost/x'><query xmlns='jabber:"
        "iq:version'/></iq>",
        "<iq type='get' id='p1' from='localhost'><ping xmlns='urn:xmpp:"
        "ping'/></iq>",
        "<iq type='set' from='localhost'/>",
        "<message><body><a><b><c>deep</c></b></a></body></message>",
        groupchat(BREAKIN % 13, nick="n" * 3000, sid="long-nick"),
        groupchat(BREAKIN % 11, sid="good-11"),
    ]
    for s in hostile:
        c.send(s)
    desk.wait(lambda rs: any(BREAKIN % 11 == (r["body"] or {}).get("text")
                             for r in rs), 30)
    time.sleep(2)
    texts = {}
    for r in desk.posts():
        b = r["body"] or {}
        texts.setdefault(b.get("text", "")[:60], []).append(b)
    got = sorted(k for k in texts)

    def one(n):
        return [b for k, v in texts.items() for b in v
                if k.startswith(BREAKIN % n) and
                (len(k) == len(BREAKIN % n) or not k[len(BREAKIN % n)]
                 .isdigit())]
    t.ok(one(11), "the real break-in after all that is reported", got)
    for n, why in ((1, "without a sender"), (2, "from the room itself"),
                   (3, "from a room bart is not in"), (4, "from bart's nick"),
                   (9, "in an archive result nobody asked for")):
        t.ok(not one(n), "nothing is reported for a message %s" % why)
    r6 = one(6)
    t.ok(r6 and all(len(i) < 256 for i in r6[0]["message_ids"]),
         "10 kB ids are not taken as message ids",
         r6 and [len(i) for i in r6[0]["message_ids"]])
    r7 = one(7)
    t.ok(r7 and len(r7[0]["text"].encode()) <= 64 * 1024 and
         r7[0]["message_ids"] == ["big-1"],
         "a 2 MB body is reported cut to 64 KiB",
         r7 and len(r7[0]["text"].encode()))
    r13 = one(13)
    t.ok(r13 and r13[0]["message_ids"] == ["long-nick"] and
         r13[0]["sender"], "a 3 kB nick is reported under a pseudonym")
    r8 = one(8)
    t.ok(r8 and r8[0]["message_ids"] == ["d1"],
         "a garbage timestamp and a 5 kB reply id do no harm")
    r10 = one(10)
    t.ok(r10 and r10[0]["message_ids"] == ["msgid:plain-id-10"],
         "a stanza-id claimed by someone else is not trusted",
         r10 and r10[0]["message_ids"])
    answers = [s for s in c.stanzas if s.tag.endswith("iq") and
               s.get("id") in ("u1", "p1")]
    t.ok(any(a.get("id") == "p1" and a.get("type") == "result"
             for a in answers), "a ping from the server is answered")
    t.ok(any(a.get("id") == "u1" and a.get("type") == "error"
             for a in answers), "an unknown request gets an error")
    t.ok(bartd.running(), "bartd is running")

    # A broken stream: invalid UTF-8. bartd drops it and comes back.
    n = len(fake.conns)
    fake.joined.clear()
    c.send(b"<message type='groupchat' from='" + ROOM.encode() +
           b"/eve'><body>\xff\xfe kapot</body></message>")
    t.ok(barttest.wait_until(lambda: len(fake.conns) > n, 30),
         "after invalid UTF-8 from the server bartd reconnects (its pings "
         "find the stream dead)", bartd.tail())
    t.ok(fake.joined.wait(20), "and joins again")
    t.ok(bartd.wait_log(r"does not move past", 10) is not None,
         "an archive that pages in place does not make bartd loop")
    fake.current().send(groupchat(BREAKIN % 12, sid="good-12"))
    t.ok(desk.wait(lambda rs: any(BREAKIN % 12 == (r["body"] or {})
                                  .get("text") for r in rs), 20),
         "and reports again")
    t.ok(bartd.running(), "bartd is still running")
    t.ok("AddressSanitizer" not in bartd.logtext(False) and
         "runtime error" not in bartd.logtext(False),
         "no sanitizer reports")
    t.ok("hostile-pw" not in bartd.logtext(False),
         "the password is not in the log")
except Exception:      # noqa: report, then clean up
    import traceback
    t.ok(False, "test ran without exceptions", traceback.format_exc())
finally:
    if bartd is not None:
        if t.failed:
            t.diag("bartd log (tail):\n" + bartd.tail(40))
        bartd.stop()
    fake.close()
    desk.close()
sys.exit(t.done())
