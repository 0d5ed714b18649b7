#!/usr/bin/env python3
"""gen_rules.py: deterministic generators for the bart matching benchmark.

Plain python3, no dependencies.

  gen_rules.py rules N OUTDIR [--seed S] [--dict FILE]
      N generated rules in OUTDIR/rules/*.yaml (one file a category, the
      format of DESIGN.md "Rules, as moderators see them"), and the same
      rules as flat pattern lists for the baselines:
      OUTDIR/patterns.pcre (PCRE2 syntax, one pattern a line) and
      OUTDIR/patterns.ere (GNU grep -E syntax, same patterns, same order).
  gen_rules.py messages N OUTFILE [--seed S] [--dict FILE] [--corpus TSV]
      N chat messages, one a line: corpus lines, recombined fragments,
      chit-chat and dictionary words, so most rules miss most messages.
  gen_rules.py patterns RULESDIR OUTDIR
      Best-effort export of a hand-written rules dir (keywords, all, any,
      unless strings) to OUTDIR/patterns.pcre and OUTDIR/patterns.ere.
  gen_rules.py pathological OUTDIR
      A small rule set with catastrophically backtracking regexes
      (OUTDIR/rules/patho.yaml) and hostile messages (OUTDIR/messages.txt).
"""

import argparse
import os
import random
import re
import sys

CATEGORIES = ["inbraak", "diefstal", "verdacht", "geweld", "brand",
              "overlast", "vandalisme", "verkeer", "openbare-ruimte",
              "sociaal", "vermist"]
URGENCIES = ["spoed", "normaal", "normaal", "normaal", "info"]

# Used when the dictionary is missing (wdutch not installed): the harness
# still runs, but the figures are then not comparable.
FALLBACK_WORDS = """
aanrijding achterdeur afval alarm auto balkon bank brand brandweer
brievenbus brommer buren bushalte container deurbel dief drugs fiets
flat garage gebroken geschreeuw gestolen gevaarlijk graffiti herrie
inbraak inbreker jongeren kapot kelder kenteken koevoet lantaarn lawaai
matras mes muziek overlast pakket park parkeerplaats politie portiek
raam ratten rook ruit schuur scooter slot speeltuin steen stoep straat
tuin verdacht vermist vuurwerk winkel woning zaklamp
""".split()

FUNCTION_WORDS = """
de het een en van in op bij met voor aan uit naar door over is zijn was
er hier daar nu net al nog ook maar wel niet geen wie wat waar weet
iemand ik je we ze hij zij die dat dit heeft hebben moet kan gaat
""".split()

# The normaliser collapses runs of 3+ identical letters; generated words
# and example texts avoid them so examples stay exact.
TRIPLE = re.compile(r"(.)\1\1")

CHITCHAT = [
    "Goedemorgen allemaal", "Hoi buren", "Weet iemand", "Even een vraagje",
    "Dank jullie wel", "Goed om te weten", "Ik zag net", "Let even op",
    "Heeft iemand anders dit ook", "Top, dank je", "Zo dan", "Klopt",
    "Nog even over gisteren", "Fijne avond allemaal", "Haha ja",
    "Is er iemand die", "Volgens mij", "Voor de duidelijkheid",
]
EMOJI = ["", "", "", "", " 👍", " 😂", " 🙏", " !!", "!!!", "?", " 😱"]


def load_words(path):
    """Lower-case dictionary words of 4..16 ASCII letters, sorted."""
    words = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                w = line.strip()
                if re.fullmatch(r"[a-z]{4,16}", w) and \
                        not TRIPLE.search(w):
                    words.append(w)
    except OSError:
        sys.stderr.write("gen_rules: %s unreadable, using a tiny word list\n"
                         % path)
        words = list(FALLBACK_WORDS)
    return sorted(set(words))


def load_streets(path):
    """Capitalised street names from the dictionary (…straat, …laan, …)."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                w = line.strip()
                if re.fullmatch(r"[A-Z][a-z]+(straat|laan|weg|plein|dreef|"
                                r"singel|kade|hof)", w):
                    out.append(w)
    except OSError:
        pass
    return sorted(out) or ["Dorpsstraat", "Stationsweg", "Kerkplein"]


def load_corpus(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                parts = line.split("\t")
                out.append(parts[-1])
    except OSError:
        sys.stderr.write("gen_rules: %s unreadable, no corpus lines\n" % path)
    return out or ["er is iets aan de hand in de straat"]


def yq(s):
    """YAML single-quoted scalar (no escapes inside, '' for a quote)."""
    return "'" + s.replace("'", "''") + "'"


def ylist(items):
    return "[" + ", ".join(yq(i) for i in items) + "]"


# ---- patterns: PCRE2 syntax, converted to ERE for grep ---------------------
# Generated regexes use only: \b \s \d \w (?: ) | ? * + {m,n} [\s\-] . so the
# conversion below is exact.

SEP = r"[\s\-]*"          # a space or hyphen inside a keyword: any or none


def kw_to_pcre(kw):
    """Keyword (DESIGN.md semantics) to a PCRE2 fragment (no boundaries,
    no leading '*')."""
    kw = kw.lstrip("*")
    parts = [re.escape(p) for p in re.split(r"[\s\-]+", kw) if p]
    return SEP.join(parts)


def pcre_to_ere(p):
    """Exact for the generated patterns; for hand-written ones, lookarounds
    (which ERE lacks) are dropped, so grep's pattern is a little looser."""
    p = re.sub(r"\(\?<?[!=][^()]*\)", "", p)
    p = p.replace("(?:", "(")
    p = p.replace(r"[\s\-]", "[[:space:]-]")
    p = p.replace(r"\d", "[0-9]")
    return p


def keyword_alternation(kws):
    """Whole-word keywords as \\b(?:a|b)\\b; a '*kw' (inside compounds)
    as (?:kw)\\b, which matches the same texts as \\b\\w*kw\\b without
    trying a \\w* run at every position."""
    whole = [kw_to_pcre(k) for k in kws if not k.startswith("*")]
    inside = [kw_to_pcre(k) for k in kws if k.startswith("*")]
    alts = []
    if whole:
        alts.append(r"\b(?:" + "|".join(whole) + r")\b")
    if inside:
        alts.append(r"(?:" + "|".join(inside) + r")\b")
    return "|".join(alts)


def rule_patterns(keywords, alls, anys, unless):
    """The patterns the PCRE2 loop and grep run for one rule: the plain
    keywords as one \\b(?:...)\\b alternation, every regex on its own."""
    pats = []
    for group in (keywords, alls, anys, unless):
        plain = [k for k in group if not is_regex(k)]
        if plain:
            pats.append(keyword_alternation(plain))
        for k in group:
            if is_regex(k):
                pats.append(k[1:-1])
    return pats


def is_regex(s):
    return len(s) >= 2 and s.startswith("/") and s.endswith("/")


# ---- rules -----------------------------------------------------------------

class Gen:
    def __init__(self, rnd, words):
        self.r = rnd
        self.words = words

    def word(self):
        return self.r.choice(self.words)

    def keyword(self):
        """A keyword and a text that realises it (retried until the text
        has no run of 3 identical letters, which the normaliser collapses)."""
        while True:
            kw, txt = self._keyword()
            if not TRIPLE.search(txt):
                return kw, txt

    def regex(self):
        """A PCRE2 regex (as '/.../') and a text that matches it."""
        while True:
            rx, txt = self._regex()
            if not TRIPLE.search(txt):
                return rx, txt

    def _keyword(self):
        x = self.r.random()
        if x < 0.15:                        # *compound: matches inside words
            w = self.word()
            return "*" + w, self.word()[:5] + w
        if x < 0.30:                        # multi-word
            a, b = self.word(), self.word()
            return a + " " + b, a + self.r.choice([" ", "-", ""]) + b
        if x < 0.35:                        # hyphenated compound
            a, b = self.word(), self.word()
            return a + "-" + b, a + " " + b
        w = self.word()
        return w, w

    def _regex(self):
        x = self.r.random()
        if x < 0.40:                        # word alternation
            ws = [self.word() for _ in range(self.r.randint(2, 5))]
            return "/\\b(?:" + "|".join(ws) + ")\\b/", self.r.choice(ws)
        if x < 0.60:                        # stem with endings
            w = self.word()
            stem = w[:max(4, len(w) - 2)]
            return ("/\\b" + stem + "(?:en|t|de|den|ing)?\\b/",
                    stem + self.r.choice(["", "en", "t", "ing"]))
        if x < 0.80:                        # word followed by a number
            ws = [self.word() for _ in range(self.r.randint(1, 3))]
            return ("/\\b(?:" + "|".join(ws) + ")\\s+(?:nr\\s*)?\\d{1,3}\\b/",
                    self.r.choice(ws) + " " + str(self.r.randint(1, 200)))
        a, b = self.word(), self.word()   # two words close together
        return ("/\\b" + a + "\\b.{0,40}\\b" + b + "\\b/",
                a + " en " + b)


def rule_words(args):
    """Words rules draw keywords from: dictionary words of 6+ letters that
    are not everyday chat vocabulary (the corpus, chit-chat and function
    words), so that, as with real rules, most rules miss most messages;
    generated messages still hit some rules through dictionary words."""
    vocab = set(FUNCTION_WORDS)
    for line in load_corpus(args.corpus) + CHITCHAT:
        vocab.update(re.findall(r"\w+", line.lower()))
    words = [w for w in load_words(args.dict)
             if len(w) >= 6 and w not in vocab]
    return words or list(FALLBACK_WORDS)


def gen_rules(args):
    rnd = random.Random(args.seed)
    words = rule_words(args)
    g = Gen(rnd, words)
    n = args.n
    out_rules = os.path.join(args.outdir, "rules")
    os.makedirs(out_rules, exist_ok=True)
    for f in os.listdir(out_rules):
        if f.endswith((".yaml", ".yml", ".rules")):
            os.unlink(os.path.join(out_rules, f))
    by_cat = {c: [] for c in CATEGORIES}
    patterns = []
    nregex = 0
    for i in range(n):
        cat = rnd.choice(CATEGORIES)
        urg = rnd.choice(URGENCIES)
        keywords, realise = [], []
        alls, anys, unless = [], [], []
        ex_extra = []
        has_regex = rnd.random() < 0.25
        if has_regex:
            nregex += 1
            mode = rnd.random()
            if mode < 0.5:                   # the regex is the trigger
                rx, txt = g.regex()
                keywords.append(rx)
                realise.append(txt)
                if rnd.random() < 0.5:
                    kw, txt = g.keyword()
                    keywords.append(kw)
            else:                            # keywords plus a regex condition
                for _ in range(rnd.randint(1, 4)):
                    kw, txt = g.keyword()
                    keywords.append(kw)
                    realise.append(txt)
                rx, txt = g.regex()
                alls.append(rx)
                ex_extra.append(txt)
        else:
            for _ in range(rnd.randint(2, 6)):
                kw, txt = g.keyword()
                keywords.append(kw)
                realise.append(txt)
            if rnd.random() < 0.10:
                kw, txt = g.keyword()
                alls.append(kw)
                ex_extra.append(txt)
        if rnd.random() < 0.15:
            if rnd.random() < 0.5:
                w = g.word()
                unless.append(w)
                cex = w
            else:
                a, b = g.word(), g.word()
                unless.append("/\\b(?:" + a + "|" + b + ")\\b/")
                cex = b
        else:
            cex = None
        rid = "gen-%s-%05d" % (cat, i)
        title = "Gegenereerd %d: %s" % (i, realise[0])
        example = "ik zag %s bij %s nu" % (
            rnd.choice(realise), " en ".join(ex_extra) if ex_extra else "ons")
        y = ["- id: " + rid,
             "  title: " + yq(title),
             "  category: " + cat,
             "  urgency: " + urg,
             "  score: %d" % rnd.choice([3, 4, 4, 5, 5, 5]),
             "  keywords: " + ylist(keywords)]
        if alls:
            y.append("  all: " + ylist(alls))
        if anys:
            y.append("  any: " + ylist(anys))
        if unless:
            y.append("  unless: " + ylist(unless))
        y.append("  examples: " + ylist([example]))
        y.append("  counter-examples: " + ylist(
            [example + " " + cex] if cex else ["ik zag niks bij ons nu"]))
        by_cat[cat].append("\n".join(y))
        patterns.extend(rule_patterns(keywords, alls, anys, unless))
    for cat, blocks in by_cat.items():
        if not blocks:
            continue
        with open(os.path.join(out_rules, "gen-%s.yaml" % cat), "w",
                  encoding="utf-8") as f:
            f.write("# Generated by bench/gen_rules.py (seed %d, %d rules); "
                    "do not edit.\n" % (args.seed, n))
            f.write("\n\n".join(blocks) + "\n")
    write_patterns(args.outdir, patterns)
    sys.stderr.write("gen_rules: %d rules (%d with a regex), %d patterns "
                     "in %s\n" % (n, nregex, len(patterns), args.outdir))


def write_patterns(outdir, patterns):
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "patterns.pcre"), "w",
              encoding="utf-8") as f:
        for p in patterns:
            f.write(p + "\n")
    with open(os.path.join(outdir, "patterns.ere"), "w",
              encoding="utf-8") as f:
        for p in patterns:
            f.write(pcre_to_ere(p) + "\n")


# ---- messages --------------------------------------------------------------

def gen_messages(args):
    rnd = random.Random(args.seed + 1)
    words = load_words(args.dict)
    streets = load_streets(args.dict)
    corpus = load_corpus(args.corpus)
    frags = []
    for line in corpus:
        for fr in re.split(r"[,.!?:]+", line):
            fr = fr.strip()
            if len(fr) > 8:
                frags.append(fr)

    def dictwords(k):
        return " ".join(rnd.choice(words) for _ in range(k))

    def babble(k):
        out = []
        for _ in range(k):
            out.append(rnd.choice(words) if rnd.random() < 0.3
                       else rnd.choice(FUNCTION_WORDS))
        return " ".join(out)

    out = []
    for _ in range(args.n):
        x = rnd.random()
        if x < 0.25:
            m = rnd.choice(corpus)
        elif x < 0.55:
            m = ", ".join(rnd.choice(frags)
                          for _ in range(rnd.randint(2, 3)))
        elif x < 0.80:
            m = "%s, %s %s" % (rnd.choice(CHITCHAT), rnd.choice(frags),
                               dictwords(rnd.randint(1, 3)))
        elif x < 0.90:
            m = "%s %s in de %s" % (rnd.choice(CHITCHAT), babble(
                rnd.randint(4, 12)), rnd.choice(streets))
        else:
            m = babble(rnd.randint(5, 20))
        if rnd.random() < 0.2:
            m = m.lower()
        if rnd.random() < 0.1:
            m = m.replace(" de ", " de %s " % rnd.choice(streets), 1)
        m += rnd.choice(EMOJI)
        out.append(m.replace("\n", " "))
    with open(args.outfile, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


# ---- export patterns from a hand-written rules dir ------------------------
# Not a YAML parser: enough of YAML's flow and block lists to collect every
# keyword and regex of every rule and cue (nested any/all flattened, @list
# references expanded). For the baselines only.

CONDITION_KEYS = ("keywords", "all", "any", "unless", "none", "not")


def flow_items(text, i):
    """Scalars of the flow collection starting at text[i] ('[' or '{'),
    nesting flattened, map keys dropped. Returns (items, index after)."""
    items, depth = [], 0
    while i < len(text):
        c = text[i]
        if c in "[{":
            depth += 1
            i += 1
        elif c in "]}":
            depth -= 1
            i += 1
            if depth == 0:
                break
        elif c in ", \t\r\n":
            i += 1
        elif c == '"':
            j, out = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                    out.append({"n": "\n", "t": "\t"}.get(text[j], text[j]))
                else:
                    out.append(text[j])
                j += 1
            items.append("".join(out))
            i = j + 1
        elif c == "'":
            j, out = i + 1, []
            while j < len(text):
                if text[j] == "'":
                    if text[j + 1:j + 2] == "'":
                        out.append("'")
                        j += 2
                        continue
                    break
                out.append(text[j])
                j += 1
            items.append("".join(out))
            i = j + 1
        else:
            m = re.compile(r"[^,\[\]{}\n]*?(?=\s*(?:[,\]}\n]|:\s))").match(
                text, i)
            tok = m.group(0).strip() if m else ""
            j = i + max(1, len(m.group(0)) if m else 1)
            if text[j:j + 1] == ":":         # a map key (any:, all:)
                j += 1
            elif tok:
                items.append(tok)
            i = j
    return items, i


def entry_conditions(entry):
    """{key: [scalars]} of one top-level '- ...' block."""
    out = {}
    for m in re.finditer(r"(?m)^(?:- |\s+)(%s)\s*:[ \t]*"
                         % "|".join(CONDITION_KEYS), entry):
        key, i = m.group(1), m.end()
        if entry[i:i + 1] in ("[", "{"):
            items, _ = flow_items(entry, i)
        else:
            line = entry[i:].split("\n", 1)[0].strip()
            if line:
                items = flow_items("[" + line + "]", 0)[0]
            else:                            # block list
                items = []
                for bl in entry[i:].split("\n")[1:]:
                    bm = re.match(r"^\s+- (.*)$", bl)
                    if not bm:
                        break
                    items.extend(flow_items("[" + bm.group(1) + "]", 0)[0])
        out.setdefault(key, []).extend(items)
    return out


def export_patterns(args):
    files = sorted(f for f in os.listdir(args.rulesdir)
                   if f.endswith((".yaml", ".yml", ".rules")))
    entries = []
    for fn in files:
        with open(os.path.join(args.rulesdir, fn), encoding="utf-8") as f:
            text = f.read()
        for block in re.split(r"(?m)^(?=- )", text):
            m = re.match(r"- (\w+)\s*:\s*(\S+)", block)
            if m:
                entries.append((m.group(1), m.group(2),
                                entry_conditions(block)))
    lists = {name: [x for k in ("keywords", "any") for x in c.get(k, [])]
             for kind, name, c in entries if kind == "list"}

    def expand(items, seen=()):
        out = []
        for x in items:
            if x.startswith("@") and x[1:] in lists and x not in seen:
                out.extend(expand(lists[x[1:]], seen + (x,)))
            else:
                out.append(x)
        return out
    patterns = []
    for kind, name, c in entries:
        if kind == "list":
            continue
        patterns.extend(rule_patterns(
            expand(c.get("keywords", [])), expand(c.get("all", [])),
            expand(c.get("any", [])),
            expand(c.get("unless", []) + c.get("none", []) +
                   c.get("not", []))))
    write_patterns(args.outdir, patterns)
    sys.stderr.write("gen_rules: exported %d patterns from %d rules and "
                     "cues in %s\n" % (len(patterns), len(entries) -
                                       len(lists), args.rulesdir))


# ---- pathological ----------------------------------------------------------

PATHO_REGEXES = [
    ("patho-nested-plus", r"(a+)+$"),
    ("patho-nested-word", r"(\w+\s?)+$"),
    ("patho-alternation", r"^(a|ab|b)*c$"),
    ("patho-dot-star", r"(.*a){12}z"),
    ("patho-alt-word", r"\b(\w|\w\w)+\b!x"),
]


def gen_pathological(args):
    rdir = os.path.join(args.outdir, "rules")
    os.makedirs(rdir, exist_ok=True)
    y = []
    for rid, rx in PATHO_REGEXES:
        y.append("\n".join([
            "- id: " + rid,
            "  title: " + yq("Catastrofaal backtracken: " + rx),
            "  category: overlast",
            "  urgency: normaal",
            "  score: 1",
            "  keywords: " + ylist(["/" + rx + "/"]),
        ]))
    y.append("\n".join([
        "- id: patho-normal",
        "  title: Gewone regel ernaast",
        "  category: inbraak",
        "  urgency: spoed",
        "  score: 5",
        "  keywords: [inbreken, ingebroken, '*inbraak']",
        "  examples: ['er wordt nu ingebroken']",
    ]))
    with open(os.path.join(rdir, "patho.yaml"), "w", encoding="utf-8") as f:
        f.write("# Generated by bench/gen_rules.py pathological.\n")
        f.write("\n\n".join(y) + "\n")
    msgs = []
    for n in (30, 100, 1000, 4000, 64000):
        msgs.append("a" * n + "!")                      # (a+)+$
        msgs.append(("ab" * n)[:n] + "!")               # survives 3+ collapse
        msgs.append(" ".join(["woord"] * (n // 6)) + " !")
        msgs.append(("abcdefghijklmnopqrstuvwxyz" * n)[:n] + "!")
    msgs.append("er wordt nu ingebroken bij de buren")
    with open(os.path.join(args.outdir, "messages.txt"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(msgs) + "\n")
    write_patterns(args.outdir, [rx for _, rx in PATHO_REGEXES])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    dflt_dict = "/usr/share/dict/dutch"
    here = os.path.dirname(os.path.abspath(__file__))
    dflt_corpus = os.path.join(here, "..", "tests", "corpus", "dev.tsv")
    p = sub.add_parser("rules")
    p.add_argument("n", type=int)
    p.add_argument("outdir")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--dict", default=dflt_dict)
    p.add_argument("--corpus", default=dflt_corpus)
    p = sub.add_parser("messages")
    p.add_argument("n", type=int)
    p.add_argument("outfile")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--dict", default=dflt_dict)
    p.add_argument("--corpus", default=dflt_corpus)
    p = sub.add_parser("patterns")
    p.add_argument("rulesdir")
    p.add_argument("outdir")
    p = sub.add_parser("pathological")
    p.add_argument("outdir")
    args = ap.parse_args()
    {"rules": gen_rules, "messages": gen_messages,
     "patterns": export_patterns, "pathological": gen_pathological}[
        args.cmd](args)


if __name__ == "__main__":
    main()
