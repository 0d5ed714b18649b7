"""xmpp-e2e: residents chat in an XMPP room; bartd forwards what matters.

Prosody (MUC + muc_mam) on a free loopback port, bartd with a small rule
set (tests/xmpp-rules), a resident (alice) who posts, someone who took
the nick "bart" first, and an HTTP desk receiver. Checks: no replay of
room history from before bart's first join, the nick conflict, the
reports (category, urgency, desk, Idempotency-Key = report id, sender
pseudonymous), nothing for chit-chat, the 112 reminder and the
acknowledgements in the room (only after the desk took the report), and
catch-up from the archive of what was said while bartd was down."""

import os
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
LIGHT = "De lantaarnpaal bij de speeltuin is al een week kapot."
CHAT = "Wie heeft er zin in een barbecue zaterdag? Ik neem salades mee."
EARLY = "Er wordt nu ingebroken, net gezien! inbreken bij de bakker"
WHILE_DOWN = "Op dit moment is er een vechtpartij bij de garage van nummer 3"

dir = barttest.workdir("xmpp-e2e")
srv = prosody.Prosody(os.path.join(dir, "prosody"))
desk = barttest.DeskReceiver()
bartd = None
people = []


def bart_says(who, pred, timeout=20):
    return who.wait_message(lambda e: e["nick"].startswith("bart") and
                            e["nick"] != "bart" and pred(e), timeout)


try:
    srv.start()
    room = srv.room("buurtpreventie-test")
    alice = prosody.Resident(srv, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")
    # Someone already sits in the room as "bart".
    impostor = prosody.Resident(srv, "impostor", "imp-pw").start()
    people.append(impostor)
    impostor.join(room, "bart")
    # Said before bart ever joined: history, not to be replayed.
    early = alice.say(room, EARLY)
    t.ok(early is not None and early["stanza_id"],
         "the room echoes a resident's message with a stanza-id")

    acct = srv.bart_account("bartbot", "bot-secret-pw", [room])
    # A second account (its own libstrophe context and thread) in a
    # second neighbourhood's room.
    room2 = srv.room("andere-wijk")
    bob = prosody.Resident(srv, "bob", "bob-pw").start()
    people.append(bob)
    bob.join(room2, "bob")
    acct2 = srv.bart_account("bartbot2", "bot2-pw", [room2],
                             neighbourhood="anderewijk")
    cfg = barttest.bart_config(dir, os.path.join(barttest.srcdir(), "tests",
                                                 "xmpp-rules"), desk.url,
                               xmpp=[acct, acct2],
                               neighbourhoods=[
                                   {"id": "testwijk", "name": "Testwijk"},
                                   {"id": "anderewijk",
                                    "name": "Andere wijk"}])
    bartd = barttest.Bartd(cfg).start()
    joined = bartd.wait_log(r"joined buurtpreventie-test@\S+ as (bart\S*)",
                            30)
    t.ok(joined is not None, "bartd joins the room", bartd.tail())
    t.ok(joined is not None and joined.group(1) != "bart",
         "with another nick, since 'bart' is taken (%s)" %
         (joined.group(1) if joined else None))
    t.ok(bartd.wait_log(r"starts at|caught up", 20) is not None,
         "and takes its starting position in the archive")
    t.ok("bot-secret-pw" not in bartd.logtext(False),
         "the password is not in the log")

    b = alice.say(room, BREAKIN)
    lamp = alice.say(room, LIGHT)
    chat = alice.say(room, CHAT)
    t.ok(b and lamp and chat, "alice posts a break-in, a broken street "
         "light and chit-chat")

    desk.wait_count(2, 30)
    time.sleep(3)       # anything else (chit-chat, history) would come now
    posts = desk.accepted()
    by_path = {p["path"]: p for p in posts}
    t.is_(sorted(by_path), ["/gemeente", "/politie-spoed"],
          "two reports: the break-in to the control room, the light to the "
          "municipality")
    t.is_(len(posts), 2, "nothing else reached a desk (no chit-chat, no "
          "replay of the message from before bart joined)")

    sp = by_path.get("/politie-spoed", {}).get("body") or {}
    gm = by_path.get("/gemeente", {}).get("body") or {}
    t.is_((sp.get("category"), sp.get("urgency")), ("inbraak", "spoed"),
          "break-in: category inbraak, urgency spoed")
    t.is_((gm.get("category"), gm.get("urgency")),
          ("openbare-ruimte", "normaal"),
          "street light: category openbare-ruimte, urgency normaal")
    for name, p in (("break-in", by_path.get("/politie-spoed")),
                    ("street light", by_path.get("/gemeente"))):
        p = p or {"headers": {}, "body": {}}
        t.ok(p["body"] and p["headers"].get("idempotency-key") ==
             p["body"].get("id"), "%s: Idempotency-Key is the report id" %
             name, p["headers"])
    t.is_(sp.get("text"), BREAKIN, "the report carries the original text")
    t.is_((sp.get("network"), sp.get("room")), ("xmpp", room),
          "network and room")
    t.ok(b is not None and b["stanza_id"] in (sp.get("message_ids") or []),
         "message id is the room's stanza-id", sp.get("message_ids"))
    t.ok(sp.get("sender") and "alice" not in str(sp.get("sender")),
         "the sender is pseudonymous", sp.get("sender"))
    nb = sp.get("neighbourhood") or {}
    t.is_(nb.get("id"), "testwijk", "the neighbourhood of the room")

    # What the room is told.
    rid = sp.get("id", "?")
    spoed = bart_says(alice, lambda e: "112" in e["body"])
    t.ok(spoed is not None, "the room is reminded to call 112")
    t.ok(spoed is not None and b is not None and
         spoed["reply_to"] == b["stanza_id"],
         "as a reply (XEP-0461) to the break-in message",
         spoed and spoed["reply_to"])
    acks = {}
    for p in posts:
        rid_ = p["body"]["id"]
        acks[rid_] = bart_says(alice, lambda e, r=rid_: "doorgezet" in
                               e["body"] and r[:8] in e["body"])
    t.ok(acks and all(acks.values()), "each delivered report is acknowledged in "
         "the room with its ref", [a and a["body"] for a in acks.values()])
    t.ok(acks and all(a is None or a["time"] >= p["time"] for p, a in
             zip(posts, acks.values())),
         "acknowledgements come after the desk took the report")
    t.ok(acks and all(a and a["origin_id"] for a in acks.values()),
         "bart's messages carry an origin-id (XEP-0359)")
    t.ok(acks and not any(chat["stanza_id"] == (e["reply_to"] or "") for e in
                 alice.messages(room) if e["nick"].startswith("bart")),
         "nothing is said about the chit-chat")

    # bartd goes away; the room keeps talking; bartd catches up.
    # The second account reports from its own room.
    text2 = "Er is nu een vechtpartij bij de snackbar!"
    b2 = bob.say(room2, text2)
    t.ok(desk.wait(lambda rs: any(r["body"] and r["body"].get("text") ==
                                  text2 for r in rs), 30),
         "the second account reports from its own room")
    r2 = [r["body"] for r in desk.accepted() if r["body"]["text"] == text2]
    t.ok(r2 and r2[0]["room"] == room2 and
         r2[0]["neighbourhood"]["id"] == "anderewijk" and
         b2["stanza_id"] in r2[0]["message_ids"],
         "with its room, neighbourhood and stanza-id", r2)
    n_before = 3

    rc = bartd.stop()
    down = alice.say(room, WHILE_DOWN)
    alice.say(room, CHAT + " (2)")
    bartd.start()
    t.ok(desk.wait_count(n_before + 1, 40), "after a restart, a fight posted while "
         "bartd was down reaches the desk", bartd.tail())
    time.sleep(3)
    posts = desk.accepted()
    late = [p for p in posts if p["body"]["text"] == WHILE_DOWN]
    t.is_(len(late), 1, "exactly once")
    t.ok(late and late[0]["path"] == "/politie-spoed" and
         late[0]["body"]["category"] == "geweld" and
         down and down["stanza_id"] in late[0]["body"]["message_ids"],
         "as a geweld report to the control room, with its stanza-id")
    t.is_(len(posts), n_before + 1,
          "and nothing is delivered twice after the restart")
    t.ok(bart_says(alice, lambda e: "112" in e["body"] and down and
                   e["reply_to"] == down["stanza_id"]) is not None,
         "the room gets the 112 reminder for the caught-up message")
    bot_msgs = [e for e in alice.messages(room) if e["nick"] != "alice" and
                e["nick"] != "bart"]
    txn = [e["origin_id"] for e in bot_msgs if e["origin_id"]]
    t.is_(len(txn), len(set(txn)), "bart said nothing twice in the room")
    t.ok(bartd.running(), "bartd is still running")
except Exception as e:      # noqa: report, then clean up
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
    desk.close()
sys.exit(t.done())
