"""matrix-e2e.t: residents post in Matrix rooms on a real Synapse; bartd
reports to the desks and acknowledges in the room.

What a user would see, checked one by one: bart joins the rooms it is
configured for (by id at start, by alias when invited later) and no other;
a matching message reaches the desk its category and urgency route to,
exactly once; the room gets one threaded m.notice per delivery (and the
112 reminder for spoed); chit-chat, quoted replies, edits and other bots'
notices produce nothing; an encrypted room gets one loud notice; a restart
keeps the same device and reports nothing twice; a second account that
logs in with an access token serves a dozen rooms of its own; the access
token never reaches the log.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import barttest                                         # noqa: E402
from matrix_world import (World, decide, expected_desk,  # noqa: E402
                          sanitizer_errors, DESK_NAMES)

t = barttest.Tap()
w = None
MANY = 12


def main():
    global w
    t0 = time.monotonic()
    w = World("matrix-e2e", t)
    t.diag("work dir: %s" % w.dir)
    t.diag("Synapse setup (venv reuse, config, start, 3 users): %.1f s"
           % w.setup_seconds)
    hs, alice, bob, bot = w.hs, w.alice, w.bob, w.bot

    # Room A exists before bartd starts and has invited the bot: bartd
    # joins it by id at start. Room E is encrypted. Room B is configured
    # by an alias that does not exist yet.
    room_a = alice.create_room("Lombok buurtpreventie",
                               invite=[bot.user_id, bob.user_id])
    bob.join(room_a)
    room_e = alice.create_room("Versleuteld", invite=[bot.user_id],
                               encrypted=True)
    alias_b = "#oog-in-al:" + hs.server_name
    w.add_room(room_a, "lombok")
    w.add_room(None, "oog-in-al", cfg_id=alias_b)
    w.add_room(room_e, "lombok")
    # A second account of bart, logging in with an access token, in its
    # own room.
    bot2 = hs.register("bart2")
    room_d = bob.create_room("Tweede account", invite=[bot2.user_id])
    # Many rooms on that second account.
    many = [bob.create_room("Straat %d" % i, invite=[bot2.user_id])
            for i in range(MANY)]
    w.write_config(accounts=[w.token_account(
        "mx2", bot2, [{"id": r, "neighbourhood": "lombok"}
                      for r in [room_d] + many])])
    up = w.start_bartd()
    up = up and w.bartd.wait_log(r"matrix mx2: in sync", 30)
    t.ok(up, "bartd logs in with both accounts (password, access token) "
         "and gets in sync with Synapse", w.bartd.tail())
    if not up:
        return
    t.ok(barttest.wait_until(
        lambda: bot.user_id in alice.joined_members(room_a), 20),
        "bart joined the configured room it was invited to")

    # Invites while running: one to a room with the configured alias
    # (accepted), one to a room nobody configured (ignored).
    room_b = alice.create_room("Oog in Al", alias="oog-in-al",
                               invite=[bot.user_id, bob.user_id])
    bob.join(room_b)
    room_c = alice.create_room("Niet geconfigureerd", invite=[bot.user_id])
    t.ok(barttest.wait_until(
        lambda: bot.user_id in alice.joined_members(room_b), 30),
        "bart accepts an invite to a room configured by its alias",
        w.bartd.tail())
    t.ok(w.bartd.wait_log(r"ignoring an invite to " + re.escape(room_c),
                          20),
         "bart logs and ignores an invite to a room not in its config")
    t.ok(bot.user_id not in alice.joined_members(room_c),
         "bart did not join the unconfigured room")

    # What residents say. (room, client, text, how)
    inbraak = ("er is nu iemand aan het inbreken bij nr 12, ik zie hem met "
               "een koevoet bij het raam")
    posts = [
        (room_a, alice, inbraak, "text"),
        (room_a, bob, "Straatlantaarn bij de speeltuin is al een week "
         "kapot, heel donker daar", "text"),
        (room_a, alice, "Goedemiddag buren, iemand zin in een kop koffie "
         "in het buurthuis morgen?", "text"),
        (room_b, bob, "mijn scooter is gestolen vannacht, zwarte Vespa, "
         "kenteken begint met F", "text"),
        (room_b, alice, "Brand in de flat aan de Zichtenburglaan! Zwarte "
         "rook uit het raam op 4 hoog", "notice"),
        (room_b, bob, "Welterusten allemaal", "text"),
        (room_a, bob, "Dank je, ik kijk even bij het raam", "reply"),
        (room_a, alice, "Inbraak bezig in de Vaillantlaan! 2 mannen in het "
         "huis van de buren", "edit"),
        # Synapse passes a NUL (\u0000) in a body on to clients.
        (room_a, bob, "Brand in de flat aan de Zichtenburglaan!\x00 Zwarte "
         "rook uit het raam op 4 hoog", "text"),
        (room_d, bob, "Grote kuil in het fietspad bij de brug, gevaarlijk "
         "in het donker", "text"),
    ]
    decisions = decide([p[2] for p in posts])
    sent = []       # (event id, room, cfg room, expected desk, decision)
    first = None
    for (room, who, text, how), dec in zip(posts, decisions):
        if how == "text":
            ev = who.send_text(room, text)
        elif how == "notice":
            ev = who.send_text(room, text, msgtype="m.notice")
        elif how == "reply":
            # The reply fallback quotes the alarming message; only the
            # resident's own words may count.
            body = "> <%s> %s\n\n%s" % (alice.user_id, inbraak, text)
            ev = who.send_text(room, body, reply_to=first)
        else:
            target = sent[2][0]     # alice's coffee message
            ev = who.send(room, {
                "msgtype": "m.text", "body": "* " + text,
                "m.new_content": {"msgtype": "m.text", "body": text},
                "m.relates_to": {"rel_type": "m.replace",
                                 "event_id": target}})
        if first is None:
            first = ev
        desk = expected_desk(*dec) if how in ("text", "reply") else None
        sent.append((ev, room, room if room != room_b else alias_b, desk,
                     dec))
    botof = {room_d: bot2}
    want = [s for s in sent if s[3]]
    t.ok(len(want) >= 3, "the rule set routes at least 3 of the test "
         "messages to a desk (else this test proves little)",
         "decisions: %r" % (decisions,))

    got = barttest.wait_until(lambda: len(w.reports()) >= len(want), 60)
    time.sleep(3)   # anything extra would arrive now
    reports = w.reports()
    t.is_(len(reports), len(want), "the desks got one report per matching "
          "message and nothing for chit-chat, replies, edits, notices")
    if not got:
        t.diag(w.bartd.tail(60))
    for ev, room, cfg_room, desk, dec in want:
        mine = [(d, r) for d, r in reports if ev in r.get("message_ids",
                                                          [])]
        t.is_(len(mine), 1, "message %s (%s/%s) reached a desk once"
              % (ev, dec[0], dec[1]))
        if len(mine) != 1:
            continue
        d, r = mine[0]
        t.is_(d, desk, "  ... the %s desk" % desk)
        t.ok(r.get("network") == "matrix" and r.get("room") == cfg_room and
             r.get("category") == dec[0] and r.get("urgency") == dec[1],
             "  ... with network, room, category and urgency right",
             "report: %r" % (r,))
        nb = "oog-in-al" if cfg_room == alias_b else "lombok"
        t.is_((r.get("neighbourhood") or {}).get("id"), nb,
              "  ... and the room's neighbourhood")
        t.ok(r.get("sender") and "@" not in str(r.get("sender")),
             "  ... and a pseudonymous sender, not the Matrix id")
    nul = [r for _, r in reports if "Zichtenburglaan" in r.get("text", "")]
    t.ok(len(nul) == 1 and "\x00" not in nul[0]["text"] and
         "Zichtenburglaan! Zwarte" in nul[0]["text"],
         "a NUL in a Matrix body is dropped from the report's text",
         [r.get("text") for r in nul])

    # Acknowledgements: threaded m.notice replies, once each.
    def acks_done():
        n = 0
        for ev, room, _, desk, _ in want:
            n += any(w.reply_to(e) == ev and e["content"]["body"]
                     .startswith("Melding doorgezet")
                     for e in w.notices(bob, room, botof.get(room)))
        return n == len(want)
    barttest.wait_until(acks_done, 30, 0.5)
    time.sleep(2)
    reports = w.reports()
    for ev, room, _, desk, dec in want:
        rid = [r for _, r in reports if ev in r.get("message_ids", [])]
        ref = rid[0]["id"][:8] if rid else "?"
        replies = [e["content"]["body"]
                   for e in w.notices(bob, room, botof.get(room))
                   if w.reply_to(e) == ev]
        t.is_(replies.count("Melding doorgezet naar %s (ref %s)."
                            % (DESK_NAMES[desk], ref)), 1,
              "one threaded acknowledgement for %s in the room" % ev)
        if dec[1] == "spoed":
            t.is_(len([b for b in replies if "112" in b]), 1,
                  "  ... and one reminder to call 112")
        t.ok(len(replies) == (2 if dec[1] == "spoed" else 1),
             "  ... and no other notice replies to it", replies)
    others = [e for e in w.notices(alice, room_a) + w.notices(alice, room_b)
              if w.reply_to(e) not in [s[0] for s in want]]
    t.ok(not others, "no notice replies to messages that matched "
         "nothing", others)

    # The encrypted room: loud, once.
    t.ok(w.bartd.wait_log(r"room %s is end-to-end encrypted"
                          % re.escape(room_e), 5),
         "the log says bart cannot read the encrypted room")
    t.ok(barttest.wait_until(lambda: w.notices(alice, room_e), 20),
         "the encrypted room gets a notice")

    # Restart: same device, nothing twice, still working.
    devices = w.bot_devices()
    rc = w.bartd.stop()
    t.is_(rc, 0, "bartd stops cleanly on SIGTERM")
    up = w.start_bartd()
    t.ok(up and w.bartd.wait_log(r"resumed device", 1),
         "after a restart bartd resumes its saved device",
         w.bartd.tail())
    t.is_(w.bot_devices(), devices, "and the account has no new device")
    ev = alice.send_text(room_b, "Grote vechtpartij bij het winkelcentrum, "
                         "iemand heeft een mes!")
    dec = decide(["Grote vechtpartij bij het winkelcentrum, iemand heeft "
                  "een mes!"])[0]
    d2 = expected_desk(*dec)
    if d2:
        t.ok(barttest.wait_until(lambda: any(
            ev in r.get("message_ids", []) for _, r in w.reports()), 30),
            "a message after the restart reaches the %s desk" % d2)
    time.sleep(3)
    ids = [r["id"] for _, r in w.reports()]
    t.is_(len(ids), len(set(ids)), "no report was delivered twice")
    t.is_(len(w.reports()), len(want) + (1 if d2 else 0),
          "and no old message was reported again after the restart")
    t.is_(len(w.notices(alice, room_e)), 1,
          "the encrypted room's notice was sent once, restart or not")

    # One alarming message in each of the many rooms: each reaches the
    # desk once, from its own room, and is acknowledged there.
    fire = ("er staat een scooter in brand in de stalling, vlammen slaan "
            "naar de auto ernaast")
    fdesk = expected_desk(*decide([fire])[0])
    evs = {bob.send_text(r, fire): r for r in many}

    def delivered():
        got = {}
        for d, r in w.reports():
            for mid in r.get("message_ids", []):
                if mid in evs:
                    got.setdefault(mid, []).append((d, r.get("room")))
        return got
    barttest.wait_until(lambda: len(delivered()) >= MANY, 60)
    time.sleep(2)
    got = delivered()
    t.ok(all(got.get(ev) == [(fdesk, room)] for ev, room in evs.items())
         and len(got) == MANY,
         "%d rooms of one account: each message reached the %s desk "
         "once, from its own room" % (MANY, fdesk), got)
    barttest.wait_until(lambda: all(
        any(w.reply_to(e) == ev for e in w.notices(bob, room, bot2))
        for ev, room in evs.items()), 60, 1)
    t.ok(all(len([e for e in w.notices(bob, room, bot2)
                  if w.reply_to(e) == ev and e["content"]["body"]
                  .startswith("Melding doorgezet")]) == 1
             for ev, room in evs.items()),
         "  ... and acknowledged once in each room")

    t.ok(not w.token_in_log(), "the access token never appears in the log")
    errs = sanitizer_errors(w.bartd.logtext(False))
    t.ok(not errs, "no sanitizer reports", *errs[:5])
    t.diag("whole test: %.1f s" % (time.monotonic() - t0))


try:
    main()
except Exception as e:     # a crash of the test is a failure, not a skip
    import traceback
    t.ok(False, "test ran to the end", traceback.format_exc())
    if w and w.bartd:
        t.diag(w.bartd.tail(40))
finally:
    if w:
        w.close()
sys.exit(t.done())
