"""matrix-badinput.t: bartd against a FAKE homeserver that misbehaves.

Why a fake: Synapse never answers with malformed JSON, a body of many
megabytes, fields of the wrong type, invalid UTF-8 or lone surrogates, so
a small scripted server (tests/lib/matrix_fake.py) stands in for it here;
every other Matrix test uses a real Synapse. After each kind of garbage the
connector must keep going from the same sync token, and the good messages
that follow must reach the desk, once, with clean text.
"""

import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import barttest                                          # noqa: E402
from matrix_fake import (FakeHomeserver, TOKEN, message_event,  # noqa
                         sync_body)
from matrix_world import (DESK_NAMES, decide, expected_desk,  # noqa: E402
                          rules_dir, sanitizer_errors)

t = barttest.Tap()
fake = desk = bartd = None

FIRE = ("Brand in de flat aan de Zichtenburglaan! Zwarte rook uit het "
        "raam op 4 hoog")
BREAKIN = ("er is nu iemand aan het inbreken bij nr 12, ik zie hem met een "
           "koevoet bij het raam")


def main():
    global fake, desk, bartd
    d = barttest.workdir("matrix-badinput")
    fake = FakeHomeserver()
    desk = barttest.DeskReceiver()
    room = fake.room_id
    cfg = {
        "state_dir": os.path.join(d, "state"),
        "rules_dir": rules_dir(),
        "hmac_key_file": barttest.write_secret(os.path.join(d, "k"),
                                               "k" * 32),
        "log_level": "debug",
        "neighbourhoods": [{"id": "lombok", "name": "Lombok"}],
        "matrix": [{"id": "mx", "homeserver": fake.base,
                    "user": fake.user_id,
                    "password_file": barttest.write_secret(
                        os.path.join(d, "pw"), "pw"),
                    "sync_timeout": 5,
                    "rooms": [{"id": room, "neighbourhood": "lombok"},
                              {"id": "#buurt:fake",
                               "neighbourhood": "lombok"}]},
                   # A homeserver that is not there at all: this account
                   # keeps trying; the other one must not notice.
                   {"id": "down", "homeserver": "http://127.0.0.1:%d"
                    % barttest.free_port(), "user": "@bart:down",
                    "password_file": barttest.write_secret(
                        os.path.join(d, "pw2"), "pw"),
                    "rooms": [{"id": "!x:down",
                               "neighbourhood": "lombok"}]}],
        "desks": [{"id": k, "name": v, "type": "webhook",
                   "url": desk.url + k} for k, v in DESK_NAMES.items()],
    }
    config = barttest.write_yaml(os.path.join(d, "bart.yaml"), cfg)

    fake.aliases["#buurt:fake"] = "!buurt:fake"
    # The script of /sync answers after the first (initial) one.
    # An invite whose (inviter-made) stripped state claims a configured
    # alias that really points to another room: not to be accepted.
    # And one whose room id tries to forge a line in bart's log.
    fake.add_sync({"next_batch": "s0", "rooms": {"invite": {"!evil:fake": {
        "invite_state": {"events": [{
            "type": "m.room.canonical_alias", "state_key": "",
            "sender": "@mallory:fake",
            "content": {"alias": "#buurt:fake"}}]}},
        "!x\n2026-01-01T00:00:00Z bartd[warn]: FORGED:fake": {}}}})
    fake.add_sync(b'{"next_batch": "s1", "rooms": {"join": {')   # cut off
    fake.add_sync(b"<html>502 Bad Gateway</html>")
    fake.add_sync(b"[1, 2, 3]")                                 # no object
    big = b'{"next_batch": "s1", "pad": "' + b"x" * (9 << 20) + b'"}'
    fake.add_sync(big)                                          # 9 MiB
    fake.add_sync({"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2000},
                  status=429)
    fake.add_sync({"errcode": "M_UNKNOWN"}, status=500)
    # The token is suddenly refused: log in again, keeping the device.
    fake.add_sync({"errcode": "M_UNKNOWN_TOKEN", "error": "revoked"},
                  status=401)
    # Every field of the wrong type; nothing here may be reported.
    fake.add_sync({"next_batch": "s1", "rooms": {
        "join": {room: {"timeline": {"events": [
            1, "x", None, [], {"type": 5},
            {"type": "m.room.message", "event_id": 7, "sender": "@a:fake",
             "content": {"msgtype": "m.text", "body": FIRE}},
            {"type": "m.room.message", "event_id": "$num", "sender":
             "@a:fake", "content": {"msgtype": "m.text", "body": 12}},
            {"type": "m.room.message", "event_id": "$str", "sender":
             "@a:fake", "content": "just a string"},
            {"type": "m.room.message", "event_id": "$" + "x" * 400,
             "sender": "@a:fake",
             "content": {"msgtype": "m.text", "body": FIRE}},
            {"type": "m.room.message", "event_id": "$ts", "sender":
             "@a:fake", "origin_server_ts": "yesterday",
             "content": {"msgtype": "m.text", "body": "hallo",
                         "m.relates_to": "nope"}}],
            "limited": "yes", "prev_batch": 5},
            "state": {"events": {"type": "m.room.encryption"}}},
            "!other:fake": []},
        "invite": [], "leave": 5}, "account_data": 3})
    # A token the server no longer knows (Synapse: 400 "Invalid stream
    # token"): after three refusals bart starts over from now.
    for _ in range(3):
        fake.add_sync({"errcode": "M_UNKNOWN",
                       "error": "Invalid stream token"}, status=400)
    # Raw invalid UTF-8 bytes, a lone surrogate escape and a NUL escape in
    # an alarming message: reported, with U+FFFD where the garbage was.
    raw = (b'{"next_batch": "s2", "rooms": {"join": {"' + room.encode() +
           b'": {"timeline": {"events": [{"type": "m.room.message", '
           b'"event_id": "$badutf8", "sender": "@alice:fake", '
           b'"origin_server_ts": 1700000000000, "content": {"msgtype": '
           b'"m.text", "body": "Brand in de flat aan de Zichtenburglaan! '
           b'Zwarte rook \xff\xfe\xc3 uit het raam \\ud800 op 4 hoog '
           b'\\u0000"}}]}}}}}')
    fake.add_sync(raw)
    fake.add_sync(sync_body("s3", room, [message_event("$good", BREAKIN)]))
    nscript = len(fake.script)

    want = {"$badutf8": decide([FIRE])[0], "$good": decide([BREAKIN])[0]}
    desks = {k: expected_desk(*v) for k, v in want.items()}
    t.ok(all(desks.values()), "the rule set routes both test messages to "
         "a desk", repr(want))

    bartd = barttest.Bartd(config)
    bartd.start()
    served = fake.wait_served(nscript, 90)
    t.ok(served, "bartd went through every bad /sync answer and asked "
         "again each time", bartd.tail(30))
    got = desk.wait_count(2, 30)
    time.sleep(2)
    t.ok(bartd.running(), "bartd is still running")
    reports = {}
    for r in desk.accepted():
        b = r["body"] or {}
        for mid in b.get("message_ids", []):
            reports.setdefault(mid, []).append((r["path"].strip("/"), b))
    t.is_(sorted(reports), ["$badutf8", "$good"], "exactly the two good "
          "messages were reported, nothing from the garbage")
    if not got:
        t.diag(bartd.tail(40))
    for mid, dk in desks.items():
        t.is_([p for p, _ in reports.get(mid, [])], [dk],
              "%s reached the %s desk once" % (mid, dk))
    text = (reports.get("$badutf8") or [(None, {})])[0][1].get("text", "")
    t.ok("\ufffd" in text and "\x00" not in text and
         text.startswith("Brand in de flat"),
         "invalid UTF-8 and a lone surrogate became U+FFFD, the NUL was "
         "dropped", repr(text))

    t.ok("#buurt:fake" in fake.joins() and
         "!evil:fake" not in fake.joins(),
         "an invite that only claims a configured alias is not accepted",
         fake.joins())
    log = bartd.logtext()
    t.ok("FORGED" in log and not re.search(r"^\S+ bartd\[warn\]: FORGED",
                                             log, re.M),
         "a room id with a newline cannot forge a log line")
    t.ok("not a JSON object" in log, "the log names the malformed answer")
    t.ok("larger than" in log, "the log names the oversized answer")
    syncs = [r for r in fake.sync_requests() if "since" in r["query"]]
    # request 6 got the 429 (retry_after_ms 2000); request 7 came after
    gap = syncs[6]["time"] - syncs[5]["time"] if len(syncs) > 6 else 0
    t.ok(gap >= 1.9, "after a 429 it waited retry_after_ms (%.1f s)" % gap)
    t.ok(all(s["query"]["since"] == ["s0"] for s in syncs[:9]),
         "after every bad answer it asked again from the same token")

    # The token committed with the reports.
    def position():
        try:
            db = sqlite3.connect(os.path.join(d, "state", "bart.db"),
                                 timeout=5)
            rows = db.execute("SELECT * FROM positions").fetchall()
            db.close()
            return rows
        except sqlite3.Error as e:
            return [("error", str(e))]
    rows = position()
    t.ok(any("*sync*" in r and "s3" in r for r in rows),
         "the sync token after the last batch is committed", rows)

    # Acknowledgements went out as threaded m.notice replies.
    barttest.wait_until(lambda: len(fake.sent) >= 2, 20)
    acks = [c for _, c in fake.sent
            if c.get("body", "").startswith("Melding doorgezet")]
    t.ok(len(acks) == 2 and all(
        c.get("msgtype") == "m.notice" and
        c["m.relates_to"]["m.in_reply_to"]["event_id"] in want
        for c in acks), "each report is acknowledged with a threaded "
        "m.notice", fake.sent)
    t.ok(all(r["auth"] == "Bearer " + TOKEN for r in fake.requests
             if not r["path"].endswith("/login")) and
         not any("access_token" in r["query"] for r in fake.requests),
         "the token travels only in the Authorization header")
    t.ok(TOKEN not in bartd.logtext(False), "the token is never logged")
    t.ok(re.search(r"matrix down: whoami|matrix down: login",
                   bartd.logtext()),
         "an account whose homeserver is down says so and keeps trying")
    t.ok("starting over from now" in bartd.logtext(),
         "a sync token the server refuses for good is given up, loudly")
    t.ok(len(fake.logins) == 2 and
         fake.logins[1].get("device_id") == "FAKEDEV",
         "after a 401 bart logs in again with its own device id",
         [{k: v for k, v in b.items() if k != "password"}
          for b in fake.logins])
    rc = bartd.stop()
    t.is_(rc, 0, "bartd stops cleanly")
    errs = sanitizer_errors(bartd.logtext(False))
    t.ok(not errs, "no sanitizer reports", *errs[:5])


try:
    main()
except Exception:
    import traceback
    t.ok(False, "test ran to the end", traceback.format_exc())
    if bartd:
        t.diag(bartd.tail(40))
finally:
    if bartd:
        bartd.stop()
    if desk:
        desk.close()
    if fake:
        fake.close()
sys.exit(t.done())
