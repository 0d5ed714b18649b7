"""desk-open311: municipal desks that take Open311 GeoReport v2.

Prosody (MUC) with a resident, bartd, and two GeoReport v2 endpoints
(tests/lib/open311_desk.py) that check requests as the spec says:
- "gemeente": service_codes by category, jurisdiction_id, api key from
  a file; the endpoint first answers 503, then takes the request;
- "gemeente-strict": no service_code for the category and no default:
  dead-lettered with a reason an operator can read;
- "gemeente-oudkey": a wrong api key: the 403 is dead-lettered;
- "handhaving": an endpoint that answers with a token, not an id.
Checks the form (encoding, api_key, service_code, lat/long of the
neighbourhood, description with category and ref, the report id as an
attribute), the stored service_request_id/token, that an update is not
posted as a second request, and the room's acknowledgement."""

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
prosody = barttest.xmpp_test(t)
from open311_desk import Open311Desk  # noqa: E402

LIGHT = "De lantaarnpaal bij de speeltuin is al een week kapot & donker."
BREAKIN = "Ze zijn nu aan het inbreken bij nummer 12, twee mannen!"
FOLLOW = "Nu zijn ze ook aan het inbreken bij nummer 14, richting het park"
KEY = "o311-key-6a1f"

dir = barttest.workdir("desk-open311")
srv = prosody.Prosody(os.path.join(dir, "prosody"))
city = Open311Desk(KEY, ["OR-01", "OVERIG"])
police = Open311Desk("hh-key", ["HH-7"], base="/api/georeport/v2/")
bartd = None
people = []


def outbox(db):
    c = sqlite3.connect(db, timeout=10)
    try:
        rows = c.execute("SELECT id, report_id, desk, state, version, "
                         "last_error, remote_ref FROM outbox ORDER BY id"
                         ).fetchall()
    finally:
        c.close()
    return [dict(zip(("id", "report_id", "desk", "state", "version",
                      "last_error", "remote_ref"), r)) for r in rows]


def rows(db, desk):
    return [r for r in outbox(db) if r["desk"] == desk]


try:
    srv.start()
    room = srv.room("buurtpreventie-311")
    alice = prosody.Resident(srv, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")
    acct = srv.bart_account("bartbot", "bot-secret-pw", [room])
    keyf = barttest.write_secret(os.path.join(dir, "o311.key"), KEY)
    desks = [
        {"id": "gemeente", "name": "Gemeente", "type": "open311",
         "url": city.url, "api_key_file": keyf,
         "jurisdiction_id": "testgemeente.nl",
         "service_codes": {"openbare-ruimte": "OR-01",
                           "default": "OVERIG"}, "timeout": 5},
        {"id": "gemeente-strict", "type": "open311", "url": city.url,
         "api_key_file": keyf, "service_codes": {"overlast": "OV-1"}},
        {"id": "gemeente-oudkey", "type": "open311", "url": city.url,
         "api_key_env": "BART_TEST_OLD_KEY",
         "service_codes": {"default": "OVERIG"}, "timeout": 5},
        {"id": "handhaving", "name": "Handhaving", "type": "open311",
         "url": police.url, "api_key_env": "BART_TEST_HH_KEY",
         "service_codes": {"inbraak": "HH-7"}, "timeout": 5},
    ]
    routes = [{"category": "inbraak", "desk": "handhaving"},
              {"category": "openbare-ruimte",
               "desk": ["gemeente", "gemeente-strict", "gemeente-oudkey"]}]
    cfg = barttest.bart_config(
        dir, os.path.join(barttest.srcdir(), "tests", "xmpp-rules"), "",
        xmpp=[acct], desks=desks, routes=routes,
        neighbourhoods=[{"id": "testwijk", "name": "Testwijk",
                         "location": [52.37403, 4.88969]}])
    db = os.path.join(dir, "state", "bart.db")
    env = {"BART_TEST_OLD_KEY": "expired-key", "BART_TEST_HH_KEY": "hh-key"}
    os.environ.update(env)
    rc, out = barttest.run_bartd_check(cfg)
    t.is_(rc, 0, "bartd -n accepts the Open311 desks") or t.diag(out)
    bartd = barttest.Bartd(cfg, env=env).start()
    t.ok(bartd.wait_log(r"starts at|caught up", 30) is not None,
         "bartd joins the room", bartd.tail())

    # 1. A broken street light while the municipality answers 503.
    city.set_mode("503")
    alice.say(room, LIGHT)
    t.ok(city.wait(lambda rs: any(r["status"] == 503 for r in rs), 30),
         "the endpoint answers 503 at first", bartd.tail())
    city.set_mode("ok")
    t.ok(wait_until(lambda: [r for r in rows(db, "gemeente")
                             if r["state"] == "delivered"], 40),
         "the report is delivered once the endpoint is back",
         outbox(db))
    ok = [r for r in city.accepted()
          if r["form"].get("api_key") == [KEY]]
    t.is_(len(ok), 1, "one service request for the report")
    req = ok[0] if ok else {"form": {}, "headers": {}, "raw": b""}
    f = {k: v[0] for k, v in req["form"].items()}
    t.diag("what the endpoint received:\n" + req["raw"].decode())
    g = rows(db, "gemeente")
    rid = g[0]["report_id"] if g else "?"
    t.is_(req["headers"].get("content-type"),
          "application/x-www-form-urlencoded", "form-encoded")
    t.is_(f.get("service_code"), "OR-01",
          "service_code mapped from the category")
    t.is_(f.get("jurisdiction_id"), "testgemeente.nl", "jurisdiction_id")
    t.is_((f.get("lat"), f.get("long")), ("52.374030", "4.889690"),
          "lat/long of the neighbourhood")
    t.is_(f.get("attribute[bart_report_id]"), rid,
          "the report id as attribute[bart_report_id]")
    d = f.get("description", "")
    t.ok(d.startswith(LIGHT) and "openbare-ruimte" in d and
         "Testwijk" in d and ("ref %s" % rid[:8]) in d,
         "description: the message (with its '&' intact), category, "
         "neighbourhood and ref", d)
    t.is_(req["headers"].get("idempotency-key"), rid,
          "Idempotency-Key is the report id")
    t.is_(g and g[0]["remote_ref"], req.get("id"),
          "the service_request_id is stored with the delivery")
    p = subprocess.run([os.path.join(barttest.builddir(), "src", "bartctl"),
                        "-c", cfg, "outbox", "list", "delivered"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    line = [x for x in p.stdout.decode().splitlines()
            if rid in x and " gemeente " in x]
    t.ok(p.returncode == 0 and line and
         re.search(r"\sdelivered\s.*\s%s\s" % re.escape(req.get("id") or
                                                     "?"), line[0] + " "),
         "bartctl outbox list shows it as the desk's ref", p.stdout.decode())
    ack = alice.wait_message(lambda e: e["nick"] != "alice" and
                             "doorgezet naar Gemeente" in e["body"] and
                             rid[:8] in e["body"], 20)
    t.ok(ack is not None, "the room is told the report went to Gemeente")

    strict = rows(db, "gemeente-strict")
    t.ok(strict and strict[0]["state"] == "dead" and
         "no service_code for category 'openbare-ruimte'" in
         (strict[0]["last_error"] or ""),
         "a desk without a service_code for the category dead-letters "
         "it, saying why", strict)
    t.ok(wait_until(lambda: [r for r in rows(db, "gemeente-oudkey")
                             if r["state"] == "dead"], 30),
         "a refused api key (403) is dead-lettered", outbox(db))
    t.ok(bartd.wait_log(r"gemeente-oudkey: Open311 answered 403: invalid "
                        r"api_key", 10),
         "the log says what the endpoint answered")

    # 2. A break-in to an endpoint that answers with a token; then a
    # follow-up (an update), which is not a second request.
    police.set_mode("token")
    alice.say(room, BREAKIN)
    t.ok(wait_until(lambda: [r for r in rows(db, "handhaving")
                             if r["state"] == "delivered"], 30),
         "the break-in reaches the second endpoint", bartd.tail())
    h = rows(db, "handhaving")
    pa = police.accepted()
    t.ok(h and pa and h[0]["remote_ref"] == "tok-" + pa[0]["id"],
         "a token is stored when there is no service_request_id",
         h and h[0]["remote_ref"])
    t.is_(pa and pa[0]["path"], "/api/georeport/v2/requests.json",
          "POST {url}/requests.json, also when url ends in a slash")
    alice.say(room, FOLLOW)
    t.ok(wait_until(lambda: [r for r in rows(db, "handhaving")
                             if r["version"] == 1 and
                             r["state"] == "delivered"], 30),
         "the update is marked delivered", outbox(db))
    time.sleep(2)
    t.is_(len(police.posts()), 1, "but not posted as a second request")
    t.ok(bartd.wait_log(r"update 1 not sent \(Open311 has no updates; "
                        r"the desk has request tok-", 5),
         "the log says why")
    t.ok(KEY not in bartd.logtext(False) and
         "hh-key" not in bartd.logtext(False), "no api key in the log")
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
    city.close()
    police.close()
sys.exit(t.done())
