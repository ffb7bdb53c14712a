"""Timing parity of client authentication at POST /oauth/token (bench/timing.sh runs it).

Sends client_credentials requests of several kinds over one keep-alive connection,
one at a time, in rounds: every round is a fresh random permutation of the kinds, so
machine noise and drift hit every kind alike. Times each request from sending to the
end of the body (time.perf_counter_ns), drops the warm-up rounds, and reports per kind
the median, p90, p99 and mean, and against the unknown-client kind the ratio of
medians with a bootstrap 95 % interval and a Mann-Whitney U test.

Kinds (those whose client is given in the environment):
  unknown         a client id that does not exist (one fixed id), a random secret
  wrong           a registered client's id, a random secret
  right           the same client's secret (reference: answered from the cache)
  overlap_wrong   a client in a secret-rotation overlap, a random secret
  disabled_wrong  a disabled client, a random secret

Random secrets have the form and length of real ones. Environment: TIMING_URL,
TIMING_SAMPLES (per kind, default 2000), TIMING_WARMUP (rounds, default 20),
TIMING_SEED, TIMING_BOOTSTRAP (resamples, default 2000), TIMING_TOLERANCE (a ratio
within 1 ± this counts as parity even when detectable, default 0.05), and the
credentials KG_KNOWN_ID, KG_KNOWN_SECRET, KG_OVERLAP_ID, KG_DISABLED_ID.
"""

import base64
import http.client
import math
import os
import random
import secrets
import statistics
import string
import sys
import time
import urllib.parse

URL = urllib.parse.urlsplit(os.environ.get("TIMING_URL", "http://127.0.0.1:18500"))
SAMPLES = int(os.environ.get("TIMING_SAMPLES", "2000"))
WARMUP = int(os.environ.get("TIMING_WARMUP", "20"))
SEED = int(os.environ.get("TIMING_SEED", str(secrets.randbits(32))))
BOOTSTRAP = int(os.environ.get("TIMING_BOOTSTRAP", "2000"))
TOLERANCE = float(os.environ.get("TIMING_TOLERANCE", "0.05"))

known_id = os.environ["KG_KNOWN_ID"]
known_secret = os.environ["KG_KNOWN_SECRET"]
rng = random.Random(SEED)


def look_alike(value):
    """A random string of the same form: the same prefix (up to the first '_') and
    length, then random hex for hex, else a random character of the same class (digit,
    lower or upper case letter) at each position, other characters kept."""
    prefix, _, rest = value.partition("_")
    if rest and all(c in "0123456789abcdef" for c in rest):  # a client id: a UUID's hex
        return prefix + "_" + "".join(secrets.choice("0123456789abcdef") for _ in rest)

    def same_class(c):
        for alphabet in (string.digits, string.ascii_lowercase, string.ascii_uppercase):
            if c in alphabet:
                return secrets.choice(alphabet)
        return c

    return prefix + "_" + "".join(same_class(c) for c in rest)


unknown_id = look_alike(known_id)
# kind -> (client id, secret or None for a fresh random one each time, expected status)
KINDS = {
    "unknown": (unknown_id, None, 401),
    "wrong": (known_id, None, 401),
    "right": (known_id, known_secret, 200),
}
if os.environ.get("KG_OVERLAP_ID"):
    KINDS["overlap_wrong"] = (os.environ["KG_OVERLAP_ID"], None, 401)
if os.environ.get("KG_DISABLED_ID"):
    KINDS["disabled_wrong"] = (os.environ["KG_DISABLED_ID"], None, 401)

conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)
reconnects = 0


def send(kind):
    """One request; returns (elapsed ns, status)."""
    global reconnects
    client_id, secret, _ = KINDS[kind]
    secret = secret or look_alike(known_secret)
    basic = base64.b64encode(
        f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}".encode()
    ).decode()
    headers = {
        "Authorization": "Basic " + basic,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    if conn.sock is None:
        conn.connect()  # outside the timed interval
        reconnects += 1
    start = time.perf_counter_ns()
    conn.request("POST", "/oauth/token", body="grant_type=client_credentials", headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter_ns() - start
    return elapsed, response.status


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def mann_whitney(a, b):
    """U of b against a, P(b > a) (ties count half), and the two-sided p-value of the
    normal approximation with the tie correction."""
    combined = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    n1, n2, n = len(a), len(b), len(a) + len(b)
    rank_sum_b, tie_term, i = 0.0, 0.0, 0
    while i < n:
        j = i
        while j + 1 < n and combined[j + 1][0] == combined[i][0]:
            j += 1
        rank = (i + j) / 2 + 1
        t = j - i + 1
        tie_term += t**3 - t
        rank_sum_b += rank * sum(1 for k in range(i, j + 1) if combined[k][1] == 1)
        i = j + 1
    u_b = rank_sum_b - n2 * (n2 + 1) / 2
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    z = (u_b - mean) / sd if sd else 0.0
    return u_b / (n1 * n2), math.erfc(abs(z) / math.sqrt(2)), z


def bootstrap_ratio(a, b):
    """95 % percentile-bootstrap interval of median(b) / median(a)."""
    ratios = []
    for _ in range(BOOTSTRAP):
        ma = statistics.median(rng.choices(a, k=len(a)))
        mb = statistics.median(rng.choices(b, k=len(b)))
        ratios.append(mb / ma)
    ratios.sort()
    return percentile(ratios, 2.5), percentile(ratios, 97.5)


def main():
    kinds = list(KINDS)
    times = {k: [] for k in kinds}
    bad = {k: {} for k in kinds}
    rounds = WARMUP + SAMPLES
    print(f"{len(kinds)} kinds x {SAMPLES} samples (+{WARMUP} warm-up rounds), one keep-alive "
          f"connection, sequential, random order per round (seed {SEED})", flush=True)
    started = time.monotonic()
    for r in range(rounds):
        order = kinds[:]
        rng.shuffle(order)
        for kind in order:
            elapsed, status = send(kind)
            if status != KINDS[kind][2]:
                bad[kind][status] = bad[kind].get(status, 0) + 1
            elif r >= WARMUP:
                times[kind].append(elapsed / 1e6)
        if (r + 1) % max(1, rounds // 10) == 0:
            print(f"  {r + 1}/{rounds} rounds, {time.monotonic() - started:.0f} s", flush=True)

    print(f"\n{'kind':<15} {'n':>6} {'median':>9} {'p90':>9} {'p99':>9} {'mean':>9}   (ms)  unexpected statuses")
    stats = {}
    for kind in kinds:
        values = sorted(times[kind])
        if not values:
            print(f"{kind:<15} {0:>6}   no samples  {bad[kind]}")
            continue
        stats[kind] = values
        print(f"{kind:<15} {len(values):>6} {statistics.median(values):>9.3f} "
              f"{percentile(values, 90):>9.3f} {percentile(values, 99):>9.3f} "
              f"{statistics.fmean(values):>9.3f}         {bad[kind] or '-'}")
    if reconnects > 1:
        print(f"(the connection was re-opened {reconnects - 1} times; connect time is not timed)")

    failed = any(bad[k] for k in kinds) or "unknown" not in stats
    if "unknown" in stats:
        base = stats["unknown"]
        print(f"\nagainst 'unknown' (median {statistics.median(base):.3f} ms): ratio of medians with "
              f"a {BOOTSTRAP}-resample bootstrap 95 % interval; Mann-Whitney U: P(kind slower "
              f"than unknown), two-sided p")
        for kind in kinds:
            if kind == "unknown" or kind not in stats:
                continue
            other = stats[kind]
            ratio = statistics.median(other) / statistics.median(base)
            low, high = bootstrap_ratio(base, other)
            superiority, p, _ = mann_whitney(base, other)
            diff = statistics.median(other) - statistics.median(base)
            if kind == "right":
                verdict = "reference (a cached verification: no argon2)"
            elif low <= 1.0 <= high and p >= 0.05:
                verdict = "within noise (no detectable difference)"
            elif abs(ratio - 1) <= TOLERANCE:
                verdict = f"detectable, but within {TOLERANCE:.0%}"
            else:
                # The promise: an unknown or disabled client id, a wrong secret, and
                # a wrong secret during a rotation's overlap all cost the same. A
                # difference beyond the tolerance fails the run.
                verdict = "DIFFERENT"
                failed = True
            print(f"  {kind:<15} {ratio:6.3f}  [{low:.3f}, {high:.3f}]  {diff:+8.3f} ms  "
                  f"P={superiority:.3f} p={p:.2g}  {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
