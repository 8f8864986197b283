#!/usr/bin/env python3
"""Read the gateway's stream (CDRs and events) from Redis with a group.

    examples/redis_consumer.py --port 6379 --stream provision_x:cdr \\
        --group billing --consumer "$(hostname)-1"

Python standard library only (RESP over a socket).  Each stream entry has
the fields line (the NDJSON line, the same as the forward and queue sinks
produce), key, dialect and app.  process() below tells CDRs from the
platforms' other callbacks by the line's "type" and prints the line: put
your own handling there.  An entry is acknowledged (XACK) only after process()
returned, so delivery is at least once: make process() idempotent, for
example keyed on the key field.

Run as many copies as you like with the same --group and different
--consumer names: Redis hands each entry to one of them.  A copy that
dies leaves its entries pending; on start a consumer first finishes its
own pending entries, and with --claim-idle MS it also takes over entries
another consumer has left pending for longer than MS milliseconds.

Options: --count N (entries per read), --block MS (long poll), --once
(stop when nothing is left), --db N, --password-file FILE (and --user).
"""

import argparse
import json
import os
import socket
import sys


class RedisError(Exception):
    pass


class Redis:
    """Just enough RESP2 for a consumer: one connection, one reply at a time."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise RedisError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RedisError("bad reply %r" % line)


def fields(flat):
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def store_cdr(line, raw):
    """A call record (line["record"]: FeeInfo or SecretReport)."""
    sys.stdout.write(raw + "\n")


def store_event(line, raw):
    """Another callback: line["type"] is its name (callin .. disconnect,
    numStatus, smsEvent, SecretStartReport .. NumberManagementReport) and
    line["record"] its fields."""
    sys.stdout.write(raw + "\n")


def process(entry_id, entry):
    """Your handling goes here; raising leaves the entry pending.

    "type" is "cdr" for the CDRs of both dialects; lines of a 0.9.0
    gateway have none and are CDRs."""
    raw = entry["line"].decode()
    line = json.loads(raw)
    if line.get("type", "cdr") == "cdr":
        store_cdr(line, raw)
    else:
        store_event(line, raw)
    sys.stdout.flush()


def handle(r, args, entries):
    for entry_id, flat in entries:
        if flat is None:  # deleted (trimmed) while pending: nothing to do
            r.call("XACK", args.stream, args.group, entry_id)
            continue
        process(entry_id, fields(flat))
        r.call("XACK", args.stream, args.group, entry_id)
    return len(entries)


def read(r, args, start, block):
    cmd = ["XREADGROUP", "GROUP", args.group, args.consumer,
           "COUNT", args.count]
    if block is not None:
        cmd += ["BLOCK", block]
    reply = r.call(*cmd, "STREAMS", args.stream, start)
    return reply[0][1] if reply else []


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6379)
    p.add_argument("--db", type=int, default=0)
    p.add_argument("--user")
    p.add_argument("--password-file")
    p.add_argument("--stream", default="provision_x:cdr")
    p.add_argument("--group", default="cdr")
    p.add_argument("--consumer", default="%s-%d" % (socket.gethostname(),
                                                     os.getpid()))
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--block", type=int, default=5000)
    p.add_argument("--claim-idle", type=int)
    p.add_argument("--once", action="store_true")
    args = p.parse_args()

    r = Redis(args.host, args.port, timeout=args.block / 1000 + 10)
    if args.password_file:
        with open(args.password_file) as f:
            password = f.read().rstrip("\r\n\t ")
        auth = [args.user, password] if args.user else [password]
        r.call("AUTH", *auth)
    if args.db:
        r.call("SELECT", args.db)

    try:
        r.call("XGROUP", "CREATE", args.stream, args.group, "0", "MKSTREAM")
    except RedisError as e:
        if not str(e).startswith("BUSYGROUP"):
            raise

    # what this consumer read before it stopped, without acknowledging it
    while handle(r, args, read(r, args, "0", None)):
        pass

    while True:
        if args.claim_idle is not None:
            cursor = "0-0"
            while True:
                cursor, claimed, *_ = r.call(
                    "XAUTOCLAIM", args.stream, args.group, args.consumer,
                    args.claim_idle, cursor, "COUNT", args.count)
                handle(r, args, claimed)
                if cursor == b"0-0":
                    break

        n = handle(r, args, read(r, args, ">",
                                 None if args.once else args.block))
        if args.once and n == 0:
            return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, RedisError) as e:
        sys.stderr.write("redis_consumer: %s\n" % e)
        sys.exit(1)
