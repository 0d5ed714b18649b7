"""desk-faults: every report goes to four desks of four kinds (webhook,
Open311, e-mail, an XMPP desk room). Each network desk goes down in turn
(SMTP 451, Open311 503, webhook 503) while a resident keeps posting
break-ins; the desks that are up keep receiving meanwhile. While the
webhook is down bartd is killed with SIGKILL, more is posted, and bartd
starts again (catching up from the room archive). At the end every
message reached every desk under one report, once: counts per desk are
printed (posted, delivered, duplicated, lost)."""

import os
import re
import sqlite3
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
from open311_desk import Open311Desk  # noqa: E402
from smtp_desk import SmtpDesk  # noqa: E402

TEXT = "Ze zijn nu aan het inbreken bij nummer {n}! [t{n}]"
TAG = re.compile(r"\[t(\d+)\]")
DESKS = ("webhook", "open311", "email", "room")

dir = barttest.workdir("desk-faults")
srv = prosody.Prosody(os.path.join(dir, "prosody"))
hook = barttest.DeskReceiver()
city = Open311Desk("k311", ["INB"])
box = SmtpDesk()
bartd = None
people = []
posted = []             # tags


def reports(db):
    """tag -> report id, from the store."""
    c = sqlite3.connect(db, timeout=10)
    try:
        rows = c.execute("SELECT id, json FROM reports").fetchall()
    finally:
        c.close()
    out = {}
    for rid, js in rows:
        m = TAG.search(js)
        if m:
            out.setdefault(int(m.group(1)), []).append(rid)
    return out


def received(dora, desk_room):
    """desk -> list of report ids (or refs, for the room) it accepted."""
    return {
        "webhook": [r["body"]["id"] for r in hook.accepted()
                    if isinstance(r["body"], dict)],
        "open311": [r["form"]["attribute[bart_report_id]"][0]
                    for r in city.accepted()],
        "email": [m["msg"].get("X-Bart-Report-Id") for m in box.messages()],
        "room": [m.group(1) for m in
                 (re.search(r"\(ref ([0-9a-f]{8})\)", e["body"])
                  for e in dora.messages(desk_room) if e["nick"] == "bart")
                 if m],
    }


def has_all(got, ids, desk):
    want = [i[:8] for i in ids] if desk == "room" else ids
    return all(w in got[desk] for w in want)


try:
    srv.start()
    room = srv.room("buurtpreventie-faults")
    desk_room = srv.room("meldkamer-faults")
    alice = prosody.Resident(srv, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")
    dora = prosody.Resident(srv, "dora", "dora-pw").start()
    people.append(dora)
    dora.join(desk_room, "dora")
    acct = srv.bart_account("bartbot", "bot-secret-pw", [room])
    acct["rooms"].append({"id": desk_room, "desk": True})
    key = barttest.write_secret(os.path.join(dir, "o311.key"), "k311")
    desks = [
        {"id": "webhook", "type": "webhook", "url": hook.url + "w",
         "timeout": 5},
        {"id": "open311", "type": "open311", "url": city.url,
         "api_key_file": key, "service_codes": {"inbraak": "INB"},
         "timeout": 5},
        {"id": "email", "type": "email", "url": box.url,
         "tls": "plaintext", "from": "bart@wijk.example",
         "to": "meldkamer@politie.example", "timeout": 5},
        {"id": "room", "type": "xmpp-room", "account": acct["id"],
         "room": desk_room},
    ]
    cfg = barttest.bart_config(
        dir, os.path.join(barttest.srcdir(), "tests", "xmpp-rules"), "",
        xmpp=[acct], desks=desks,
        routes=[{"category": "inbraak", "desk": list(DESKS)}],
        group_window=0, room_reports_per_hour=0)
    db = os.path.join(dir, "state", "bart.db")
    bartd = barttest.Bartd(cfg).start()
    t.ok(bartd.wait_log(r"joined %s" % desk_room, 30) and
         bartd.wait_log(r"starts at|caught up", 30), "bartd is in both rooms",
         bartd.tail())

    def post(k):
        for _ in range(k):
            n = len(posted) + 1
            if alice.say(room, TEXT.format(n=n)) is not None:
                posted.append(n)

    def ids_of(tags):
        rs = reports(db)
        return [rs[n][0] for n in tags if n in rs]

    def phase(name, down, set_down, set_up, k=3):
        set_down()
        first = len(posted)
        post(k)
        tags = posted[first:]
        ok = wait_until(lambda: len(ids_of(tags)) == len(tags) and all(
            has_all(received(dora, desk_room), ids_of(tags), d)
            for d in DESKS if d != down), 40, 0.5)
        t.ok(ok, "%s down: the other desks receive meanwhile" % name,
             {d: len(v) for d, v in received(dora, desk_room).items()})
        got = received(dora, desk_room)
        t.ok(not has_all(got, ids_of(tags), down) or not tags,
             "and the %s desk did not take them yet" % name)
        return set_up

    post(2)
    t.ok(wait_until(lambda: all(len(v) >= 2 for v in
                                received(dora, desk_room).values()), 30),
         "all four desks receive while all are up")
    up = phase("e-mail", "email", lambda: box.set_mode("451"),
               lambda: box.set_mode("ok"))
    t.ok(box.wait_refused(1, 5), "(the SMTP server did refuse)")
    up()
    up = phase("Open311", "open311", lambda: city.set_mode("503"),
               lambda: city.set_mode("ok"))
    up()
    up = phase("webhook", "webhook", lambda: hook.set_mode(503),
               lambda: hook.set_mode("ok"))
    # While the webhook is still down: kill -9, post, start again.
    bartd.kill9()
    post(2)
    bartd.start()
    up()
    t.ok(bartd.wait_log(r"caught up|starts at", 30) is not None,
         "bartd restarts and catches up")

    def complete():
        rs = reports(db)
        if not all(n in rs for n in posted):
            return False
        ids = [rs[n][0] for n in posted]
        got = received(dora, desk_room)
        return all(has_all(got, ids, d) for d in DESKS)
    t.ok(wait_until(complete, 120, 0.5), "in the end every desk has every "
         "report", {d: len(v) for d, v in received(dora, desk_room).items()})
    time.sleep(3)       # duplicates, if any, would come now

    rs = reports(db)
    t.is_(sorted(rs), posted, "one report for each message posted")
    t.ok(all(len(v) == 1 for v in rs.values()), "and never two",
         {k: v for k, v in rs.items() if len(v) != 1})
    ids = [v[0] for v in rs.values()]
    got = received(dora, desk_room)
    for d in DESKS:
        want = [i[:8] for i in ids] if d == "room" else ids
        dup = len(got[d]) - len(set(got[d]))
        lost = len([w for w in want if w not in got[d]])
        t.diag("%-8s posted %d, delivered %d, duplicated %d, lost %d" %
               (d, len(posted), len(set(got[d])), dup, lost))
        t.ok(dup == 0 and lost == 0 and len(set(got[d])) == len(want),
             "%s: every report exactly once" % d)
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
    city.close()
    box.close()
sys.exit(t.done())
