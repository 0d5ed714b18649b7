"""desk-room: a desk that reads reports in a chat room of its own.

Prosody (MUC) with two rooms: the neighbourhood's, where alice posts,
and the control room's, where dora (desk staff) reads. bartd sits in
both; the control room is listed with desk: true. Checks the formatted
report and its update in the desk room, the acknowledgement in the
neighbourhood room, that what dora says in the desk room never becomes
a report (even when it reads like one), that a kill -9 and restart do
not post anything twice, and that bartd -n refuses a desk room that is
not listed or not marked desk: true."""

import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."),
                                "tests", "lib"))
import barttest  # noqa: E402
from barttest import Tap, wait_until  # noqa: E402

t = Tap()
prosody = barttest.xmpp_test(t)

BREAKIN = "Ze zijn nu aan het inbreken bij nummer 12, twee mannen!"
FOLLOW = "Nu zijn ze ook aan het inbreken bij nummer 14, richting het park"
STAFF = ["Eenheid onderweg. Zijn ze nu nog aan het inbreken bij nr 12?",
         "Ook: de lantaarnpaal bij het bureau is kapot"]

dir = barttest.workdir("desk-room")
srv = prosody.Prosody(os.path.join(dir, "prosody"))
hook = barttest.DeskReceiver()
bartd = None
people = []


def count(db, sql):
    c = sqlite3.connect(db, timeout=10)
    try:
        return c.execute(sql).fetchone()[0]
    finally:
        c.close()


try:
    srv.start()
    room = srv.room("buurtpreventie-room")
    desk_room = srv.room("meldkamer")
    alice = prosody.Resident(srv, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")
    dora = prosody.Resident(srv, "dora", "dora-pw").start()
    people.append(dora)
    dora.join(desk_room, "dora")

    acct = srv.bart_account("bartbot", "bot-secret-pw", [room])
    acct["rooms"].append({"id": desk_room, "desk": True})
    desks = [{"id": "politie-spoed", "name": "Meldkamer",
              "type": "xmpp-room", "account": acct["id"],
              "room": desk_room},
             {"id": "gemeente", "type": "webhook",
              "url": hook.url + "gemeente", "timeout": 5}]
    routes = [{"category": "inbraak", "desk": "politie-spoed"},
              {"category": "openbare-ruimte", "desk": "gemeente"}]
    rules = os.path.join(barttest.srcdir(), "tests", "xmpp-rules")
    nbs = [{"id": "testwijk", "name": "Testwijk",
            "location": [52.37403, 4.88969]}]

    # bartd -n: the room must be the account's and marked desk: true.
    bad = dict(acct, rooms=[{"id": room, "neighbourhood": "testwijk"},
                            {"id": desk_room, "neighbourhood": "testwijk"}])
    rc, out = barttest.run_bartd_check(barttest.bart_config(
        dir, rules, "", xmpp=[bad], desks=desks, routes=routes,
        neighbourhoods=nbs, name="bad1.yaml"))
    t.ok(rc == 1 and "must be marked desk: true" in out,
         "bartd -n: a desk room not marked desk: true is an error", out)
    bad = dict(acct, rooms=[{"id": room, "neighbourhood": "testwijk"}])
    rc, out = barttest.run_bartd_check(barttest.bart_config(
        dir, rules, "", xmpp=[bad], desks=desks, routes=routes,
        neighbourhoods=nbs, name="bad2.yaml"))
    t.ok(rc == 1 and "is not in the rooms of account" in out,
         "bartd -n: a desk room the account does not join is an error",
         out)

    cfg = barttest.bart_config(dir, rules, "", xmpp=[acct], desks=desks,
                               routes=routes, neighbourhoods=nbs)
    db = os.path.join(dir, "state", "bart.db")
    rc, out = barttest.run_bartd_check(cfg)
    t.is_(rc, 0, "bartd -n accepts the desk room") or t.diag(out)
    bartd = barttest.Bartd(cfg).start()
    t.ok(bartd.wait_log(r"joined %s" % desk_room, 30) and
         bartd.wait_log(r"joined %s" % room, 30),
         "bartd joins both rooms", bartd.tail())
    time.sleep(1)

    b = alice.say(room, BREAKIN)
    msg = dora.wait_message(lambda e: e["room"] == desk_room and
                            e["nick"] == "bart", 30)
    t.ok(msg is not None, "the report appears in the desk room",
         bartd.tail())
    body = msg["body"] if msg else ""
    t.diag("what the desk room reads:\n" + body)
    rid = ""
    c = sqlite3.connect(db, timeout=10)
    try:
        r = c.execute("SELECT id FROM reports").fetchone()
        rid = r[0] if r else ""
    finally:
        c.close()
    lines = body.split("\n")
    t.is_(lines[0], "[SPOED] inbraak in Testwijk (ref %s)" % rid[:8],
          "first line: urgency, category, neighbourhood, ref")
    t.ok('"%s"' % BREAKIN in body, "the resident's message, quoted")
    t.ok("Herkend aan:" in body and '"inbreken"' in body,
         "the words that matched")
    t.ok("Gezien " in body and room in body, "when and where it was seen")
    t.is_(msg and msg["origin_id"], "desk-%s-politie-spoed-v0" % rid,
          "origin-id derived from report, desk and version")
    ack = alice.wait_message(lambda e: e["nick"] == "bart" and
                             "doorgezet naar Meldkamer" in e["body"], 20)
    t.ok(ack is not None, "the neighbourhood room is told")

    alice.say(room, FOLLOW)
    upd = dora.wait_message(lambda e: e["room"] == desk_room and
                            e["nick"] == "bart" and
                            e["body"].startswith("UPDATE"), 30)
    t.ok(upd is not None and upd["body"].startswith(
        "UPDATE 1 van melding %s" % rid[:8]) and FOLLOW in upd["body"],
        "the follow-up arrives as an update to the same report",
        upd and upd["body"])

    # Desk staff talk in their room: never a report.
    for s in STAFF:
        dora.say(desk_room, s)
    time.sleep(4)
    t.is_(count(db, "SELECT count(*) FROM reports"), 1,
          "what desk staff say in the desk room is not reported")
    t.is_(len(hook.posts()), 0, "nothing reached the other desk")
    t.ok(bartd.wait_log(r"live message \S+ in %s" % desk_room, 5),
         "(bartd did see the staff's messages)")

    # kill -9 and restart: nothing is posted twice.
    bartd.kill9()
    bartd.start()
    t.ok(bartd.wait_log(r"joined %s" % desk_room, 30), "bartd is back")
    time.sleep(5)
    mine = [e for e in dora.messages(desk_room) if e["nick"] == "bart"]
    t.ok(len(mine) == 2, "the desk room got the report and its update "
         "once each", [e["body"][:40] for e in mine])
    t.is_(count(db, "SELECT count(*) FROM reports"), 1,
          "and the catch-up of the desk room made no report")
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
    hook.close()
sys.exit(t.done())
