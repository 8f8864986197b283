# The consumer API, one request at a time: API keys first (a refused
# request leases nothing), then the protocol's answers and its error
# envelope.  Blocks after the first reuse the running nginx, so the
# records pushed in TEST 7 are the ones leased in TEST 10.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::Nginx::Socket 'no_plan';
use PXLogs ();

PXLogs::refuse_crashes();
use PXSign;

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an empty queue answers 204
--- http_config
    provision_x_queue_zone zone=q:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
--- config
    location = /cdr { provision_x_cdr huawei queue=q dedup=dedup; }

    location /queue {
        provision_x_queue_consume q lease=30s max=100;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key
                            $TEST_NGINX_SECRETS/api-b.key;
    }
--- request
GET /queue
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 204
--- response_headers
Cache-Control: no-store
!X-Lease-Id
--- response_body
--- no_error_log
[error]
[warn]



=== TEST 2: the second key of a rotation works too, scheme in any case
--- request
GET /queue
--- more_headers
Authorization: bearer   consumer-key-two-b81d04
--- error_code: 204
--- no_error_log
[error]



=== TEST 3: no key: 401 in the envelope, with the scheme to use
--- request
GET /queue
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Bearer realm="provision_x"
--- response_body
{"status_code":401,"message":"unauthorized","data":null,"error":{"code":"unauthorized","message":"a valid API key is required (Authorization: Bearer <key>)"}}
--- error_log
provision_x: API key refused: no Authorization header



=== TEST 4: a wrong key: 401
--- request
GET /queue
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9d
--- error_code: 401
--- response_body_like: "code":"unauthorized"
--- error_log
provision_x: API key refused: no configured key matches



=== TEST 5: a key in another scheme: 401
--- request
GET /queue
--- more_headers
Authorization: Basic Y29uc3VtZXI6a2V5
--- error_code: 401
--- error_log
provision_x: API key refused: the scheme is not Bearer



=== TEST 6: a prefix of the key is not the key
--- request
GET /queue
--- more_headers
Authorization: Bearer consumer-key-one
--- error_code: 401



=== TEST 7: three records arrive
--- request eval
"POST /cdr\n" . PXSign::fee_push(tag => 'consume', n => 3)
--- response_body chomp
{}



=== TEST 8: without a key nothing is leased
--- request
GET /queue?max=100
--- error_code: 401
--- response_headers
!X-Lease-Id



=== TEST 9: an ack without a key is refused before its lease is looked at
--- request
DELETE /queue?lease=zz
--- error_code: 401



=== TEST 10: with the key, all three records are there: NDJSON under a lease
--- request
GET /queue?max=100
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- response_headers
Content-Type: application/x-ndjson
X-Lease-Count: 3
X-Lease-Timeout: 30
X-Lease-Redelivered: 0
Cache-Control: no-store
--- response_headers_like
X-Lease-Id: ^[0-9a-f]{32}$
X-Lease-Expires: GMT$
--- response_body_like: ^(\{"dialect":"huawei","type":"cdr","app":"appKeyA","key":"huawei/appKeyA/1200_consume_[123]@[^\n]*\}\n){3}$
--- no_error_log
[error]



=== TEST 11: leased records are invisible to the next consumer
--- request
GET /queue
--- more_headers
Authorization: Bearer consumer-key-two-b81d04
--- error_code: 204



=== TEST 12: an ack needs a lease id
--- request
DELETE /queue
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 400
--- response_body
{"status_code":400,"message":"bad request","data":null,"error":{"code":"bad_request","message":"the lease to acknowledge is missing (lease=ID)"}}



=== TEST 13: a malformed lease id
--- request
DELETE /queue?lease=0123456789abcdefXYZ
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 400
--- response_body_like: "message":"a lease id is 32 hexadecimal digits"



=== TEST 14: a lease that was never issued: 404
--- request
POST /queue/ack?lease=0000000000017a1b2c3d4e5f60718293
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 404
--- response_body
{"status_code":404,"message":"not found","data":null,"error":{"code":"lease_not_found","message":"no such lease: it was never issued or ended long ago"}}



=== TEST 15: POST anywhere but .../ack is not an ack
--- request
POST /queue?lease=0000000000017a1b2c3d4e5f60718293
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 405
--- response_headers
Allow: GET, DELETE, POST
--- response_body_like: "code":"method_not_allowed"



=== TEST 16: other methods: 405
--- request
PUT /queue
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 405



=== TEST 17: max must be a positive number
--- request
GET /queue?max=0
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 400
--- response_body_like: "message":"max must be a positive integer"

