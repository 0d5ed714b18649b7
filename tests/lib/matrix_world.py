"""matrix_world.py: the scene of bart's Matrix end-to-end tests.

A real Synapse (tests/lib/synapse.py), the bot's account and residents,
rooms, desk receivers (barttest.DeskReceiver, one URL path per desk), a
bart config for them and bartd itself (barttest.Bartd). Runs under
Debian's python3 with the standard library only.
"""

import json
import os
import re
import shutil
import subprocess
import time

import barttest
from synapse import Synapse

# Default routes of DESIGN.md: (category, urgency) -> desk id.
SPOED_DESK = {"inbraak", "diefstal", "verdacht", "geweld", "brand",
              "vermist", "verkeer", "sociaal"}
POLITIE = {"inbraak", "diefstal", "verdacht", "geweld", "vermist",
           "verkeer"}
GEMEENTE = {"overlast", "vandalisme", "openbare-ruimte", "sociaal"}
DESK_NAMES = {"politie-spoed": "Meldkamer politie",
              "politie": "Wijkteam politie",
              "gemeente": "Gemeente"}


def rules_dir():
    """The rules bartd loads in these tests: the project's rules/ (or
    $BART_TEST_RULES, for trying a rule set under development)."""
    return os.environ.get("BART_TEST_RULES") or \
        os.path.join(barttest.srcdir(), "rules")


def expected_desk(category, urgency):
    """Where the default routes send a decision; None = nowhere."""
    if category is None or urgency in (None, "info"):
        return None
    if urgency == "spoed" and category in SPOED_DESK:
        return "politie-spoed"
    if urgency == "normaal" and category in POLITIE:
        return "politie"
    if category in GEMEENTE or category == "brand":
        return "gemeente"
    return None


def decide(texts):
    """What the rule set in rules/ decides for each text, through
    `bartctl rules test --json` (the same rules bartd loads): a list of
    (category, urgency) in order."""
    d = barttest.workdir("decide")
    path = os.path.join(d, "msgs.txt")
    try:
        return _decide(texts, path)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _decide(texts, path):
    with open(path, "w") as f:
        for t in texts:
            f.write(t.replace("\n", " ").replace("\x00", "") + "\n")
    out = subprocess.run(
        [os.path.join(barttest.builddir(), "src", "bartctl"), "rules",
         "test", "--json", rules_dir(), path],
        stdout=subprocess.PIPE, check=True, timeout=300).stdout.decode()
    res = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            o = json.loads(line)
            res[o["line"]] = (o.get("category"), o.get("urgency"))
    return [res.get(i + 1, (None, None)) for i in range(len(texts))]


class World:
    """Synapse + bot + residents alice and bob + desk receiver + config."""

    def __init__(self, name, tap, rc_message=None):
        self.t = tap
        self.name = name
        self.dir = barttest.workdir(name)
        t0 = time.monotonic()
        self.hs = Synapse.create(name="synapse-" + name,
                                 rc_message=rc_message)
        self.hs.start()
        self.bot_password = "bart-" + barttest.uuid4()
        self.bot = self.hs.register("bart", self.bot_password)
        self.alice = self.hs.register("alice")
        self.bob = self.hs.register("bob")
        if rc_message:
            # Only bart is held to rc_message; residents post freely.
            admin = self.hs.register("admin", admin=True)
            for c in (self.alice, self.bob):
                self.hs.unlimit(admin, c.user_id)
        self.setup_seconds = time.monotonic() - t0
        self.desk = barttest.DeskReceiver()
        self.rooms = []         # dicts of the config's rooms
        self.bartd = None
        self.env = {}

    def add_room(self, room_id, neighbourhood, cfg_id=None):
        self.rooms.append({"id": cfg_id or room_id,
                           "neighbourhood": neighbourhood})

    def token_account(self, acct_id, client, rooms, sync_timeout=5):
        """A second bot account that logs in with an access token file
        (the token of client's own device)."""
        tok = barttest.write_secret(os.path.join(self.dir, acct_id +
                                                 ".token"), client.token)
        return {"id": acct_id, "homeserver": self.hs.base,
                "user": client.user_id, "access_token_file": tok,
                "sync_timeout": sync_timeout, "rooms": rooms}

    def write_config(self, homeserver=None, sync_timeout=5, extra=None,
                     accounts=()):
        d = self.dir
        pw = barttest.write_secret(os.path.join(d, "bot.pass"),
                                   self.bot_password)
        key = barttest.write_secret(os.path.join(d, "hmac.key"),
                                    "k" * 32)
        acct = {"id": "mx", "homeserver": homeserver or self.hs.base,
                "user": self.bot.user_id, "password_file": pw,
                "sync_timeout": sync_timeout, "rooms": self.rooms}
        cfg = {
            "state_dir": os.path.join(d, "state"),
            "rules_dir": rules_dir(),
            "hmac_key_file": key,
            "log_level": "debug",
            "neighbourhoods": [{"id": "lombok", "name": "Lombok"},
                               {"id": "oog-in-al", "name": "Oog in Al"}],
            "matrix": [acct] + list(accounts),
            "desks": [{"id": k, "name": v, "type": "webhook",
                       "url": self.desk.url + k, "timeout": 5}
                      for k, v in DESK_NAMES.items()],
        }
        if extra:
            cfg.update(extra)
        self.config = barttest.write_yaml(os.path.join(d, "bart.yaml"), cfg)
        return self.config

    def start_bartd(self, env=None):
        self.env.update(env or {})
        if self.bartd is None:
            self.bartd = barttest.Bartd(self.config, env=self.env)
        self.bartd.start()
        return self.bartd.wait_log(r"matrix mx: in sync", 60)

    # ---- what the desks and the rooms show

    def reports(self):
        """Accepted desk POSTs as (desk, report) pairs."""
        out = []
        for r in self.desk.accepted():
            if isinstance(r["body"], dict):
                out.append((r["path"].strip("/"), r["body"]))
        return out

    def notices(self, client, room_id, bot=None):
        """bart's m.notice events in a room, oldest first."""
        bot = bot or self.bot
        return [e for e in client.messages(room_id)
                if e.get("sender") == bot.user_id and
                e.get("type") == "m.room.message" and
                e.get("content", {}).get("msgtype") == "m.notice"]

    @staticmethod
    def reply_to(ev):
        return ev.get("content", {}).get("m.relates_to", {}) \
            .get("m.in_reply_to", {}).get("event_id")

    def close(self):
        if self.bartd:
            self.bartd.stop()
        self.desk.close()
        # Synapse's dir (its log) stays after a failure, like the work dir.
        keep = os.environ.get("BART_KEEP_TMP") or self.t.failed
        self.hs.cleanup(keep=bool(keep))
        if keep:
            self.t.diag("synapse dir: %s" % self.hs.workdir)

    def bot_devices(self):
        return sorted(d["device_id"] for d in self.bot.devices())

    def token_in_log(self):
        """True if any access token of the bot appears in bartd's log."""
        tokens = {self.bot.token}
        st = os.path.join(self.dir, "state")
        for f in os.listdir(st) if os.path.isdir(st) else []:
            if f.startswith("matrix-") and f.endswith(".json"):
                with open(os.path.join(st, f)) as fp:
                    tok = json.load(fp).get("access_token")
                if tok:
                    tokens.add(tok)
        log = self.bartd.logtext(False) if self.bartd else ""
        return any(t and t in log for t in tokens)


def sanitizer_errors(log):
    """Lines where ASan/UBSan/LSan reported something."""
    return [l for l in log.splitlines()
            if re.search(r"(AddressSanitizer|LeakSanitizer|runtime error:)",
                         l)]
