"""xmpp-robust: bartd does not go silently deaf.

- The server freezes (SIGSTOP: sockets stay open, nothing answers):
  bartd notices through its XEP-0199 pings, reconnects once the server
  is back, rejoins and reports again.
- A moderator kicks bart out of the room: it joins again and reports.
- bartd joined a room with an empty archive and stopped: what was said
  meanwhile is still caught up (by time).
- A resident posts a 200 kB message: the report carries the text cut to
  64 KiB on a character boundary, and bartd keeps working."""

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

MSG_TEXT_MAX = 64 * 1024
dir = barttest.workdir("xmpp-robust")
srv = prosody.Prosody(os.path.join(dir, "prosody"))
desk = barttest.DeskReceiver()
bartd = None
people = []


def reported(text, timeout=30):
    return desk.wait(lambda rs: any(r["body"] and r["body"].get("text") ==
                                    text for r in rs), timeout)


def joins():
    return bartd.logtext().count("joined ")


try:
    srv.start()
    room = srv.room("robust-test")
    alice = prosody.Resident(srv, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")          # creates the room: owner
    acct = srv.bart_account("bartbot", "bot-pw", [room], ping_interval=2,
                            ping_timeout=3)
    # Independent reports for each message (no merging of follow-ups).
    cfg = barttest.bart_config(dir, os.path.join(barttest.srcdir(), "tests",
                                                 "xmpp-rules"), desk.url,
                               xmpp=[acct], group_window=0)
    bartd = barttest.Bartd(cfg).start()
    t.ok(bartd.wait_log(r"starts at now \(empty archive\)", 30) is not None,
         "bartd joins a room with an empty archive", bartd.tail())

    # 0. Down before anything was said: the position is a time, and the
    # catch-up by time still finds what was said meanwhile.
    bartd.stop()
    text = "Ze zijn nu aan het inbreken bij nummer 20 (lege kamer)"
    alice.say(room, text)
    bartd.start()
    t.ok(reported(text), "a message said while bartd was down, after it "
         "joined an empty room, is caught up", bartd.tail())

    # 0b. More than one archive page (50) said while bartd was down.
    bartd.stop()
    want = []
    for i in range(1, 131):
        if i % 10 == 0:
            text = "Ze zijn nu aan het inbreken bij huis %d [p%d]" % (i, i)
            want.append(text)
        else:
            text = "Gezellig buurtfeest, tafel %d [p%d]" % (i, i)
        alice.say(room, text)
    bartd.start()
    ok = desk.wait(lambda rs: all(any(r["body"] and r["body"].get("text") ==
                                      w for r in rs) for w in want), 60)
    t.ok(ok, "%d break-ins among 130 messages said while bartd was down "
         "(three archive pages) are all caught up" % len(want), bartd.tail())
    time.sleep(1)
    texts = [r["body"].get("text") for r in desk.accepted() if r["body"]]
    t.ok(all(texts.count(w) == 1 for w in want) and
         not any("buurtfeest" in (x or "") for x in texts),
         "each once, and no chit-chat")

    # 1. The server freezes.
    srv.freeze()
    t0 = time.time()
    m = bartd.wait_log(r"no answer to a ping", 20)
    t.ok(m is not None, "a frozen server is noticed by ping (after %.1f s)" %
         (time.time() - t0), bartd.tail())
    time.sleep(2)
    srv.thaw()
    n = joins()
    t.ok(barttest.wait_until(lambda: joins() > n, 60),
         "after the server is back, bartd reconnects and rejoins",
         bartd.tail())
    text = "Ze zijn nu aan het inbreken bij nummer 21 (na bevriezen)"
    alice.say(room, text)
    t.ok(reported(text), "and reports again")

    # 2. Kicked out of the room.
    n = joins()
    alice.kick(room, "bart")
    t.ok(bartd.wait_log(r"out of \S+ \(kicked\)", 15) is not None,
         "bartd notices it was kicked", bartd.tail())
    t.ok(barttest.wait_until(lambda: joins() > n, 30),
         "and joins again")
    text = "Ze zijn nu aan het inbreken bij nummer 22 (na kick)"
    alice.say(room, text)
    t.ok(reported(text), "and reports again")

    # 3. An oversized message (multi-byte characters around the cut).
    head = "Ze zijn nu aan het inbreken bij nummer 23! "
    big = head + "ë€" * (200 * 1024 // 5)
    echo = alice.say(room, big, timeout=20)
    t.ok(echo is not None, "the room takes a %d kB message" %
         (len(big.encode()) // 1024))
    r = desk.wait(lambda rs: [x for x in rs if x["body"] and
                              (x["body"].get("text") or "").startswith(head)],
                  30)
    got = [x for x in desk.posts() if x["body"] and
           (x["body"].get("text") or "").startswith(head)]
    t.ok(got, "it is reported")
    if got:
        txt = got[0]["body"]["text"]
        n = len(txt.encode("utf-8"))
        t.ok(MSG_TEXT_MAX - 4 < n <= MSG_TEXT_MAX,
             "its text is cut to 64 KiB (%d bytes)" % n)
        t.ok(big.startswith(txt) and "\ufffd" not in txt,
             "on a character boundary, without replacement characters")
    text = "Ze zijn nu aan het inbreken bij nummer 24 (na groot bericht)"
    alice.say(room, text)
    t.ok(reported(text), "bartd keeps working after it")
    t.ok(bartd.running(), "bartd is still running")
    t.ok("AddressSanitizer" not in bartd.logtext(False),
         "no sanitizer reports")
except Exception:      # noqa: report, then clean up
    import traceback
    t.ok(False, "test ran without exceptions", traceback.format_exc())
finally:
    if srv.proc is not None:
        try:
            srv.thaw()
        except Exception:       # noqa: already gone
            pass
    if bartd is not None:
        if t.failed:
            t.diag("bartd log (tail):\n" + bartd.tail(40))
        bartd.stop()
    for p in people:
        p.stop()
    srv.stop()
    desk.close()
sys.exit(t.done())
