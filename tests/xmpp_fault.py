"""xmpp-fault: nothing lost, nothing twice.

Two residents keep posting (break-ins, broken lights, chit-chat; every
text carries a unique tag) while the desk answers 503, bartd is killed
with SIGKILL and restarted (twice: once with deliveries failing, once
with them succeeding), and Prosody is stopped and started again. At the
end every matching message reached its desk under exactly one report,
no chit-chat reached a desk or the database, and the counts are printed:
posted, delivered, duplicated, lost."""

import glob
import os
import random
import re
import sqlite3
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."),
                                "tests", "lib"))
import barttest  # noqa: E402
from barttest import Tap, wait_until  # noqa: E402

t = Tap()
prosody = barttest.xmpp_test(t)

MATCHING = [
    ("/politie-spoed", "Ze zijn nu aan het inbreken bij nummer {n}!"),
    ("/gemeente", "De lantaarnpaal op hoek {n} is kapot."),
]
CHIT = "Gezellig, de barbecue op plein {n} was leuk"
TAG = re.compile(r"\[t(\d+)\]")


class Posters:
    """Residents posting in turn in a thread until paused."""

    def __init__(self, residents, room):
        self.residents = residents
        self.room = room
        self.n = 0
        self.matching = {}      # tag -> (desk path, stanza-id)
        self.chit = {}          # tag -> stanza-id
        self.unconfirmed = []
        self.run = threading.Event()
        self.quit = False
        self.idle = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        rnd = random.Random(4711)
        while not self.quit:
            if not self.run.is_set():
                self.idle.set()
                self.run.wait(0.2)
                continue
            self.idle.clear()
            self.n += 1
            tag = "t%d" % self.n
            who = self.residents[self.n % len(self.residents)]
            if rnd.random() < 0.5:
                path, text = rnd.choice(MATCHING)
                body = text.format(n=self.n) + " [%s]" % tag
            else:
                path, body = None, CHIT.format(n=self.n) + " [%s]" % tag
            echo = who.say(self.room, body, timeout=10)
            if echo is None:
                self.unconfirmed.append(tag)
            elif path:
                self.matching[tag] = (path, echo["stanza_id"])
            else:
                self.chit[tag] = echo["stanza_id"]
            time.sleep(0.2)

    def pause(self):
        self.run.clear()
        self.idle.wait(15)

    def resume(self):
        self.idle.clear()
        self.run.set()


dir = barttest.workdir("xmpp-fault")
srv = prosody.Prosody(os.path.join(dir, "prosody"))
desk = barttest.DeskReceiver(mode="503")
bartd = None
people = []
posters = None

try:
    srv.start()
    room = srv.room("fault-test")
    for name in ("anna", "bert"):
        r = prosody.Resident(srv, name, name + "-pw").start()
        r.join(room, name)
        people.append(r)
    acct = srv.bart_account("bartbot", "bot-pw", [room], ping_interval=3,
                            ping_timeout=3)
    # Every matching message its own report (no merging of follow-ups,
    # no cap on reports per room), so every one travels the outbox.
    cfg = barttest.bart_config(dir, os.path.join(barttest.srcdir(), "tests",
                                                 "xmpp-rules"), desk.url,
                               xmpp=[acct], group_window=0,
                               room_reports_per_hour=0)
    bartd = barttest.Bartd(cfg).start()
    t.ok(bartd.wait_log(r"starts at|caught up", 30) is not None,
         "bartd joins and takes its position", bartd.tail())

    posters = Posters(people, room)
    posters.resume()
    time.sleep(5)
    t.ok(desk.wait(lambda rs: any(r["status"] == 503 for r in rs), 20),
         "the desk is refusing (503) while residents post")
    bartd.kill9()
    time.sleep(3)
    bartd.start()
    t.ok(bartd.wait_log(r"joined", 30) is not None,
         "bartd is back after kill -9 (desk still 503)")
    time.sleep(4)
    desk.set_mode("ok")
    time.sleep(4)
    bartd.kill9()       # deliveries are flowing now
    time.sleep(2)
    bartd.start()
    t.ok(bartd.wait_log(r"joined", 30) is not None,
         "bartd is back after a second kill -9 (desk accepting)")
    time.sleep(3)

    posters.pause()
    srv.stop()
    time.sleep(2)
    srv.start()
    for r in people:
        r.wait_joined(room, 40)
    posters.resume()
    t.ok(bartd.wait_log(r"disconnected|cannot connect", 20) is not None,
         "bartd noticed that Prosody went away")
    time.sleep(6)
    desk.set_mode("503")
    time.sleep(3)
    desk.set_mode("ok")
    time.sleep(3)
    posters.pause()
    posters.quit = True

    want = dict(posters.matching)
    t.ok(len(want) >= 10 and len(posters.chit) >= 5,
         "residents posted enough (%d matching, %d chit-chat)" %
         (len(want), len(posters.chit)))

    def tags_of(reqs):
        """tag -> list of (report id, request) for every tag in a POST's
        text or merged follow-ups (corroborations)."""
        out = {}
        for r in reqs:
            b = r["body"] or {}
            texts = [b.get("text") or ""] + \
                [c.get("text") or "" for c in b.get("corroborations") or []]
            for m in TAG.finditer("\n".join(texts)):
                out.setdefault("t" + m.group(1), []).append((b.get("id"), r))
        return out

    def all_in(reqs):
        got = tags_of([r for r in reqs if r["status"] == 200])
        return all(tag in got for tag in want)
    desk.wait(all_in, 120)
    time.sleep(5)       # room for late duplicates

    got = tags_of(desk.accepted())
    lost = sorted(set(want) - set(got), key=lambda s: int(s[1:]))
    # Twice = in two reports, or twice within one POST (merged twice).
    dup = sorted(tag for tag, rs in got.items()
                 if len({rid for rid, _ in rs}) > 1 or
                 len(rs) > len({id(r) for _, r in rs}))
    redelivered = sum(len(rs) - len({rid for rid, _ in rs})
                      for rs in got.values())
    stray = sorted(tag for tag in got if tag not in want)
    wrong_desk = sorted(tag for tag, rs in got.items() if tag in want and
                        any(r["path"] != want[tag][0] for _, r in rs))
    bad_key = [r for r in desk.accepted() if r["body"] and
               r["headers"].get("idempotency-key") != r["body"].get("id")]
    posted = len(want) + len(posters.chit)
    t.diag("posted %d (%d matching, %d chit-chat, %d unconfirmed), "
           "delivered %d, duplicated %d, lost %d, re-deliveries with the "
           "same Idempotency-Key %d, desk answers 503: %d" %
           (posted, len(want), len(posters.chit), len(posters.unconfirmed),
            len(set(got) & set(want)), len(dup), len(lost), redelivered,
            len([r for r in desk.posts() if r["status"] == 503])))
    t.ok(not lost, "every matching message reached the desk", lost)
    t.ok(not dup, "no message became two reports", dup)
    t.ok(not [tag for tag in stray if tag in posters.chit],
         "no chit-chat reached a desk", stray)
    t.ok(not wrong_desk, "each report went to its desk", wrong_desk)
    t.ok(not bad_key, "every POST has Idempotency-Key = report id")

    # The room heard of each delivery: an acknowledgement per report with
    # its ref, in the room's archive (residents may have been offline).
    rids = {r["body"]["id"][:8] for r in desk.accepted() if r["body"]}
    anna = people[0]
    rx = re.compile(r"doorgezet.*ref ([0-9a-f]{8})")

    def acks():
        out = {}
        for e in anna.archive(room):
            m = rx.search(e["body"] or "")
            if e["nick"] == "bart" and m:
                out[m.group(1)] = out.get(m.group(1), 0) + 1
        return out
    barttest.wait_until(lambda: len(acks()) >= len(rids), 30, step=1)
    a = acks()
    missing = [rid for rid in rids if rid not in a]
    twice = [rid for rid, n in a.items() if n > 1]
    t.diag("acknowledgements in the room: %d reports, %d acknowledged, "
           "%d more than once" % (len(rids), len(a), len(twice)))
    t.ok(not missing, "every delivered report is acknowledged in the room",
         missing[:5])

    # Nothing unmatched is stored: no chit-chat text anywhere in the db.
    state = os.path.join(dir, "state")
    blobs = b""
    for f in glob.glob(os.path.join(state, "*")):
        if os.path.isfile(f):
            with open(f, "rb") as fh:
                blobs += fh.read()
    leaked = [tag for tag in posters.chit
              if ("[%s]" % tag).encode() in blobs]
    t.ok(blobs and not leaked, "chit-chat is not stored in the state "
         "directory", leaked[:10])
    t.ok(bartd.running(), "bartd is still running")
    t.ok("AddressSanitizer" not in bartd.logtext(False),
         "no sanitizer reports in bartd's log")
except Exception:      # noqa: report, then clean up
    import traceback
    t.ok(False, "test ran without exceptions", traceback.format_exc())
finally:
    if posters is not None:
        posters.quit = True
        posters.run.set()
    if bartd is not None:
        if t.failed:
            t.diag("bartd log (tail):\n" + bartd.tail(80))
        bartd.stop()
    for p in people:
        p.stop()
    srv.stop()
    desk.close()
sys.exit(t.done())
