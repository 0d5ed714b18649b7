"""demo.py: a local demonstration of bart, run by contrib/demo.sh.

Starts Prosody on a free loopback port with a neighbourhood room, bartd
with the default Dutch rules, three desks (an HTTP receiver standing in for
the police control room, the local police team and the municipality) and
two residents who post in the room. Prints what the desks receive and what
bart says in the room."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "lib"))
import barttest  # noqa: E402
from prosody import Prosody, Resident  # noqa: E402

MESSAGES = [
    ("anna", "Er is nu iemand aan het inbreken bij nr 12, ik zie hem met een koevoet bij het raam!"),
    ("piet", "De lantaarnpaal bij de speeltuin is al een week kapot, het is daar aardedonker"),
    ("anna", "Wie heeft er zin in de buurtbarbecue zaterdag? Ik neem salades mee"),
]


def main():
    stay = "--stay" in sys.argv
    work = barttest.workdir("demo")
    server = Prosody(os.path.join(work, "prosody"))
    server.start()
    room = server.room("lombok")
    server.register("bart", "bart-demo-pw")
    desk = barttest.DeskReceiver()
    barttest.write_secret(os.path.join(work, "xmpp.pass"), "bart-demo-pw")
    barttest.write_secret(os.path.join(work, "hmac.key"), os.urandom(16).hex())
    cfg = os.path.join(work, "bart.yaml")
    barttest.write_yaml(cfg, {
        "state_dir": "state",
        "rules_dir": os.path.join(os.environ["top_srcdir"], "rules"),
        "hmac_key_file": "hmac.key",
        "neighbourhoods": [{"id": "lombok", "name": "Lombok"}],
        "xmpp": [{"jid": server.jid("bart"), "password_file": "xmpp.pass",
                  "host": "127.0.0.1", "port": server.port,
                  "tls": "plaintext",
                  "rooms": [{"id": room, "neighbourhood": "lombok"}]}],
        "desks": [
            {"id": "politie-spoed", "name": "Meldkamer politie",
             "type": "webhook", "url": desk.url + "politie-spoed"},
            {"id": "politie", "name": "Wijkteam politie",
             "type": "webhook", "url": desk.url + "politie"},
            {"id": "gemeente", "name": "Gemeente", "type": "webhook",
             "url": desk.url + "gemeente"},
        ],
    })
    bartd = barttest.Bartd(cfg)
    residents = {}
    try:
        bartd.start()
        print("bartd started (log: %s)" % bartd.log)
        for name in ("anna", "piet"):
            r = Resident(server, name, name + "-pw")
            r.start()
            r.join(room, name.capitalize())
            residents[name] = r
        anna = residents["anna"]
        if not anna.wait_message(lambda m: m["nick"] == "bart" or
                                 m.get("nick", "").startswith("bart"),
                                 timeout=1) and \
                not bartd.wait_log(r"joined|catch", timeout=30):
            print("bartd did not join the room; its log:\n" + bartd.tail())
            return 1
        time.sleep(1)
        for who, text in MESSAGES:
            print("\n%s says in %s:\n    %s" % (who.capitalize(), room, text))
            residents[who].say(room, text)
            time.sleep(0.5)
        desk.wait_count(2, timeout=30)
        time.sleep(2)
        print("\n=== What the desks received")
        for req in desk.accepted():
            b = req["body"] or {}
            print("\nPOST %s  (Idempotency-Key: %s)" %
                  (req["path"], req["headers"].get("idempotency-key")))
            print("    %s / %s, neighbourhood %s, rules %s" % (
                b.get("category"), b.get("urgency"),
                (b.get("neighbourhood") or {}).get("name"),
                ", ".join(r["id"] for r in b.get("rules", []))))
            print("    text: %s" % b.get("text"))
        if not desk.accepted():
            print("(nothing: see %s)" % bartd.log)
        print("\n=== What bart said in the room")
        for m in anna.messages(room):
            if m["nick"] not in ("Anna", "Piet"):
                print("    <%s> %s" % (m["nick"], m["body"]))
        if stay:
            print("\nStill running. Connect an XMPP client to 127.0.0.1:%d "
                  "(plaintext, user piet@%s password piet-pw) and join %s. "
                  "Ctrl-C stops." % (server.port, server.domain, room))
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        return 0 if desk.accepted() else 1
    finally:
        for r in residents.values():
            r.stop()
        bartd.stop()
        desk.close()
        server.stop()


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    # Leave without tearing down slixmpp's finished event loops again
    # (they would print noise about destroyed tasks).
    os._exit(rc)
