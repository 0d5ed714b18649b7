"""desk-matrix-room: a desk that reads reports in a Matrix room.

A real Synapse (tests/lib/matrix_world.py): alice posts in the
neighbourhood's room; dora (desk staff) has a room of her own that bart
is invited to and that the config lists with desk: true. Checks that the
report appears there as one m.notice from bart (urgency, category,
neighbourhood, ref, the message), that the neighbourhood room is told,
and that what dora says in the desk room, however alarming, is never a
report."""

import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."),
                                "tests", "lib"))
import barttest  # noqa: E402
from matrix_world import World, decide  # noqa: E402

t = barttest.Tap()
w = None
BREAKIN = ("er is nu iemand aan het inbreken bij nr 12, ik zie hem met een "
           "koevoet bij het raam")
STAFF = "Eenheid onderweg. Is hij nu nog aan het inbreken bij nr 12?"
LIGHT = ("Straatlantaarn bij de speeltuin is al een week kapot, heel donker "
         "daar")


def reports(db):
    c = sqlite3.connect(db, timeout=10)
    try:
        return [r[0] for r in c.execute("SELECT id FROM reports")]
    finally:
        c.close()


def main():
    global w
    dec = decide([BREAKIN, STAFF, LIGHT])
    if dec[0] != ("inbraak", "spoed") or dec[1][0] is None or \
            dec[2] != ("openbare-ruimte", "normaal"):
        t.skip_all("the rules in rules/ no longer decide the test's "
                   "messages as expected: %r" % (dec,))
    w = World("desk-matrix-room", t)
    alice, bot = w.alice, w.bot
    dora = w.hs.register("dora")
    room = alice.create_room("Lombok buurtpreventie", invite=[bot.user_id])
    desk_room = dora.create_room("Meldkamer", invite=[bot.user_id])
    w.add_room(room, "lombok")
    w.rooms.append({"id": desk_room, "desk": True})
    desks = [{"id": "politie-spoed", "name": "Meldkamer",
              "type": "matrix-room", "account": "mx", "room": desk_room},
             {"id": "politie", "type": "webhook",
              "url": w.desk.url + "politie"},
             {"id": "gemeente", "type": "webhook",
              "url": w.desk.url + "gemeente"}]
    w.write_config(extra={"desks": desks})
    db = os.path.join(w.dir, "state", "bart.db")
    up = w.start_bartd()
    t.ok(up, "bartd gets in sync with Synapse", w.bartd.tail())
    if not up:
        return
    t.ok(barttest.wait_until(
        lambda: bot.user_id in dora.joined_members(desk_room), 30),
        "bart joins the desk's room")

    alice.send_text(room, BREAKIN)
    got = barttest.wait_until(lambda: w.notices(dora, desk_room), 40, 0.5)
    t.ok(got, "the report appears in the desk's room", w.bartd.tail())
    body = got[0]["content"]["body"] if got else ""
    t.diag("what the desk room reads:\n" + body)
    rs = reports(db)
    ref = rs[0][:8] if rs else "?"
    t.is_(body.split("\n")[0], "[SPOED] inbraak in Lombok (ref %s)" % ref,
          "urgency, category, neighbourhood and ref on the first line")
    t.ok('"%s"' % BREAKIN in body, "the resident's message, quoted")
    t.ok(barttest.wait_until(lambda: any(
        "doorgezet naar Meldkamer" in e["content"]["body"]
        for e in w.notices(alice, room)), 30, 0.5),
        "the neighbourhood room is told")

    dora.send_text(desk_room, STAFF)
    time.sleep(1)
    alice.send_text(room, LIGHT)
    t.ok(w.desk.wait_count(1, 40), "a later message in the neighbourhood "
         "room reaches its desk (so bart has read past the staff's)")
    time.sleep(2)
    t.is_(len(reports(db)), 2, "what desk staff say is not reported")
    t.is_([p["path"] for p in w.desk.posts()], ["/gemeente"],
          "and reaches no desk")
    t.is_(len(w.notices(dora, desk_room)), 1, "one message in the desk "
          "room, and no reply to the staff")


try:
    main()
except Exception:           # a crash of the test is a failure, not a skip
    import traceback
    t.ok(False, "test ran to the end", traceback.format_exc())
    if w and w.bartd:
        t.diag(w.bartd.tail(40))
finally:
    if w:
        w.close()
sys.exit(t.done())
