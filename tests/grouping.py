"""grouping: five messages about one break-in make one report.

Prosody, bartd (group_window 600) and a desk. Five residents' messages
about the same break-in within a minute, one of them an XEP-0461 reply:
the desk receives one report (status new) and then updates of it with
the same id and Idempotency-Key (status updated) carrying the follow-ups
as corroborations, not five reports. A break-in in another room is a
report of its own. The room is acknowledged once."""

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

RULES = """\
- id: inbraak-nu
  title: Inbraak nu
  category: inbraak
  urgency: spoed
  keywords: [inbreken, inbreker, inbrekers, ingebroken]
  examples: ["ze zijn aan het inbreken"]
  counter-examples: ["barbecue"]
"""
MESSAGES = [
    ("alice", "Er zijn nu inbrekers bij nummer 12!"),
    ("bob", "Ik zie ze ook, twee inbrekers in de tuin"),
    ("alice", "De inbrekers gaan nu via de achterdeur naar binnen"),
    ("carol", "Politie is gebeld, inbreker rent weg richting park"),
]
REPLY = "Ja, die inbreker had een zwarte jas aan"

dir = barttest.workdir("grouping")
rules = os.path.join(dir, "rules")
os.makedirs(rules)
with open(os.path.join(rules, "r.yaml"), "w") as f:
    f.write(RULES)
srv = prosody.Prosody(os.path.join(dir, "prosody"))
desk = barttest.DeskReceiver()
bartd = None
people = {}

try:
    srv.start()
    room = srv.room("grouping-test")
    other = srv.room("grouping-other")
    acct = srv.bart_account("bartbot", "bart-pw", [room, other])
    cfg = barttest.bart_config(dir, rules, desk.url, xmpp=[acct],
                               group_window=600)
    bartd = barttest.Bartd(cfg).start()
    for who in ("alice", "bob", "carol"):
        people[who] = prosody.Resident(srv, who, who + "-pw").start()
        people[who].join(room, who)
    t.ok(bartd.wait_log(r"caught up|starts at", 30), "bartd joined")
    first = None
    for who, text in MESSAGES:
        sid = people[who].say(room, text)
        first = first or sid
        time.sleep(0.5)
    # A reply to the first message (XEP-0461).
    people["bob"].say(room, REPLY, reply_to=first["stanza_id"])
    people["alice"].join(other, "alice")
    time.sleep(1)
    people["alice"].say(other, "Ook hier wordt nu ingebroken, nummer 3")

    def settled(reqs):
        ok = [r for r in reqs if r["status"] == 200 and r["body"]]
        texts = set()
        for r in ok:
            texts.add(r["body"]["text"])
            for c in r["body"].get("corroborations", []):
                texts.add(c["text"])
        return len(texts) >= 6
    desk.wait(settled, 40)
    time.sleep(2)
    ok = [r["body"] for r in desk.accepted() if r["body"]]
    ids = {b["id"] for b in ok}
    t.is_(len(ids), 2, "two reports: one per room, not six")
    main = [b for b in ok if b["room"] == room]
    t.ok(main and main[0]["status"] == "new", "the desk got the report "
         "first as new")
    t.ok(len(main) >= 2 and all(b["status"] == "updated"
                                for b in main[1:]),
         "and then updates (%d)" % (len(main) - 1))
    t.ok(len({b["id"] for b in main}) == 1, "all with the same report id")
    reqs = [r for r in desk.accepted() if r["body"] and
            r["body"]["room"] == room]
    t.ok(all(r["headers"].get("idempotency-key") == r["body"]["id"]
             for r in reqs), "and the same Idempotency-Key")
    last = main[-1]
    corr = [c["text"] for c in last["corroborations"]]
    t.is_(sorted(corr), sorted([m[1] for m in MESSAGES[1:]] + [REPLY]),
          "the last version carries the four follow-ups (and the reply)")
    t.is_(len(last["message_ids"]), 5, "and five message ids")
    t.ok(all(c["sender"] and "bob" not in c["sender"] for c in
             last["corroborations"]), "follow-up senders are pseudonymous")
    acks = people["alice"].wait_message(
        lambda e: e["room"] == room and "doorgezet" in e["body"], 10)
    time.sleep(2)
    n_acks = len([e for e in people["alice"].messages(room)
                  if "doorgezet" in e["body"]])
    t.is_(n_acks, 1, "the room is told once that it was forwarded")
    t.ok(bartd.running(), "bartd is still running")
except Exception as e:
    t.ok(False, "test raised %r" % e)
finally:
    for p in people.values():
        p.stop()
    if bartd:
        if t.failed:
            t.diag(bartd.tail(60))
        bartd.stop()
    desk.close()
    srv.stop()
t.done()
