#!/usr/bin/env python3
"""grep_time.py: the GNU grep baseline of the matching benchmark.

  grep_time.py [--pin "taskset -c 1"] [--secs S] [--locale L] PATTERNS MESSAGES WORKDIR

Times (CPU seconds, user + system) `LC_ALL=L grep -c -E -i -f PATTERNS FILE`
over enough copies of the messages to fill about S seconds, minus the time
grep needs to compile the patterns alone (grep over an empty file). grep runs with a 2 GiB
address-space cap and a time limit, because its DFA can grow very large.
Prints one line "msgs/s compile-ms matched-fraction", or "-1 -1 -1" if grep
failed or gave up (the reason goes to stderr).
"""
import argparse
import os
import resource
import subprocess
import sys


class GrepFailed(Exception):
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pin", default="")
    ap.add_argument("--secs", type=float, default=2.5)
    ap.add_argument("--locale", default="C.UTF-8")
    ap.add_argument("--mem-gib", type=int, default=2)
    ap.add_argument("patterns")
    ap.add_argument("messages")
    ap.add_argument("workdir")
    a = ap.parse_args()
    env = dict(os.environ, LC_ALL=a.locale)
    cmd = a.pin.split() + ["grep", "-c", "-E", "-i", "-f", a.patterns]
    cap_bytes = a.mem_gib << 30

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    def cpu():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def run(path, limit):
        """CPU seconds grep took (not wall: the machine may be shared)."""
        t = cpu()
        try:
            p = subprocess.run(cmd + [path], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=cap, timeout=limit)
        except subprocess.TimeoutExpired:
            raise GrepFailed("no answer within %.0f s" % limit)
        dt = cpu() - t
        if p.returncode not in (0, 1):      # 2: error; < 0: killed
            raise GrepFailed("exit %d: %s" % (p.returncode, p.stderr.strip()))
        return dt, int(p.stdout.strip() or 0)

    def write(path, lines):
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(l + "\n" for l in lines))

    with open(a.messages, encoding="utf-8") as f:
        lines = f.read().splitlines()
    os.makedirs(a.workdir, exist_ok=True)
    empty = os.path.join(a.workdir, "grep-empty.txt")
    sample = os.path.join(a.workdir, "grep-input.txt")
    try:
        write(empty, [])
        c0 = min(run(empty, 120)[0] for _ in range(2))
        k = min(len(lines), 500)
        write(sample, lines[:k])
        t1, _ = run(sample, c0 + 60)
        rate = k / max(t1 - c0, 1e-3)
        n = max(k, int(rate * a.secs))
        write(sample, [lines[i % len(lines)] for i in range(n)])
        t1, _ = run(sample, c0 + 4 * a.secs + 60)
        if n >= len(lines):
            _, hits = run(a.messages, c0 + 4 * a.secs + 60)
            frac = hits / len(lines)
        else:
            frac = -1
    except GrepFailed as e:
        sys.stderr.write("grep baseline: %s\n" % e)
        print("-1 -1 -1")
        return
    finally:
        for p in (empty, sample):
            if os.path.exists(p):
                os.unlink(p)
    print("%.0f %.1f %.4f" % (n / max(t1 - c0, 1e-6), c0 * 1e3, frac))


if __name__ == "__main__":
    main()
