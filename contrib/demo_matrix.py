"""demo_matrix.py: the local demonstration of bart with a Matrix room, run
by `contrib/demo.sh --matrix`.

Starts Synapse (from the virtualenv tests/lib/setup-synapse-venv.sh makes
under the build tree) on a free loopback port, registers bart and two
residents, makes a neighbourhood room, starts bartd with the default Dutch
rules and three desks (an HTTP receiver standing in for the police control
room, the local police team and the municipality), lets the residents post
and prints what the desks receive and what bart says in the room."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "lib"))
import barttest  # noqa: E402
from synapse import Synapse  # noqa: E402

MESSAGES = [
    ("anna", "Er is nu iemand aan het inbreken bij nr 12, ik zie hem met een "
     "koevoet bij het raam!"),
    ("piet", "De lantaarnpaal bij de speeltuin is al een week kapot, het is "
     "daar aardedonker"),
    ("anna", "Wie heeft er zin in de buurtbarbecue zaterdag? Ik neem salades "
     "mee"),
]


def main():
    stay = "--stay" in sys.argv
    work = barttest.workdir("demo-matrix")
    print("Starting Synapse (the first run installs it into a virtualenv; "
          "that takes a minute)...")
    hs = Synapse.create(name="demo-synapse")
    bartd = None
    desk = barttest.DeskReceiver()
    try:
        hs.start()
        bot = hs.register("bart", "bart-demo-pw")
        people = {"anna": hs.register("anna", "anna-pw"),
                  "piet": hs.register("piet", "piet-pw")}
        room = people["anna"].create_room(
            "Buurtpreventie Lombok", alias="lombok",
            invite=[bot.user_id, people["piet"].user_id])
        people["piet"].join(room)
        barttest.write_secret(os.path.join(work, "matrix.pass"),
                              "bart-demo-pw")
        barttest.write_secret(os.path.join(work, "hmac.key"),
                              os.urandom(16).hex())
        cfg = os.path.join(work, "bart.yaml")
        barttest.write_yaml(cfg, {
            "state_dir": "state",
            "rules_dir": os.path.join(os.environ["top_srcdir"], "rules"),
            "hmac_key_file": "hmac.key",
            "neighbourhoods": [{"id": "lombok", "name": "Lombok"}],
            "matrix": [{"homeserver": hs.base, "user": bot.user_id,
                        "password_file": "matrix.pass",
                        "rooms": [{"id": "#lombok:" + hs.server_name,
                                   "neighbourhood": "lombok"}]}],
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
        bartd.start()
        print("bartd started (log: %s)" % bartd.log)
        if not bartd.wait_log(r"matrix .*: in sync", 60):
            print("bartd did not get in sync; its log:\n" + bartd.tail())
            return 1
        for who, text in MESSAGES:
            print("\n%s says in #lombok:%s:\n    %s"
                  % (who.capitalize(), hs.server_name, text))
            people[who].send_text(room, text)
            time.sleep(0.5)
        desk.wait_count(2, timeout=30)
        time.sleep(3)
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
        print("\n=== What bart said in the room (m.notice replies)")
        names = {c.user_id: n for n, c in people.items()}
        for e in people["anna"].messages(room):
            c = e.get("content", {})
            if e.get("type") != "m.room.message":
                continue
            if e["sender"] == bot.user_id:
                print("    <bart> %s" % c.get("body"))
            else:
                print("  <%s> %s" % (names.get(e["sender"], e["sender"]),
                                     c.get("body")))
        if stay:
            print("\nStill running. Point a Matrix client at %s (user piet, "
                  "password piet-pw) and talk in #lombok:%s. Ctrl-C stops."
                  % (hs.base, hs.server_name))
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        return 0 if desk.accepted() else 1
    finally:
        if bartd:
            bartd.stop()
        desk.close()
        hs.cleanup()


if __name__ == "__main__":
    sys.exit(main())
