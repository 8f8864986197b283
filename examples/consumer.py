#!/usr/bin/env python3
"""Drain a provision_x CDR queue: lease, process, acknowledge, repeat.

    PX_API_KEY_FILE=build/run/conf/demo-consumer.key \\
        examples/consumer.py http://127.0.0.1:8080/px/queue

Python standard library only.  Each record is one JSON line (the same
line the forward sink sends); process() below prints it, telling CDRs
from the platforms' other callbacks by the line's "type": put your own
handling there.  A lease is acknowledged only after every one of its
records was processed.  If processing fails, or this program dies, the
lease is not acknowledged and its records are delivered again once the
lease runs out: delivery is at least once, so make process() idempotent,
for example keyed on record["key"].

Options: --max N (records per lease), --wait S (long poll), --once (stop
when the queue is empty).  The API key is read from PX_API_KEY_FILE, or
taken from PX_API_KEY.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class QueueError(Exception):
    """An answer of the consumer API that is not a success."""

    def __init__(self, status, envelope, retry_after=None):
        error = (envelope or {}).get("error") or {}
        super().__init__("%s %s: %s" % (status, error.get("code", "?"),
                                        error.get("message", "")))
        self.status = status
        self.code = error.get("code")
        self.retry_after = retry_after


class Queue:
    def __init__(self, url, key, timeout):
        self.url = url.rstrip("/")
        self.headers = {"Authorization": "Bearer " + key}
        self.timeout = timeout

    def _call(self, method, query, wait=0):
        req = urllib.request.Request(
            self.url + "?" + urllib.parse.urlencode(query),
            method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(req,
                                        timeout=self.timeout + wait) as res:
                return res.status, res.headers, res.read()
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                envelope = json.loads(body)
            except ValueError:
                envelope = None
            raise QueueError(e.code, envelope,
                             e.headers.get("Retry-After")) from None

    def lease(self, max_records, wait):
        """Returns (lease id, [record, ...]), or (None, []) when empty."""
        status, headers, body = self._call(
            "GET", {"max": max_records, "wait": wait}, wait)
        if status == 204:
            return None, []
        lines = body.decode("utf-8").splitlines()
        return headers["X-Lease-Id"], [json.loads(line) for line in lines]

    def ack(self, lease_id):
        status, _, body = self._call("DELETE", {"lease": lease_id})
        return json.loads(body)["data"]["acknowledged"]


def process(record):
    """Your code: store the record.  Raise to have the lease delivered again.

    record["type"] says what the platform sent: "cdr" for the CDRs of
    both dialects, otherwise the callback's own name (callout, disconnect,
    numStatus, smsEvent, SecretRingReport, ...) with that callback's
    fields in record["record"].  Lines of a 0.9.0 gateway have no type:
    they are CDRs.
    """
    rec = record["record"]
    if record.get("type", "cdr") != "cdr":
        print("%s %s %s" % (record["app"], record["type"], record["key"]),
              flush=True)
        return
    print("%s %s -> %s (%s)" % (
        record["app"],
        rec.get("callerNum") or rec.get("phone_no", "?"),
        rec.get("calleeNum") or rec.get("peer_no", "?"),
        record["key"]), flush=True)


def read_key():
    path = os.environ.get("PX_API_KEY_FILE")
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    key = os.environ.get("PX_API_KEY")
    if not key:
        sys.exit("set PX_API_KEY_FILE (or PX_API_KEY)")
    return key


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("url", help="the provision_x_queue_consume location")
    p.add_argument("--max", type=int, default=100)
    p.add_argument("--wait", type=int, default=20)
    p.add_argument("--once", action="store_true")
    args = p.parse_args()

    queue = Queue(args.url, read_key(), timeout=10)

    while True:
        try:
            lease_id, records = queue.lease(args.max, args.wait)
            if lease_id is None:
                if args.once:
                    return
                continue

            try:
                for record in records:
                    process(record)
            except Exception as e:  # noqa: BLE001 -- any failure: no ack
                print("error: processing failed (%s); the lease is not "
                      "acknowledged and comes back when it runs out" % e,
                      file=sys.stderr)
                time.sleep(5)
                continue

            queue.ack(lease_id)

        except QueueError as e:
            if e.status == 401:
                sys.exit("the API key was refused: %s" % e)
            if e.code == "lease_expired":
                # processed too slowly: the records come again, and
                # process() sees them a second time
                print("warning: %s" % e, file=sys.stderr)
                continue
            print("error: %s" % e, file=sys.stderr)
            time.sleep(int(e.retry_after or 5))

        except (urllib.error.URLError, OSError) as e:
            print("error: %s; retrying" % e, file=sys.stderr)
            time.sleep(5)


if __name__ == "__main__":
    main()
