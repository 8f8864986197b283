# Aliyun X-mode verification: the signed common parameters from the query
# string, a form body or a flat JSON body; refusals in Aliyun's
# {"code","message"} shape.

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

our %Call = (callNo => '13800000001', secretNo => '17000000002',
             callId => '4361263371abcd01', extension => '',
             recordType => 'CAL');

sub signed { PXSign::aliyun_query(secret => 'testSecret',
                                  params => {%::Call}, @_) }

our $HttpConfig = <<'_EOC_';
    provision_x_app ali secret=$TEST_NGINX_SECRETS/aliyun.key
                        secret=$TEST_NGINX_SECRETS/aliyun-next.key;
    provision_x_app other secret=$TEST_NGINX_SECRETS/other.key;
    provision_x_nonce_zone zone=nonces:1m;
_EOC_

our $Config = <<'_EOC_';
    provision_x_nonce nonces;

    location = /t {
        provision_x_verify aliyun app=ali;
        proxy_set_header X-App $provision_x_app;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /any {
        provision_x_verify aliyun;
        proxy_set_header X-App $provision_x_app;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        return 200 "ok app=$http_x_app len=$http_content_length\n";
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: signed parameters in the query string
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . main::signed()
--- response_body
ok app=ali len=
--- no_error_log
[warn]
[error]



=== TEST 2: signed parameters in a form body, which reaches the backend
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my $body = main::signed();
"POST /t\n$body"
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body_like
^ok app=ali len=\d{3}$
--- no_error_log
[warn]



=== TEST 3: signed parameters in a flat JSON object body
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
use URI::Escape qw(uri_unescape);
my %p = map { uri_unescape($_) } map { split /=/, $_, 2 }
        split /&/, main::signed();
$p{$_} =~ tr/+/ / for keys %p;
$p{signature} = uri_unescape($p{signature});
"POST /t\n{" . CORE::join(',', map { "\"$_\":\"$p{$_}\"" } sort keys %p) . "}"
--- more_headers
Content-Type: application/json
--- response_body_like
^ok app=ali len=\d{3}$



=== TEST 4: the rotated (second) secret of an app verifies too
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . PXSign::aliyun_query(secret => 'rotated-next-secret',
                                 params => {%::Call})
--- response_body
ok app=ali len=



=== TEST 5: without app=, the matching app is found among all apps
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /any?" . PXSign::aliyun_query(secret => 'other-secret',
                                   params => {%::Call})
--- response_body
ok app=other len=



=== TEST 6: no signature at all: missing_auth, 401
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t?callId=1
--- error_code: 401
--- response_headers
Content-Type: application/json;charset=UTF-8
--- response_body
{"code":"MissingSignature","message":"The request carries no signature."}
--- error_log
provision_x: rejected aliyun callback: missing_auth (app ""), no signature parameter



=== TEST 7: a wrong secret: bad_signature, 403
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . PXSign::aliyun_query(secret => 'other-secret',
                                 params => {%::Call})
--- error_code: 403
--- response_body
{"code":"SignatureDoesNotMatch","message":"The signature does not match."}
--- error_log
bad_signature (app "ali"), signature does not match



=== TEST 8: a parameter changed after signing: bad_signature
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my $q = main::signed();
$q =~ s/callNo=13800000001/callNo=13800000009/ or die;
"GET /t?$q"
--- error_code: 403
--- error_log
bad_signature



=== TEST 9: a duplicated parameter name: malformed_auth, 400
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . main::signed() . "&callNo=1"
--- error_code: 400
--- response_body
{"code":"InvalidParameter","message":"The signature parameters are malformed."}
--- error_log
malformed_auth (app ""), duplicate



=== TEST 10: a bad percent-encoding: malformed_auth
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . main::signed() . "&x=%zz"
--- error_code: 400
--- error_log
malformed_auth



=== TEST 11: an unsupported signatureMethod: malformed_auth
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . main::signed(params => {%::Call, signatureMethod => 'HMAC-SHA256'})
--- error_code: 400
--- error_log
unsupported signatureMethod



=== TEST 12: an unsupported signatureVersion: malformed_auth
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . main::signed(params => {%::Call, signatureVersion => '2.0'})
--- error_code: 400
--- error_log
unsupported signatureVersion



=== TEST 13: a malformed timestamp: malformed_auth
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . main::signed(timestamp => '2026-11-29 01:02:03')
--- error_code: 400
--- response_body
{"code":"InvalidTimeStamp.Format","message":"The timestamp is malformed."}
--- error_log
malformed timestamp



=== TEST 14: a stale timestamp: stale_timestamp
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . main::signed(offset => -1000)
--- error_code: 403
--- response_body
{"code":"InvalidTimeStamp.Expired","message":"Time out limit: the timestamp is too old."}
--- error_log
stale_timestamp (app "ali")



=== TEST 15: a timestamp from the future: future_timestamp
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . main::signed(offset => 1000)
--- error_code: 403
--- error_log
future_timestamp (app "ali")



=== TEST 16: a form body over provision_x_verify_body_max: body_too_large
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /small {
        provision_x_verify aliyun app=ali;
        provision_x_verify_body_max 100;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }'
--- request eval
"POST /small\n" . main::signed()
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code: 413
--- response_body
{"code":"RequestEntityTooLarge","message":"The request body is too large to verify."}
--- error_log
body_too_large



=== TEST 17: a form body written to a temp file is verified and passed on
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /file {
        provision_x_verify aliyun app=ali;
        client_body_in_file_only on;
        proxy_set_header X-App $provision_x_app;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }'
--- request eval
"POST /file\n" . main::signed(params => {%::Call, pad => 'x' x 3000})
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body_like
^ok app=ali len=3\d{3}$
--- no_error_log
[warn]



=== TEST 18: RFC 3986 encoder and the ampersand key, by directive
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /a2 {
        provision_x_verify aliyun app=ali;
        provision_x_aliyun_encoder rfc3986;
        provision_x_aliyun_key ampersand;
        proxy_set_header X-App $provision_x_app;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }'
--- request eval
use Digest::SHA qw(hmac_sha1_base64);
use URI::Escape qw(uri_escape_utf8);
my $enc = sub { my $s = uri_escape_utf8($_[0], '^A-Za-z0-9\-._~'); $s };
my %p = (signatureMethod => 'HMAC-SHA1', signatureVersion => '1.0',
         format => 'JSON', signatureNonce => PXSign::fresh_nonce(),
         timestamp => PXSign::utc_stamp(), callId => 'a b*c~d');
my $s = CORE::join '&', map { $enc->($_) . '=' . $enc->($p{$_}) } sort keys %p;
my $b = hmac_sha1_base64($enc->($s), 'testSecret&');
$b .= '=' while length($b) % 4;
$p{signature} = $enc->($b);
"GET /a2?" . CORE::join '&', map { $enc->($_) . '=' . $enc->($p{$_}) } sort keys %p
--- response_body
ok app=ali len=



=== TEST 19: debug mode lets a bad request through and names the reason
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /debug {
        provision_x_verify aliyun app=ali;
        provision_x_mode debug;
        proxy_set_header X-App $provision_x_reject_reason;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }'
--- request eval
"GET /debug?" . PXSign::aliyun_query(secret => 'wrong', params => {%::Call})
--- response_headers
X-Provision-X-Would-Reject: bad_signature
--- response_body
ok app=bad_signature len=
--- error_log
provision_x: would reject aliyun callback: bad_signature



=== TEST 20: the signature is masked in the request line nginx logs
--- log_level: info
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /t?" . PXSign::aliyun_query(secret => 'wrong', params => {%::Call},
                                 signature => 'SECRETSIGNATURE%3D')
--- error_code: 403
--- error_log eval
qr/bad_signature .*request: "GET \/t\?.*signature=\.\.\.&signatureMethod=/
--- no_error_log
SECRETSIGNATURE



=== TEST 21: format is required by default
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
(my $q = main::signed(params => {%::Call, format => ''}))
    =~ s/(^|&)format=(?=&|$)//;
"GET /t?$q"
--- error_code: 401
--- response_body_like: "code":"MissingSignature"
--- error_log
no format parameter



=== TEST 22: provision_x_aliyun_require_format off accepts its absence
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /noformat {
        provision_x_verify aliyun app=ali;
        provision_x_aliyun_require_format off;
        proxy_set_header X-App $provision_x_app;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }'
--- request eval
(my $q = main::signed(params => {%::Call, format => ''}))
    =~ s/(^|&)format=(?=&|$)//;
"GET /noformat?$q"
--- response_body
ok app=ali len=
--- no_error_log
[warn]
