"""desks-fault: each desk down in turn while the others keep receiving.

Prosody with a room, bartd with three webhook desks, each its own HTTP
receiver, and a resident posting reports for all three. The control
room's desk answers 503, then the police desk hangs past bart's timeout,
then the municipality's refuses with 503 too; each recovers. While one is
down the others keep receiving; `bartctl desks` shows the sick desk's
failures; afterwards every desk has every report meant for it exactly
once (same report ids, no repeats)."""

import os
import subprocess
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
  keywords: [inbreken]
  examples: ["ze zijn aan het inbreken"]
  counter-examples: ["barbecue"]
- id: fietsendiefstal
  title: Fietsendiefstal
  category: diefstal
  urgency: normaal
  keywords: [fietsendief]
  examples: ["een fietsendief bij het station"]
  counter-examples: ["fiets"]
- id: lantaarnpaal
  title: Lantaarnpaal kapot
  category: openbare-ruimte
  urgency: normaal
  keywords: [lantaarnpaal]
  examples: ["lantaarnpaal kapot"]
  counter-examples: ["lantaarn"]
"""
KIND = {"politie-spoed": "inbreken", "politie": "fietsendief",
        "gemeente": "lantaarnpaal"}

dir = barttest.workdir("desks-fault")
rules = os.path.join(dir, "rules")
os.makedirs(rules)
with open(os.path.join(rules, "r.yaml"), "w") as f:
    f.write(RULES)
srv = prosody.Prosody(os.path.join(dir, "prosody"))
desks = {d: barttest.DeskReceiver(hang_max=30) for d in KIND}
bartd = None
people = []
expected = {d: [] for d in KIND}
seq = [0]


def post(who, room):
    """One message for each desk."""
    for d, word in KIND.items():
        seq[0] += 1
        text = "melding %d: %s bij nummer %d" % (seq[0], word, seq[0])
        who.say(room, text)
        expected[d].append(text)


def accepted_texts(d):
    return [r["body"]["text"] for r in desks[d].accepted() if r["body"]]


def ctl(*args):
    p = subprocess.run([os.path.join(barttest.builddir(), "src", "bartctl"),
                        "-c", cfg] + list(args), capture_output=True,
                       text=True, timeout=30)
    return p.stdout + p.stderr


def caught_up(d, timeout):
    return barttest.wait_until(
        lambda: sorted(set(accepted_texts(d))) == sorted(expected[d]),
        timeout)


try:
    srv.start()
    room = srv.room("desks-fault")
    acct = srv.bart_account("bartbot", "bart-pw", [room])
    cfg = barttest.bart_config(
        dir, rules, "unused", xmpp=[acct], group_window=0,
        room_reports_per_hour=0,
        desks=[{"id": d, "name": d, "type": "webhook",
                "url": desks[d].url + d, "timeout": 3} for d in KIND])
    bartd = barttest.Bartd(cfg).start()
    alice = prosody.Resident(srv, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")
    t.ok(bartd.wait_log(r"caught up|starts at", 30), "bartd joined")
    post(alice, room)
    t.ok(all(caught_up(d, 20) for d in KIND), "all three desks receive")

    for down, mode in (("politie-spoed", 503), ("politie", "hang"),
                       ("gemeente", 503)):
        desks[down].set_mode(mode)
        for _ in range(3):
            post(alice, room)
        others = [d for d in KIND if d != down]
        t.ok(all(caught_up(d, 20) for d in others),
             "%s down (%s): the other desks keep receiving" % (down, mode))
        t.ok(len(set(accepted_texts(down))) < len(expected[down]),
             "%s has not got the new reports yet" % down)
        time.sleep(4)
        out = ctl("desks")
        line = [ln for ln in out.splitlines() if ln.startswith(down + " ")]
        cols = line[0].split() if line else []
        t.ok(len(cols) > 6 and int(cols[3]) >= 1 and int(cols[6]) >= 1,
             "bartctl desks shows %s with pending reports and failures"
             % down) or t.diag(out)
        desks[down].set_mode("ok")
        t.ok(caught_up(down, 45), "%s recovered and got everything" % down)

    for d in KIND:
        got = accepted_texts(d)
        ids = [r["body"]["id"] for r in desks[d].accepted()]
        t.is_(sorted(got), sorted(expected[d]),
              "%s: every report meant for it, nothing else, once" % d)
        t.is_(len(ids), len(set(ids)), "%s: no report id twice" % d)
        t.ok(all(r["headers"].get("idempotency-key") == r["body"]["id"]
                 for r in desks[d].posts() if r["body"]),
             "%s: retries carry the same Idempotency-Key" % d)
    t.diag("per desk: " + ", ".join(
        "%s %d expected / %d accepted / %d attempts" % (
            d, len(expected[d]), len(desks[d].accepted()),
            len(desks[d].posts())) for d in KIND))
    t.ok(bartd.running(), "bartd is still running")
except Exception as e:
    t.ok(False, "test raised %r" % e)
finally:
    for p in people:
        p.stop()
    if bartd:
        if t.failed:
            t.diag(bartd.tail(60))
        bartd.stop()
    for d in desks.values():
        d.close()
    srv.stop()
t.done()
