"""bartd-reload: moderators change the rules while bartd runs.

Prosody with a room, bartd with a rules directory of the test's own, a
resident and a desk. Checks: `bartctl rules stats` counts hits per rule;
a reload of a broken rule set keeps the old rules (and says so in the log
with file:line); SIGHUP and `bartctl reload` load a new set; messages
posted during a burst of reloads all reach the desk (none dropped in
flight); `bartctl status` answers."""

import os
import shutil
import signal
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

RULE_A = """\
- id: inbraak-nu
  title: Inbraak die nu gaande is
  category: inbraak
  urgency: spoed
  score: 5
  keywords: [inbreken, ingebroken]
  examples: ["ze zijn aan het inbreken"]
  counter-examples: ["gezellige barbecue"]
"""
RULE_B = """\
- id: fietsendiefstal
  title: Fietsendiefstal
  category: diefstal
  urgency: normaal
  score: 5
  keywords: [fietsendief, fietsendieven]
  examples: ["weer een fietsendief bij het station"]
  counter-examples: ["mooie fiets"]
"""
BROKEN = """\
- id: kapot
  title: Kapotte regex
  category: inbraak
  urgency: spoed
  all: ["/(inbraak/"]
  examples: ["inbraak"]
"""

dir = barttest.workdir("bartd-reload")
rules = os.path.join(dir, "rules")
os.makedirs(rules)
with open(os.path.join(rules, "a.yaml"), "w") as f:
    f.write(RULE_A)
srv = prosody.Prosody(os.path.join(dir, "prosody"))
desk = barttest.DeskReceiver()
bartd = None
people = []


def ctl(*args):
    p = subprocess.run([os.path.join(barttest.builddir(), "src", "bartctl"),
                        "-c", cfg] + list(args), capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def texts():
    return [r["body"]["text"] for r in desk.accepted() if r["body"]]


try:
    srv.start()
    room = srv.room("reload-test")
    acct = srv.bart_account("bartbot", "bart-pw", [room])
    cfg = barttest.bart_config(dir, rules, desk.url, xmpp=[acct],
                               group_window=0)
    bartd = barttest.Bartd(cfg).start()
    alice = prosody.Resident(srv, "alice", "alice-pw").start()
    people.append(alice)
    alice.join(room, "alice")
    t.ok(bartd.wait_log(r"caught up|starts at", 30), "bartd joined")

    alice.say(room, "ze zijn nu aan het inbreken bij nr 3")
    desk.wait_count(1, 20)
    t.is_(len(desk.accepted()), 1, "rule set A: the break-in is forwarded")
    rc, out = ctl("rules", "stats")
    t.ok(rc == 0 and any(line.split()[:3] == ["inbraak-nu", "stable", "1"]
                         for line in out.splitlines()),
         "bartctl rules stats: inbraak-nu hit once") or t.diag(out)

    # A broken rule set is refused; the old one stays in use.
    with open(os.path.join(rules, "b.yaml"), "w") as f:
        f.write(BROKEN)
    rc, out = ctl("reload")
    t.is_(rc, 0, "bartctl reload asks the daemon")
    t.ok(bartd.wait_log(r"b\.yaml:5:\d+: .*", 10),
         "the error is logged as file:line:col")
    t.ok(bartd.wait_log(r"reload failed: keeping the 1 rules", 10),
         "and the old rules stay active")
    alice.say(room, "er wordt weer ingebroken bij nr 5")
    desk.wait_count(2, 20)
    t.is_(len(desk.accepted()), 2, "the old rules still forward")

    # A good new set by SIGHUP.
    with open(os.path.join(rules, "b.yaml"), "w") as f:
        f.write(RULE_B)
    bartd.proc.send_signal(signal.SIGHUP)
    t.ok(bartd.wait_log(r"reloaded: 2 rules active", 10),
         "SIGHUP reloads: 2 rules")
    alice.say(room, "weer een fietsendief bij het station gezien")
    desk.wait_count(3, 20)
    bodies = [r["body"] for r in desk.accepted()]
    t.ok(any(b and b["category"] == "diefstal" for b in bodies),
         "the new rule forwards a bike theft")

    # Reloads while residents post: nothing in flight is dropped.
    burst = ["inbreken nummer %d" % i for i in range(20)]
    for i, text in enumerate(burst):
        alice.say(room, text)
        if i % 3 == 0:
            bartd.proc.send_signal(signal.SIGHUP)
    desk.wait_count(3 + len(burst), 40)
    got = texts()
    t.is_(sorted(x for x in got if x.startswith("inbreken nummer")),
          sorted(burst), "20 messages during 7 reloads: all 20 forwarded")
    t.is_(len(got), len(set(got)), "none twice")
    rc, out = ctl("status")
    t.ok(rc == 0 and "2 rules" in out and "reports" in out,
         "bartctl status answers") or t.diag(out)
    t.ok(bartd.running(), "bartd is still running")
except Exception as e:  # report, then clean up
    t.ok(False, "test raised %r" % e)
finally:
    for p in people:
        p.stop()
    if bartd:
        if t.failed:
            t.diag(bartd.tail(60))
        bartd.stop()
    desk.close()
    srv.stop()
t.done()
