# Log hygiene: a full run at debug level, where nginx itself logs request
# lines and every header, must not leave a secret, a signature, an X-AKSK
# value or an API key in the error log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_base64);
use Test::Nginx::Socket 'no_plan';
use PXLogs ();

PXLogs::refuse_crashes();
use PXSign;

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";

our $Nonce = PXSign::fresh_nonce();
our $Created = PXSign::utc_stamp();
our $Digest = hmac_sha256_base64($Nonce . $Created, 'secretA') . '=';
our $Huawei = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                                     nonce => $Nonce, created => $Created);
our $AliyunQuery = PXSign::aliyun_query(secret => 'testSecret',
                                        params => {callId => 'hyg'});
our ($AliyunSig) = $AliyunQuery =~ /signature=([^&]+)/;

our @Never = ('secretA', 'testSecret', 'consumer-key-one-7f3a9c', $Digest,
              $AliyunSig, PXSign::java_encode($AliyunSig),
              "PasswordDigest=\"$Digest");

log_level('debug');
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a signed Huawei push, verified and proxied
--- http_config
    provision_x_app appKeyA secret=$TEST_NGINX_SECRETS/huawei-a.key;
    provision_x_app ali secret=$TEST_NGINX_SECRETS/aliyun.key;
    provision_x_nonce_zone zone=nonces:1m;
--- config
    provision_x_nonce nonces;

    location = /hw {
        provision_x_verify huawei;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }

    location = /ali {
        provision_x_verify aliyun;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }

    location = /ok { return 200 "ok\n"; }

    location = /status {
        provision_x_status;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }
--- request
POST /hw
{"eventType":"fee","feeLst":[]}
--- more_headers eval: $::Huawei
--- response_body
ok
--- error_log
http header: "X-AKSK: ...
--- no_error_log eval
[@::Never]



=== TEST 2: the same push replayed: refused, still nothing in the log
--- request
POST /hw
{"eventType":"fee","feeLst":[]}
--- more_headers eval: $::Huawei
--- error_code: 403
--- error_log
replayed_nonce
--- no_error_log eval
[@::Never]



=== TEST 3: a signed Aliyun query string
--- request eval
"GET /ali?$::AliyunQuery"
--- response_body
ok
--- error_log
signature=...
--- no_error_log eval
[@::Never]



=== TEST 4: a bad Aliyun signature is refused without being logged
--- request eval
my $q = $::AliyunQuery;
$q =~ s/callId=hyg/callId=other/;
"GET /ali?$q"
--- error_code: 403
--- error_log
bad_signature
--- no_error_log eval
[@::Never]



=== TEST 5: the status endpoint with an API key
--- request
GET /status
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 200
--- error_log
Authorization: Bearer ...
--- no_error_log eval
[@::Never]



=== TEST 6: provision_x_log_redact off leaves the lines as nginx wrote them
--- http_config
    provision_x_log_redact off;
--- config
    location = /status {
        provision_x_status;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }
--- request
GET /status
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- error_code: 200
--- error_log
Authorization: Bearer consumer-key-one-7f3a9c
