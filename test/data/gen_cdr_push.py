#!/usr/bin/env python3
"""Generate the CDR push fixtures shared by unit tests, fuzz seeds,
benchmarks and nginx tests.

    python3 test/data/gen_cdr_push.py [outdir]

Deterministic (fixed seed), so regenerating changes nothing unless this
script changes.  Writes:

  huawei_push_50.json  {"eventType":"fee","feeLst":[50 FeeInfo]}, ~44 KB,
                       compact like the platform sends it; fields as in the
                       spec's demo payload (§3.4) minus subscriptionId (not
                       meaningful in X mode), distinct sessionIds, half
                       answered+recorded, half unanswered, some UTF-8
                       userData.
  aliyun_push.json     a SecretReport HTTP batch push (§2.6.1): JSON array
                       of 20 receipts.
"""
import json
import os
import random
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
    os.path.abspath(__file__))

rng = random.Random(20261128)


def ts(base, off):
    s = base + off
    h, m, sec = (s // 3600) % 24, (s // 60) % 60, s % 60
    return "2026-11-28 %02d:%02d:%02d" % (h, m, sec)


def mobile():
    return "+86" + rng.choice(["138", "139", "186", "137", "150"]) + \
        "%08d" % rng.randrange(10**8)


def huawei_record(i):
    app_key = "V1Z96521zFr3vxe5N2A1UJ1sQ1WP"
    start = 9 * 3600 + i * 67
    answered = i % 2 == 0
    host = "callenabler%d.huaweicaas.com" % (240 + i % 8)
    sub = "%08x-%04x-%04x-%04x-%012x" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
        rng.getrandbits(16), rng.getrandbits(48))
    caller, callee, x = mobile(), mobile(), "+8617100%06d" % (1000 + i)
    r = {
        "direction": 0,
        "spId": "linlingoo_omp",
        "appKey": app_key,
        "icid": "%032x.%d.%d.%d" % (rng.getrandbits(128),
                                    rng.randrange(10**10),
                                    rng.randrange(10**9), i % 10),
        "bindNum": x,
        "sessionId": "1200_%d_4294967295_20261128%06d@%s" % (
            1029 + i, 90000 + i * 67, host),
        "callerNum": caller,
        "calleeNum": x,
        "fwdDisplayNum": x,
        "fwdDstNum": callee,
        "callInTime": ts(start, 0),
        "fwdStartTime": ts(start, 1),
        "fwdAlertingTime": ts(start, 6),
    }
    if answered:
        talk = rng.randrange(20, 600)
        r.update({
            "fwdAnswerTime": ts(start, 15),
            "callEndTime": ts(start, 15 + talk),
            "fwdUnaswRsn": 0,
            "ulFailReason": 0,
            "sipStatusCode": 0,
            "callOutUnaswRsn": 0,
            "recordFlag": 1,
            "recordStartTime": ts(start, 16),
            "recordDomain": "ostor.huawei.com",
            "recordBucketName": "sp-" + app_key.lower(),
            "recordObjectName": "26112809%02d%02d%08d.wav" % (
                (start // 60) % 60, start % 60, rng.randrange(10**8)),
        })
    else:
        r.update({
            "callEndTime": ts(start, 36),
            "fwdUnaswRsn": 19,
            "ulFailReason": 2,
            "sipStatusCode": 480,
            "callOutUnaswRsn": 0,
            "recordFlag": 0,
        })
    r.update({
        "ttsPlayTimes": 0,
        "ttsTransDuration": 0,
        "mptyId": sub,
        "serviceType": "004",
        "hostName": host,
        "notifyMode": "Block",
        "userData": ("订单%06d" % i) if i % 4 == 0 else "order-%06d" % i,
        "areaCode": "755",
    })
    return r


def aliyun_record(i):
    base = 20 * 3600 + i * 91
    answered = i % 4 != 3
    talk = rng.randrange(10, 300) if answered else 0
    r = {
        "id": 101456851000 + i,
        "pool_key": "FC100000123456789",
        "sub_id": 1000000000000 + rng.randrange(10**9),
        "call_id": "%016x%08x" % (rng.getrandbits(64), i),
        "phone_no": "139%08d" % rng.randrange(10**8),
        "secret_no": "171%08d" % (10000 + i),
        "peer_no": "186%08d" % rng.randrange(10**8),
        "called_display_no": "171%08d" % (10000 + i),
        "call_type": i % 2,
        "city": rng.choice(["杭州", "北京", "深圳", "上海"]),
        "call_time": ts(base, 0),
        "call_out_time": ts(base, 1),
        "ring_time": ts(base, 3),
        "free_ring_time": ts(base, 3),
        "start_time": ts(base, 12 if answered else 40),
        "release_time": ts(base, (12 + talk) if answered else 40),
        "sms_number": 0,
        "release_dir": 1 if answered else 0,
        "release_cause": 16 if answered else 31,
        "unconnected_cause": 0,
        "control_type": "CONTINUE",
        "control_msg": "OK",
        "record_url": ("https://dyplsrecord.oss-cn-hangzhou.aliyuncs.com/"
                       "record/%d.mp3?Expires=1764950400&Signature=x"
                       % (20261128000 + i)) if answered else "",
        "out_id": "order-%06d" % i,
        "extension": "",
    }
    if i % 5 == 0:
        r["partner_key"] = "PK4000123456"
    return r


def write(name, obj):
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        f.write(data)
    print("%s: %d bytes" % (name, len(data.encode("utf-8"))))


write("huawei_push_50.json",
      {"eventType": "fee", "feeLst": [huawei_record(i) for i in range(50)]})
write("aliyun_push.json", [aliyun_record(i) for i in range(20)])
