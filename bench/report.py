#!/usr/bin/env python3
"""bench/run.sh's report: computes every target's verdict from the runs of
one invocation, prints the targets and writes bench/results.md.

usage: report.py OUT NGINX DURATION CONNS PUSH_CONNS NONCE_SIZEOF LOGDIR
                 MEM_FILE MEM_MEMORY ROW... -- OP... -- CHECK...
  ROW    name|req/s|p50|p99|non-2xx|records per request|baseline|connections|
         worker CPU us per request;  NAME#K is round K of a compared run
  OP     name|instructions per operation   (worker:name for worker steps)
  CHECK  run|queue growth|acknowledged pushes|connections|new or retry
  MEM_FILE, MEM_MEMORY: the 1 MB push with its body in a temporary file
            and in memory, each
            body bytes|VmHWM kB before|after|RssShmem kB before|after|
            records enqueued|answer

Exits 1 when a sink check fails (a run whose sink did not receive what it
acknowledged measures nothing); a missed target is reported, not fatal.
"""
import json
import os
import platform
import subprocess
import sys
import time

(out, nginx, run_lengths, conns, pconns, nonce_sizeof, logs, mem_file,
 mem_memory) = sys.argv[1:10]
rest = sys.argv[10:]
sep1 = rest.index("--")
sep2 = rest.index("--", sep1 + 1)
rows = [r.split("|") for r in rest[:sep1]]
ops = [o.split("|") for o in rest[sep1 + 1:sep2]]
checks = [c.split("|") for c in rest[sep2 + 1:]]

MIB = 1024 * 1024
# the "constant" of "<= 2x body + constant": what one ordinary request may
# keep besides the body and its records (pools, buffers)
MEM_CONSTANT = 1 * MIB


def ms(s):
    if s.endswith("us"):
        return float(s[:-2]) / 1000
    if s.endswith("ms"):
        return float(s[:-2])
    if s.endswith("s"):
        return float(s[:-1]) * 1000
    return float(s)


by = {r[0]: r for r in rows}
op = {o[0]: int(o[1]) for o in ops}
wall_ops = {o[0][len("wall:"):]: int(o[1]) for o in ops
            if o[0].startswith("wall:")}


def rounds(name):
    """the rows of NAME, or of its rounds NAME#1, NAME#2, ..."""
    return [r for r in rows if r[0] == name or r[0].split("#")[0] == name]


def median(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return float("nan")
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def rps(name):
    return median([float(r[1]) for r in rounds(name)])


def paired(a, b, f):
    """f(row of a, row of b) for each round, the rounds run back to back"""
    return [f(x, y) for x, y in zip(rounds(a), rounds(b))]


def errors(*names):
    return sum(int(r[4]) for n in names for r in rounds(n))


# ---- sink checks: the pipelines really did the work -----------------------

check_lines = []
checks_ok = True
for run, grew, acked, nconn, kind in checks:
    grew, acked, nconn = int(grew), int(acked), int(nconn)
    if kind == "new":
        lo, hi = 50 * acked, 50 * (acked + nconn)
        ok = acked > 0 and lo <= grew <= hi
        want = "%d..%d" % (lo, hi)
    else:
        ok = acked > 0 and grew == 0
        want = "0"
    checks_ok = checks_ok and ok
    check_lines.append("| %s | %d | %d | %s | %s |" % (
        run, acked, grew, want, "ok" if ok else "**FAILED**"))

# ---- memory ------------------------------------------------------------------


class MemoryProbe:
    """one 1 MB push into a fresh worker (see bench/run.sh)"""

    def __init__(self, where, line):
        (body, self.hwm0, self.hwm1, self.shm0, self.shm1, self.enqueued,
         self.answer) = line.split("|", 6)
        self.where = where
        self.body = int(body)
        self.hwm_delta = (int(self.hwm1) - int(self.hwm0)) * 1024
        self.shm_delta = (int(self.shm1) - int(self.shm0)) * 1024
        self.private_peak = self.hwm_delta - self.shm_delta
        self.ok = int(self.enqueued) == 1000 and '"code":0' in self.answer


probes = [MemoryProbe("its body in a temporary file", mem_file),
          MemoryProbe("its body in memory", mem_memory)]

# ---- targets -------------------------------------------------------------------


def verdict(ok, *runs):
    bad = errors(*runs)
    if bad:
        return "**INVALID** (%d non-2xx/errors)" % bad
    return "met" if ok else "**MISSED**"


targets = []


def ratio_text(v, fmt):
    return "median " + fmt % median(v) + " (" + ", ".join(fmt % x for x in v) + ")"


# A requests/s ratio compares the workers only while both are saturated:
# on two CPUs a single wrk thread (that also builds every 46 KB request in
# Lua) can be the slower side, and the ratio then measures wrk.  Each
# round's worker busy share is requests/s x CPU per request; when a worker
# of a compared pair was below SATURATED, the verdict is taken on the
# workers' CPU time per request instead, which is what the requests/s
# ratio would be with both saturated.  Both figures are printed.
SATURATED = 0.90


def busy(r):
    return float(r[1]) * float(r[8]) / 1e6


def compared(a, b):
    """(ratio used for the verdict, text): how much faster a is than b"""
    v = paired(a, b, lambda x, y: float(x[1]) / float(y[1]))
    c = paired(a, b, lambda x, y: float(y[8]) / float(x[8]))
    low = min(busy(r) for r in rounds(a) + rounds(b))
    text = "requests/s %s; worker CPU per request %s; least busy worker " \
           "%.0f %%" % (ratio_text(v, "%.2f"), ratio_text(c, "%.2f"),
                        100 * low)
    if low >= SATURATED:
        return median(v), text + " -> judged on requests/s"
    return median(c), text + " -> judged on CPU per request (not saturated)"


for what, a, b in [("all-new 50-record push, queue sink", "push-new-queue",
                    "push-new-lua"),
                   ("identical retry", "push-retry-queue", "push-retry-lua")]:
    r, text = compared(a, b)
    targets.append((
        what, ">= 5x the Lua peer",
        "%.2fx: %s; %.0f vs %.0f pushes/s" % (r, text, rps(a), rps(b)),
        verdict(r >= 5, a, b)))

# The peer given the module's own retry shortcut: both then read the body
# and answer from its SHA-256, which bounds the ratio whatever else a
# module saves.  Reported beside the target.
a, b = "push-retry-queue", "push-retry-lua-digest"
if rounds(b):
    r, text = compared(a, b)
    peer_us = median([float(x[8]) for x in rounds(b)])
    read_us = float(by["echo-46k"][8])
    digest_us = wall_ops.get("body_digest", 0) / 1000
    targets.append((
        "identical retry, against the peer answering retries from the "
        "body's SHA-256 as the module does", "reported, not a target",
        "%.2fx: %s; %.0f vs %.0f pushes/s; a module that only read the body "
        "(echo-46k, %.1f us) and hashed it (SHA-256 of the 46 KB body, %.1f "
        "us) would be %.1fx the peer's %.0f us" % (
            r, text, rps(a), rps(b), read_us, digest_us,
            peer_us / (read_us + digest_us), peer_us),
        "**INVALID** (%d non-2xx/errors)" % errors(a, b) if errors(a, b)
        else "-"))

r, text = compared("aliyun-verify", "r200")
targets.append((
    "verify-only (Aliyun 9 params)", ">= 85 % of `return 200`",
    "%.1f %%: %s; %.0f vs %.0f req/s; %.1f %% of r200-same-query" % (
        100 * r, text, rps("aliyun-verify"), rps("r200"),
        100 * rps("aliyun-verify") / rps("r200-same-query")),
    verdict(r >= 0.85, "aliyun-verify", "r200")))

n = op.get("parse_push", -1)
targets.append((
    "parse of the 50-record push", "<= 1 M instructions (callgrind)",
    "{:,} instructions".format(n), verdict(0 <= n <= 1000000)))

n = op.get("dedup_lines", -1)
targets.append((
    "NDJSON line", "<= 2,000 instructions per record",
    "{:,} instructions".format(n), verdict(0 <= n <= 2000)))

bad = [m for m in probes if not m.ok]
targets.append((
    "worker memory for a 1 MB Aliyun push",
    "<= 2x body + constant (%d MiB)" % (MEM_CONSTANT // MIB),
    "; ".join(
        "%s: %.1f MB private peak = %.1fx the %.2f MB body (VmHWM +%.1f MB, "
        "of which zone pages +%.1f MB)" % (
            m.where, m.private_peak / 1e6, m.private_peak / m.body,
            m.body / 1e6, m.hwm_delta / 1e6, m.shm_delta / 1e6)
        for m in probes),
    ("**INVALID** (push not enqueued: %s)" % bad[0].answer) if bad
    else verdict(all(m.private_peak <= 2 * m.body + MEM_CONSTANT
                     for m in probes))))

lat = [ms(r[3]) / ms(r[2]) for r in rounds("push-new-queue")]
lat_lua = [ms(r[3]) / ms(r[2]) for r in rounds("push-new-lua")]
p50 = median([ms(r[2]) for r in rounds("push-new-queue")])
p99 = median([ms(r[3]) for r in rounds("push-new-queue")])
targets.append((
    "p99 / p50 latency, new pushes at %s connections" % pconns, "<= 3",
    "%s; p50 %.1f ms, p99 %.1f ms (medians); Lua peer median %.2f" % (
        ratio_text(lat, "%.2f"), p50, p99, median(lat_lua)),
    verdict(median(lat) <= 3 and int(pconns) == 50, "push-new-queue")))

# ---- the report ----------------------------------------------------------------

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "?")
ngv = subprocess.run([nginx, "-v"], capture_output=True,
                     text=True).stderr.strip()
load0 = open(os.path.join(logs, "loadavg-start")).read().split()[:3]
load1 = open("/proc/loadavg").read().split()[:3]
st = [json.load(open(os.path.join(logs, "status-%d.json" % i)))
      for i in range(3)]

L = []
L.append("# make bench results\n")
L.append("Date: %s  " % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rev = subprocess.run(["git", "-C", top, "rev-parse", "--short", "HEAD"],
                     capture_output=True, text=True).stdout.strip() or "?"
# this file itself is rewritten by every run: not a change to the build
dirty = subprocess.run(["git", "-C", top, "status", "--porcelain",
                        "--untracked-files=no", "--", ".",
                        ":!bench/results.md"],
                       capture_output=True, text=True).stdout.strip()
L.append("Build: commit `%s`%s  " % (
    rev, " with uncommitted changes" if dirty else ""))
L.append("Machine: %s CPUs (`nproc`), %s, kernel %s, %s  " % (
    os.cpu_count(), cpu, platform.release(), ngv))
L.append("Load average at the start / end: %s / %s (other work on the "
         "machine moves the absolute figures; the ratios of one run much "
         "less)  " % (" ".join(load0), " ".join(load1)))
L.append("Setup: one nginx worker pinned to CPU 0 (`worker_cpu_affinity`) "
         "for the module and, in a second nginx idle while the other is "
         "measured, for the OpenResty peer (bench/peer); wrk 1 thread "
         "pinned to CPU 1 (`taskset -c 1`), 127.0.0.1, keep-alive, %s, %s "
         "connections (%s for the pushes).\n" % (run_lengths, conns, pconns))

L.append("## Targets (issue 15)\n")
L.append("| benchmark | target | measured | verdict |")
L.append("|---|---|---|---|")
for t in targets:
    L.append("| %s | %s | %s | %s |" % t)
L.append("")

cold = {n: rounds(n) for n in ("push-new-queue-cold", "push-new-lua-cold")}
if all(cold.values()):
    q, l = (float(cold[n][0][8]) for n in cold)
    L.append("The all-new target is judged in the steady state: each round "
             "starts on queues emptied as consumers would, whose memory the "
             "sink has used before.  On memory the queues had never used "
             "(the `-cold` runs, once, before the rounds), where the kernel "
             "zeroes every page a sink touches first, the module took %.0f "
             "us of worker CPU a push and the peer %.0f: %.2fx.\n"
             % (q, l, l / q))

L.append("## Runs\n")
L.append("| benchmark | conns | requests/s | records/s | p50 | p99 | "
         "non-2xx/errors | worker CPU/request | worker busy | baseline | "
         "ratio to baseline |")
L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
for row in rows:
    name, v, p50, p99, bad, recs, base, c, cpu_us = row
    v = float(v)
    recs = int(recs)
    ratio = "-"
    if base != "-" and base in by:
        ratio = "%.1f%%" % (100 * v / float(by[base][1]))
    L.append("| %s | %s | %.0f | %s | %.3f ms | %.3f ms | %s | %s us | "
             "%.0f %% | %s | %s |" % (
                 name, c, v, "%.0f" % (v * recs) if recs else "-", ms(p50),
                 ms(p99), bad, cpu_us, 100 * busy(row), base, ratio))
L.append("")
L.append("""NAME#K: round K; the runs a target compares alternate (r200 and
aliyun-verify, the module and its peer) and the verdict takes the median
of the rounds' ratios.  r200 and aliyun-verify alternate in more, shorter
rounds: their difference is ~1 us a request, and this host's speed shifts
between states for seconds at a time (r200 at 7.0 or 8.8 us a request),
so a round that straddles a shift is an outlier the median must outvote.
Worker CPU/request: the worker's user + system time over the run
(/proc, clock ticks) divided by the requests wrk completed; worker busy:
requests/s x that.  A ratio of requests/s compares the workers only
while both are saturated (busy >= 90 %); below that a single wrk thread
on the other CPU is the limit, and the verdict is taken on the ratio of
CPU per request instead (both are printed).

- `r200`: GET, `return 200` (baseline for verify-only);
  `r200-same-query`: the same with the Aliyun run's ~250-byte query string.
- `echo-46k`: POST of test/data/huawei_push_50.json (46 KB) read by the
  echo module in C: the body-reading baseline of the push runs.
- `aliyun-verify`: a signed Aliyun call-control query (9 parameters,
  HMAC-SHA1) verified, then `return 200`; `provision_x_nonce off` there
  (wrk repeats one request), fresh timestamp.
- `push-new-queue` / `push-new-lua`: the 50-record Huawei push, X-AKSK
  verified with a fresh nonce (nonce store on), parsed, every record
  checked, keyed, deduplicated and enqueued as an NDJSON line; every
  request carries 50 new records (bench/push.lua prefixes each
  sessionId).  `-queue` is the module (`queue=q dedup=dedup`), `-lua` the
  OpenResty peer (bench/peer/provision_peer.lua, bench/README.md).
- `push-new-*-cold`: the same, once each, on queue memory never used
  before; then the module's queue is filled once round its zone, and both
  queues are emptied (bench/drain.py, the module's consumer API; the
  peer's `/drain`) before each `push-new` round.
- `push-retry-*`: the same body every time, known from one push before
  the run: an identical retry.  The module answers it from the body's
  SHA-256; `-lua` is issue 15's peer, which deduplicates the retry's
  records one by one as it does any push's; `-lua-digest` is the peer
  given the module's shortcut.
- `push-*-forward`, `push-*-redis`: the module with `forward=` (proxy_pass
  to an echo location) and `redis=` (a local redis-server on CPU 1).
""")

L.append("## The sinks received what was acknowledged\n")
L.append("Each acknowledged push of 50 new records must add 50 to the queue "
         "(the module's zone `q`, the peer's `q` list; up to one push per "
         "connection more may finish after wrk stops counting); a retry "
         "run must add none.\n")
L.append("| run | acknowledged pushes | queue growth | expected | check |")
L.append("|---|---:|---:|---:|---|")
L.extend(check_lines)
L.append("")

L.append("## Worker memory for one 1 MB unsigned Aliyun push\n")
L.append("A fresh worker, one 20-record push first, then one push of %d "
         "bytes (1000 records, `provision_x_cdr aliyun queue=q "
         "dedup=dedup`): at `/aliyun/fee-mem` (`client_body_buffer_size "
         "128k`, so nginx writes the body to a temporary file) and, in "
         "another fresh worker, at `/aliyun/fee-mem-buffered` "
         "(`client_body_buffer_size 2m`, README's advice for 1000-receipt "
         "pushes: the body stays in memory).\n" % probes[0].body)
L.append("| body | answer | records enqueued | VmHWM before | after | "
         "RssShmem before | after | private peak (ΔVmHWM − ΔRssShmem) | "
         "ratio to the body |")
L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for m in probes:
    L.append("| %s | `%s` | %s | %s kB | %s kB | %s kB | %s kB | %.1f MB | "
             "%.1fx |" % (m.where, m.answer, m.enqueued, m.hwm0, m.hwm1,
                          m.shm0, m.shm1, m.private_peak / 1e6,
                          m.private_peak / m.body))
L.append("\nRssShmem counts the queue and dedup zone pages the push wrote "
         "(the records' storage, sized by the configuration); the verdict "
         "is on the rest, the worker's own peak.\n")

L.append("## Instructions per operation (callgrind, core library, -O2)\n")
L.append("| operation | instructions/op |")
L.append("|---|---:|")
names = {
    "xmode_verify": "Aliyun `xmode_verify` (9 params, HMAC-SHA1, prepared key)",
    "aksk_verify": "Huawei `aksk_verify` (HMAC-SHA256, prepared key)",
    "aliyun_query_verify": "Aliyun query string parsed + verified "
                           "(`parse_urlencoded` + `xmode_verify`)",
    "parse_push": "`parse_push` of the 50-record push (reused cdr_parser, the body padded in place; "
                  "includes keys + key digests)",
    "dedup_lines": "one record's NDJSON line (`cdr_write_line`), per record",
    "parse_event": "`parse_push` of a Huawei `disconnect` event push "
                   "(one record, key + digest)",
    "event_lines": "that event's NDJSON line (`cdr_write_line`)",
}
for name, n in ops:
    if ":" not in name and not name.startswith("hmac_"):
        L.append("| %s | %s |" % (names.get(name, name),
                                  "{:,}".format(int(n))))
L.append("\n(bench/core_ops.cpp at two N values; "
         "(Ir(N2) - Ir(N1)) / (N2 - N1).)\n")
L.append("HMAC-SHA1 of a 300-byte message with a key prepared once, the "
         "OpenSSL 3 ways (bench/hmac_variants.cpp; wall time: 10^6 MACs "
         "on CPU 1, where OpenSSL uses SHA-NI, which valgrind hides):\n")
L.append("| variant | instructions/MAC | ns/MAC (wall) |")
L.append("|---|---:|---:|")
for name, label in [
        ("hmac_plain", "plain `hmac_sha1()`: pads hashed per call"),
        ("hmac_mac_ctx_dup", "`EVP_MAC_CTX_dup` of a prepared EVP_MAC_CTX"),
        ("hmac_md_ctx_copy", "two EVP_MD_CTX pad states, `EVP_MD_CTX_copy_ex`"
                             " (`hmac_key`, used)"),
        ("hmac_sha_ctx_copy", "deprecated `SHA1_*`, SHA_CTX struct copies "
                              "(reference; not used)")]:
    if name in op:
        L.append("| %s | %s | %s |" % (label, "{:,}".format(op[name]),
                                       wall_ops.get(name, "-")))
L.append("Per push of 50 new records, inside one nginx worker (callgrind, "
         "inclusive; bench/worker_ops.pl, 10 pushes to the `queue=` "
         "location):\n")
L.append("| step | instructions/push |")
L.append("|---|---:|")
for name, n in ops:
    if name.startswith("worker:"):
        L.append("| %s | %s |" % (name[len("worker:"):],
                                  "{:,}".format(int(n))))
L.append("")


def find(o, pred):
    """every dict inside o for which pred holds"""
    if isinstance(o, dict):
        if pred(o):
            yield o
        for v in o.values():
            yield from find(v, pred)
    elif isinstance(o, list):
        for v in o:
            yield from find(v, pred)


def zone(s, name):
    return next(find(s, lambda d: d.get("zone") == name and "entries" in d),
                None)


def queue(s):
    return next(find(s, lambda d: "bytes_used" in d and "entries" not in d),
                None)


L.append("## Zone memory\n")
fill_bytes, fill_entries, fill_slots = (float(x) for x in
                                        nonce_sizeof.split(":"))
L.append("| what | zone size | capacity (slots) | bytes/slot | entries at the "
         "first refusal | bytes/entry |")
L.append("|---|---:|---:|---:|---:|---:|")
L.append("| a 64 MB nonce or dedup zone (core table, random digests) | "
         "67108864 | %d | %.1f | %d (%.1f %%) | %.2f |" % (
             fill_slots, 64 * MIB / fill_slots, fill_entries,
             100 * fill_entries / fill_slots, fill_bytes))
for name in ("nonces", "dedup"):
    z = zone(st[2], name)
    if z and z.get("capacity"):
        L.append("| zone `%s` of this run (status page) | %d | %d | %.1f | "
                 "- (%d live) | - |" % (name, z["size"], z["capacity"],
                                        z["size"] / z["capacity"],
                                        z["entries"]))
q0, q1 = queue(st[0]), queue(st[1])
if q0 and q1 and "depth" in q1:
    per_rec = (q1["bytes_used"] - q0["bytes_used"]) / max(
        1, q1["depth"] - q0["depth"])
    L.append("\nQueued records (zone `q`): +%d bytes for +%d records, %.1f "
             "bytes each." % (q1["bytes_used"] - q0["bytes_used"],
                              q1["depth"] - q0["depth"], per_rec))
L.append("\nA nonce or dedup entry is a 24-byte slot (16-byte digest, expiry, "
         "owner) in buckets of 8, two buckets per digest and one cuckoo move "
         "(src/core/seen_table.*); the first refusal comes when both buckets "
         "of a digest and their entries' other buckets are full.  The "
         "measured figure divides the zone's whole size by the entries it "
         "held then.\n")

L.append("## Earlier targets\n")
L.append("| target | result | verdict |")
L.append("|---|---:|---|")
for what, ok, val, runs in [
    ("50-record push verified+parsed+deduplicated+enqueued >= 1,000 "
     "pushes/s per worker core", rps("push-new-queue") >= 1000,
     "%.0f pushes/s (median)" % rps("push-new-queue"), ["push-new-queue"]),
    ("identical retry >= 5,000 pushes/s", rps("push-retry-queue") >= 5000,
     "%.0f pushes/s (median)" % rps("push-retry-queue"),
     ["push-retry-queue"]),
    ("nonce/dedup entry <= 32 bytes of zone (issue 13)", fill_bytes <= 32,
     "%.2f bytes" % fill_bytes, []),
]:
    L.append("| %s | %s | %s |" % (what, val, verdict(ok, *runs)))
L.append("")
L.append("Raw status snapshot: " +
         json.dumps(st[2])[:4000].replace("|", "/") + "\n")

open(out, "w").write("\n".join(L) + "\n")

print("\nTargets (issue 15), one make bench run:\n")
for t in targets:
    print("  %s (%s): %s\n      -> %s" % t)
print("\nSink checks:", "ok" if checks_ok else "FAILED (see %s)" % out)
print("Written:", out)
sys.exit(0 if checks_ok else 1)
