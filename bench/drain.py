#!/usr/bin/env python3
"""usage: drain.py URL KEY_FILE: leases and acknowledges every record of
the module's queue at URL (a provision_x_queue_consume location), as a
consumer would; prints how many."""
import http.client
import sys
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
with open(sys.argv[2]) as f:
    headers = {"Authorization": "Bearer " + f.read().strip()}
conn = http.client.HTTPConnection(url.hostname, url.port)
drained = 0
while True:
    conn.request("GET", url.path + "?max=10000&wait=0", headers=headers)
    lease = conn.getresponse()
    lease.read()
    if lease.status == 204:
        break
    if lease.status != 200:
        sys.exit("drain: lease answered %d" % lease.status)
    drained += int(lease.getheader("X-Lease-Count"))
    conn.request("DELETE", "%s?lease=%s" % (url.path,
                                            lease.getheader("X-Lease-Id")),
                 headers=headers)
    ack = conn.getresponse()
    ack.read()
    if ack.status != 200:
        sys.exit("drain: acknowledgement answered %d" % ack.status)
print(drained)
