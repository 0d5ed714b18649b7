"""demo.py: a local demonstration of bart, run by contrib/demo.sh.

Starts a chat server on a free loopback port (Prosody, or with --matrix a
Synapse homeserver) with a neighbourhood room, bartd with the default
Dutch rules, three desks (an HTTP receiver standing in for the police
control room, the local police team and the municipality) and two
residents who post in the room. Prints what the desks receive and what
bart says in the room. --stay keeps everything running for you to chat."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "lib"))
import barttest  # noqa: E402

MESSAGES = [
    ("anna", "Er is nu iemand aan het inbreken bij nr 12, ik zie hem met een koevoet bij het raam!"),
    ("piet", "De lantaarnpaal bij de speeltuin is al een week kapot, het is daar aardedonker"),
    ("anna", "Wie heeft er zin in de buurtbarbecue zaterdag? Ik neem salades mee"),
]
DESKS = [("politie-spoed", "Meldkamer politie"),
         ("politie", "Wijkteam politie"), ("gemeente", "Gemeente")]


class XmppScene:
    """Prosody, a room, residents anna and piet (slixmpp)."""

    def __init__(self, work):
        from prosody import Prosody
        self.server = Prosody(os.path.join(work, "prosody"))
        self.server.start()
        self.room = self.server.room("lombok")
        self.people = {}

    def account(self, work):
        return self.server.bart_account("bart", "bart-demo-pw", [self.room],
                                        neighbourhood="lombok",
                                        ping_interval=20, ping_timeout=20)

    def residents(self):
        from prosody import Resident
        for name in ("anna", "piet"):
            r = Resident(self.server, name, name + "-pw").start()
            r.join(self.room, name.capitalize())
            self.people[name] = r

    def ready(self, bartd):
        return bartd.wait_log(r"caught up|starts at", 30)

    def say(self, who, text):
        self.people[who].say(self.room, text)

    def bart_said(self):
        return [m["body"] for m in self.people["anna"].messages(self.room)
                if m["nick"] not in ("Anna", "Piet")]

    def how_to_join(self):
        return ("Connect an XMPP client to 127.0.0.1:%d (plaintext, user "
                "piet@%s, password piet-pw) and join %s." % (
                    self.server.port, self.server.domain, self.room))

    def close(self):
        for r in self.people.values():
            r.stop()
        self.server.stop()


class MatrixScene:
    """Synapse (from PyPI, in a virtualenv under the build dir), a room,
    residents anna and piet."""

    def __init__(self, work):
        from synapse import Synapse
        print("Setting up Synapse (the first time installs it with pip)...")
        self.hs = Synapse.create(name="demo-synapse")
        self.hs.start()
        self.bot_pw = "bart-demo-" + barttest.uuid4()
        self.bot = self.hs.register("bart", self.bot_pw)
        self.anna = self.hs.register("anna", "anna-pw")
        self.piet = self.hs.register("piet", "piet-pw")
        self.room = self.anna.create_room(
            name="Buurtpreventie Lombok",
            invite=[self.bot.user_id, self.piet.user_id])
        self.piet.join(self.room)
        self.work = work

    def account(self, work):
        pw = barttest.write_secret(os.path.join(work, "matrix.pass"),
                                   self.bot_pw)
        return {"id": "mx", "homeserver": self.hs.base,
                "user": self.bot.user_id, "password_file": pw,
                "sync_timeout": 10,
                "rooms": [{"id": self.room, "neighbourhood": "lombok"}]}

    def residents(self):
        pass

    def ready(self, bartd):
        return bartd.wait_log(r"in sync", 60)

    def say(self, who, text):
        {"anna": self.anna, "piet": self.piet}[who].send_text(self.room,
                                                             text)

    def bart_said(self):
        return [e["content"].get("body", "") for e in
                self.anna.messages(self.room)
                if e.get("sender") == self.bot.user_id and
                e.get("type") == "m.room.message"]

    def how_to_join(self):
        return ("Log in with a Matrix client at %s as piet, password "
                "piet-pw; the room is %s." % (self.hs.base, self.room))

    def close(self):
        self.hs.cleanup()


def main():
    matrix = "--matrix" in sys.argv
    stay = "--stay" in sys.argv
    work = barttest.workdir("demo-matrix" if matrix else "demo")
    scene = MatrixScene(work) if matrix else XmppScene(work)
    desk = barttest.DeskReceiver()
    bartd = None
    try:
        net = {"matrix" if matrix else "xmpp": [scene.account(work)]}
        cfg = barttest.bart_config(
            work, os.path.join(os.environ["top_srcdir"], "rules"), desk.url,
            neighbourhoods=[{"id": "lombok", "name": "Lombok"}],
            desks=[{"id": d, "name": n, "type": "webhook",
                    "url": desk.url + d} for d, n in DESKS],
            log_level="info", **net)
        bartd = barttest.Bartd(cfg).start()
        print("bartd started (log: %s)" % bartd.log)
        scene.residents()
        if not scene.ready(bartd):
            print("bartd did not get into the room; its log:\n" +
                  bartd.tail())
            return 1
        time.sleep(1)
        for who, text in MESSAGES:
            print("\n%s says in the room:\n    %s" % (who.capitalize(), text))
            scene.say(who, text)
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
        print("\n=== What bart said in the room")
        for body in scene.bart_said():
            print("    <bart> %s" % body)
        if stay:
            print("\nStill running. " + scene.how_to_join() +
                  " Desk posts are printed here. Ctrl-C stops.")
            seen = len(desk.accepted())
            try:
                while True:
                    time.sleep(1)
                    for req in desk.accepted()[seen:]:
                        b = req["body"] or {}
                        print("desk %s: %s/%s: %s" % (
                            req["path"], b.get("category"),
                            b.get("urgency"), b.get("text")))
                    seen = len(desk.accepted())
            except KeyboardInterrupt:
                pass
        return 0 if desk.accepted() else 1
    finally:
        if bartd:
            bartd.stop()
        desk.close()
        scene.close()


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    # Leave without tearing down slixmpp's finished event loops again
    # (they would print noise about destroyed tasks).
    os._exit(rc)
