#!/bin/bash
# make bench: wrk against one pinned nginx worker running the module and
# against its OpenResty peer (bench/peer), callgrind on the core, the
# worker's memory for a 1 MB push, zone bytes per entry; prints the
# targets of issue 15 with computed verdicts and writes bench/results.md.
# usage: bench/run.sh NGINX_BINARY ABS_MODULE ABS_PREFIX CORE_OPS_BINARY
# Env: DURATION (s per wrk run, default 5), ROUNDS (default 3: the runs a
#      target compares alternate that often, the verdict takes the median
#      ratio), CONNS (default 32), PUSH_CONNS (default 50), PORT (default
#      18480; PORT+1 Redis, PORT+2 the Lua peer).
set -euo pipefail

nginx=$1
module=$2
prefix=$3
core_ops=$4
top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
dur=${DURATION:-5}
rounds=${ROUNDS:-3}
# verify-only: more, shorter rounds (see bench/README.md)
verify_rounds=${VERIFY_ROUNDS:-9}
verify_dur=${VERIFY_DURATION:-2}
conns=${CONNS:-32}
pconns=${PUSH_CONNS:-50}
port=${PORT:-18480}
redis_port=$((port + 1))
peer_port=$((port + 2))
modules=/usr/lib/nginx/modules
push=$top/test/data/huawei_push_50.json
# the appKey of the push's records: the module delivers a record only for
# the app that signed the push (the peer checks the same)
huawei_app=V1Z96521zFr3vxe5N2A1UJ1sQ1WP
out=$bench/results.md
url=http://127.0.0.1:$port
peer_url=http://127.0.0.1:$peer_port

rm -rf "$prefix"
mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/temp" "$prefix/pool"
cp /proc/loadavg "$prefix/logs/loadavg-start"
umask 077
printf 'bench-huawei-secret-0123456789\n' >"$prefix/conf/huawei.key"
printf 'bench-aliyun-secret-0123456789\n' >"$prefix/conf/aliyun.key"
printf 'bench-status-key-0123456789\n' >"$prefix/conf/api.key"
umask 022
sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" \
    -e "s|@MODULE@|$module|g" -e "s|@ECHO@|$modules/ngx_http_echo_module.so|g" \
    -e "s|@REDIS_PORT@|$redis_port|g" -e "s|@HUAWEI_APP@|$huawei_app|g" \
    "$bench/nginx.conf.in" >"$prefix/conf/nginx.conf"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$peer_port|g" \
    -e "s|@PEER@|$bench/peer|g" -e "s|@NDK@|$modules/ndk_http_module.so|g" \
    -e "s|@LUA@|$modules/ngx_http_lua_module.so|g" \
    -e "s|@HUAWEI_APP@|$huawei_app|g" \
    "$bench/peer/nginx.conf.in" >"$prefix/conf/peer.conf"

"$nginx" -p "$prefix/" -c conf/nginx.conf -e "$prefix/logs/error.log" -t -q
"$nginx" -p "$prefix/" -c conf/peer.conf -e "$prefix/logs/peer-error.log" -t -q
# the Redis sink's server, on wrk's CPU (there are two); nothing persisted
taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize no --dir "$prefix" \
    --logfile "$prefix/logs/redis.log" &
redis_pid=$!
"$nginx" -p "$prefix/" -c conf/nginx.conf -e "$prefix/logs/error.log"
"$nginx" -p "$prefix/" -c conf/peer.conf -e "$prefix/logs/peer-error.log"
stop() { # and wait until they are gone: the next step reuses the port
    local f pid
    local -a pids=("$redis_pid")
    for f in nginx.pid peer.pid; do
        [ -f "$prefix/logs/$f" ] && pids+=("$(cat "$prefix/logs/$f")")
    done
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    done
}
trap stop EXIT
trap 'exit 143' TERM INT # so that the EXIT trap stops what was started
for _ in $(seq 50); do
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
done
for u in "$url" "$peer_url"; do
    for _ in $(seq 50); do curl -fs "$u/r200" >/dev/null && break; sleep 0.1; done
done
# belt and braces: worker_cpu_affinity pins them, taskset checks it
module_worker=$(pgrep -P "$(cat "$prefix/logs/nginx.pid")")
peer_worker=$(pgrep -P "$(cat "$prefix/logs/peer.pid")")
taskset -pc 0 "$module_worker" >/dev/null
taskset -pc 0 "$peer_worker" >/dev/null

# CPU time (user + system, clock ticks) a worker has used
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)

status() {
    curl -fs -H "Authorization: Bearer bench-status-key-0123456789" "$url/status"
}

# records in the module's queue zone and in the peer's queue list
module_depth() {
    status | python3 -c 'import json, sys
print(sum(q["depth"] for q in json.load(sys.stdin)["queues"]))'
}
peer_depth() {
    curl -fs "$peer_url/status" | python3 -c 'import json, sys
print(json.load(sys.stdin)["queue_length"])'
}

# results of each run:
#   name|rps|p50|p99|non2xx|records_per_request|baseline|conns|worker CPU us/req
declare -a rows=()
# what the sinks received: name|queue growth|acknowledged pushes|conns|kind
declare -a checks=()
last_ok=0
run_wrk() { # NAME BASELINE_NAME RECORDS_PER_REQ BASE_URL PATH [wrk args...]
    local name=$1 base=$2 recs=$3 target=$4 path=$5
    shift 5
    local log=$prefix/logs/wrk-$name.txt
    local c=${WRK_CONNS:-$conns}
    local d=${WRK_DURATION:-$dur}
    local worker=$module_worker
    [ "$target" = "$peer_url" ] && worker=$peer_worker
    echo "== $name" >&2
    local t0 t1
    t0=$(cpu_ticks "$worker")
    # the URL before the script's "-- args" (GNU getopt permutes the rest)
    taskset -c 1 wrk -t1 -c"$c" -d"${d}s" --latency \
        "$target$path" "$@" >"$log" 2>&1
    t1=$(cpu_ticks "$worker")
    local rps p50 p99 non2xx bad n cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$log")
    p50=$(awk '$1 == "50%" {print $2}' "$log")
    p99=$(awk '$1 == "99%" {print $2}' "$log")
    n=$(awk '/ requests in / {print $1}' "$log")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$log")
    non2xx=${non2xx:-0}
    bad=$((non2xx + $(awk '/Socket errors:/ {gsub(",", ""); print $4+$6+$8+$10}' "$log" || echo 0) + 0))
    # wrk counts a response that came after its timeout as completed too
    last_ok=$((n - non2xx))
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$tick" -v n="$n" \
        'BEGIN {printf "%.2f", n ? t * 1e6 / hz / n : 0}')
    echo "   $rps req/s p50 $p50 p99 $p99 non-2xx/errors $bad," \
         "worker CPU $cpu us/request" >&2
    rows+=("$name|$rps|$p50|$p99|$bad|$recs|$base|$c|$cpu")
}

# a push run and what its sink received: every acknowledged push of 50
# new records adds 50 (plus up to one push per connection that completed
# after wrk stopped counting); a retry run adds nothing
checked_push() { # NAME KIND(new|retry) DEPTH_FN BASE_URL PATH [wrk args...]
    local name=$1 kind=$2 depth=$3
    shift 3
    local before after
    before=$($depth)
    WRK_CONNS=$pconns run_wrk "$name" echo-46k 50 "$@"
    after=$($depth)
    checks+=("$name|$((after - before))|$last_ok|$pconns|$kind")
}

# fresh signed query right before its run (nonce store off there, see conf)
aliyun_q=$(perl -I"$top/t/helper" -MPXSign -e '
    open my $f, "<", $ARGV[0] or die; chomp(my $s = <$f>);
    print aliyun_query(secret => $s, params => {callNo => "13800000001",
        secretNo => "17000000002", callId => "4361263371abcd01"});' \
    "$prefix/conf/aliyun.key")
curl -fs "$url/aliyun/control?$aliyun_q" >/dev/null || {
    echo "bench: the signed Aliyun query is refused" >&2; exit 1; }

tmpl=$prefix/push.json
tr -d '\n' <"$push" >"$tmpl"
pool() { # NAME COUNT
    perl "$bench/sign_pool.pl" "$prefix/conf/huawei.key" "$huawei_app" "$2" \
        >"$prefix/pool/$1"
    echo "$prefix/pool/$1"
}
signed_push() { # URL: the template once, signed, so that it becomes known
    curl -fs -o /dev/null -X POST --data-binary @"$tmpl" \
        -H 'Content-Type: application/json' \
        -H 'Authorization: AKSK realm="SDP",profile="UsernameToken",type="Appkey"' \
        -H "X-AKSK: $(perl "$bench/sign_pool.pl" "$prefix/conf/huawei.key" \
                       "$huawei_app" 1)" \
        "$1"
}
echo_lua=$prefix/echo.lua
cat >"$echo_lua" <<LUA
local f = assert(io.open("$tmpl", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json;charset=UTF-8"
f:close()
LUA

s0=$(status)

run_wrk echo-46k - 0 "$url" /echo -s "$echo_lua"
run_wrk r200-same-query - 0 "$url" "/r200?$aliyun_q"
# what a target compares runs back to back, ROUNDS times (name#round);
# r200 / aliyun-verify VERIFY_ROUNDS times, VERIFY_DURATION seconds each
for k in $(seq "$verify_rounds"); do
    WRK_DURATION=$verify_dur run_wrk "r200#$k" - 0 "$url" /r200
    WRK_DURATION=$verify_dur run_wrk "aliyun-verify#$k" "r200#$k" 0 "$url" \
        "/aliyun/control?$aliyun_q"
done

# consumers empty the queues (the module's over its consumer API)
drain_module() { python3 "$bench/drain.py" "$url/q" "$prefix/conf/api.key" >/dev/null; }
drain_peer() { curl -fs "$peer_url/drain" >/dev/null; }
# pushes the module's queue refused for want of room
refused_full() {
    status | python3 -c 'import json, sys
print(sum(q["refused_full"] for q in json.load(sys.stdin)["queues"]))'
}

# the module and its peer, same bodies, same signer, same pool of signed
# headers (each has its own nonce store), other sessionId tags.
# First on memory the queues have never used: the kernel zeroes each page
# a sink touches for the first time (in this VM ~5 us a 4 KB page, ~15
# pages a push), which a gateway whose consumers keep up pays once per
# zone page.  Reported, not judged.
p=$(pool new-cold $((6000 * dur)))
checked_push push-new-queue-cold new module_depth "$url" /huawei/fee \
    -s "$bench/push.lua" -- "$tmpl" "$p" new qcn
checked_push push-new-lua-cold new peer_depth "$peer_url" /huawei/fee \
    -s "$bench/push.lua" -- "$tmpl" "$p" new lcn
# the steady state the targets judge: the module's ring has gone once
# round its zone (pushes until one is refused for want of room), the
# peer's dict has held a round; each round starts on emptied queues
echo "== warm-up: the module's queue filled, both queues emptied" >&2
for w in $(seq 8); do
    [ "$(refused_full)" -gt 0 ] && break
    taskset -c 1 wrk -t1 -c"$pconns" -d"${dur}s" "$url/huawei/fee" \
        -s "$bench/push.lua" -- "$tmpl" "$(pool "warm-$w" $((6000 * dur)))" \
        new "w${w}n" >/dev/null 2>&1
done
[ "$(refused_full)" -gt 0 ] || { echo "bench: the warm-up did not fill the queue" >&2; exit 1; }
drain_module
drain_peer
for k in $(seq "$rounds"); do
    p=$(pool "new-$k" $((6000 * dur)))
    checked_push "push-new-queue#$k" new module_depth "$url" /huawei/fee \
        -s "$bench/push.lua" -- "$tmpl" "$p" new "q${k}n"
    drain_module
    checked_push "push-new-lua#$k" new peer_depth "$peer_url" /huawei/fee \
        -s "$bench/push.lua" -- "$tmpl" "$p" new "l${k}n"
    drain_peer
done
s1=$(status)
# an identical retry: the body is known (sent once), every request re-sent;
# the peer as issue 15 has it (each record deduplicated), then the peer
# given the module's body-digest shortcut (a pool of its own: the two
# share a nonce store)
signed_push "$url/huawei/fee"
signed_push "$peer_url/huawei/fee"
signed_push "$peer_url/huawei/fee-digest"
for k in $(seq "$rounds"); do
    p=$(pool "retry-$k" $((40000 * dur)))
    checked_push "push-retry-queue#$k" retry module_depth "$url" /huawei/fee \
        -s "$bench/push.lua" -- "$tmpl" "$p" retry rq
    checked_push "push-retry-lua#$k" retry peer_depth "$peer_url" /huawei/fee \
        -s "$bench/push.lua" -- "$tmpl" "$p" retry rl
    checked_push "push-retry-lua-digest#$k" retry peer_depth "$peer_url" \
        /huawei/fee-digest -s "$bench/push.lua" -- "$tmpl" \
        "$(pool "retry-digest-$k" $((40000 * dur)))" retry rl
done

# the other sinks, once (one nonce store: a pool each)
WRK_CONNS=$pconns run_wrk push-new-forward echo-46k 50 "$url" /huawei/fee-fwd \
    -s "$bench/push.lua" -- "$tmpl" "$(pool new-f $((6000 * dur)))" new nf
WRK_CONNS=$pconns run_wrk push-retry-forward echo-46k 50 "$url" /huawei/fee-fwd \
    -s "$bench/push.lua" -- "$tmpl" "$(pool retry-f $((40000 * dur)))" retry nf
WRK_CONNS=$pconns run_wrk push-new-redis echo-46k 50 "$url" /huawei/fee-redis \
    -s "$bench/push.lua" -- "$tmpl" "$(pool new-r $((6000 * dur)))" new nr
WRK_CONNS=$pconns run_wrk push-known-redis echo-46k 50 "$url" \
    /huawei/fee-redis-shared \
    -s "$bench/push.lua" -- "$tmpl" "$(pool known-r $((40000 * dur)))" retry kr
s2=$(status)
echo "$s0" >"$prefix/logs/status-0.json"
echo "$s1" >"$prefix/logs/status-1.json"
echo "$s2" >"$prefix/logs/status-2.json"

stop
trap - EXIT
rm -f "$prefix/logs/nginx.pid" "$prefix/logs/peer.pid"

# worker memory for one 1 MB unsigned Aliyun push (1000 records), in a
# fresh worker: VmHWM (peak resident) and RssShmem (the zones' pages it
# touched) before and after; a small push first, so one-time set-up
# allocations are not counted against the big one
echo "== memory: one 1 MB Aliyun push" >&2
big=$prefix/aliyun-1mb.json
python3 - "$top/test/data/aliyun_push.json" "$big" <<'PY'
import json, sys
src, dst = sys.argv[1:3]
base = json.load(open(src))
recs = []
for i in range(1000):
    r = dict(base[i % len(base)])
    r["call_id"] = "bench%08d" % i
    recs.append(r)
body = json.dumps(recs, ensure_ascii=False, separators=(",", ":"))
# an unknown (kept, unchecked) field pads each record to ~1 KB
pad = max(0, (1000 * 1000 - len(body.encode())) // 1000 - len('"bench_pad":"",'))
for r in recs:
    r["bench_pad"] = "x" * pad
open(dst, "w").write(json.dumps(recs, ensure_ascii=False, separators=(",", ":")))
PY
# LOCATION: a fresh nginx each, whose one worker takes a small push, then
# the big one; prints body bytes|VmHWM before|after|RssShmem before|after|
# records enqueued|answer
mem_probe() {
    "$nginx" -p "$prefix/" -c conf/nginx.conf -e "$prefix/logs/error.log"
    trap stop EXIT
    for _ in $(seq 50); do curl -fs "$url/r200" >/dev/null && break; sleep 0.1; done
    local worker d0 d1 hwm0 hwm1 shm0 shm1 answer
    worker=$(pgrep -P "$(cat "$prefix/logs/nginx.pid")")
    kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$worker/status"; }
    mem_push() {
        curl -fs -X POST --data-binary @"$1" \
            -H 'Content-Type: application/json' "$url$2"
    }
    mem_push "$top/test/data/aliyun_push.json" "$1" >/dev/null
    d0=$(module_depth)
    hwm0=$(kb VmHWM) shm0=$(kb RssShmem)
    answer=$(mem_push "$big" "$1")
    hwm1=$(kb VmHWM) shm1=$(kb RssShmem)
    d1=$(module_depth)
    stop
    trap - EXIT
    rm -f "$prefix/logs/nginx.pid"
    echo "$(stat -c %s "$big")|$hwm0|$hwm1|$shm0|$shm1|$((d1 - d0))|$answer"
}
mem_file=$(mem_probe /aliyun/fee-mem)
echo "   in a temporary file: $mem_file" >&2
mem_memory=$(mem_probe /aliyun/fee-mem-buffered)
echo "   in memory: $mem_memory" >&2

# instructions per operation (callgrind): two N values, the difference
ir() { # OP N [ARG...]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$core_ops" "$@" 2>&1 | awk '/Collected :/ {print $NF}'
}
declare -a ops=()
aliyun_secret=$(head -n1 "$prefix/conf/aliyun.key")
while IFS='|' read -r op n1 n2 arg1 arg2; do
    echo "== callgrind $op" >&2
    a=$(ir "$op" "$n1" ${arg1:+"$arg1"} ${arg2:+"$arg2"})
    b=$(ir "$op" "$n2" ${arg1:+"$arg1"} ${arg2:+"$arg2"})
    ops+=("$op|$(( (b - a) / (n2 - n1) ))")
done <<OPS
xmode_verify|100|1100||
aksk_verify|100|1100||
aliyun_query_verify|100|1100|$aliyun_q|$aliyun_secret
parse_push|2|22|$push|
dedup_lines|100|5100|$push|
parse_event|100|1100|$top/test/data/huawei_disconnect.json|disconnect
event_lines|100|5100|$top/test/data/huawei_disconnect.json|disconnect
hmac_plain|100|1100||
hmac_mac_ctx_dup|100|1100||
hmac_md_ctx_copy|100|1100||
hmac_sha_ctx_copy|100|1100||
OPS

# wall time too, ns per operation on CPU 1, where a digest is hashed:
# callgrind cannot see SHA-NI, which OpenSSL uses where the CPU has it
wall_ns() { # OP N [ARG...]
    local t0 t1
    t0=$(date +%s%N)
    taskset -c 1 "$core_ops" "$@"
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / $2 ))
}
for v in hmac_plain hmac_mac_ctx_dup hmac_md_ctx_copy hmac_sha_ctx_copy; do
    ops+=("wall:$v|$(wall_ns "$v" 1000000)")
done
# the SHA-256 of the 46 KB push, the digest of an identical retry
ops+=("wall:body_digest|$(wall_ns body_digest 20000 "$push")")

# the shared-memory steps, counted inside one worker (glue, not core)
echo "== callgrind worker: dedup, mark seen, enqueue" >&2
while IFS= read -r line; do
    ops+=("worker:$line")
done < <(perl "$bench/worker_ops.pl" "$nginx" "$prefix" "$port" "$tmpl" 10 \
    "$huawei_app")

# bytes of zone per nonce/dedup entry: the table of a 64 MB zone filled
# until its first refusal ("bytes entries capacity")
nonce_sizeof=$("$core_ops" seen_fill $((64 * 1024 * 1024)) | tr ' ' ':')

python3 "$bench/report.py" "$out" "$nginx" \
    "$dur s per run, $rounds rounds ($verify_rounds rounds of $verify_dur s for r200 / aliyun-verify)" \
    "$conns" "$pconns" \
    "$nonce_sizeof" "$prefix/logs" "$mem_file" "$mem_memory" \
    "${rows[@]}" -- "${ops[@]}" -- "${checks[@]}"
