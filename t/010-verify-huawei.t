# Huawei X-AKSK verification in the access phase: every reason a push is
# refused, each answered in Huawei's {"resultcode","resultdesc"} shape.

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

our $HttpConfig = <<'_EOC_';
    provision_x_app appKeyA secret=$TEST_NGINX_SECRETS/huawei-a.key;
    provision_x_app appKeyC secret=$TEST_NGINX_SECRETS/other.key
                            secret=$TEST_NGINX_SECRETS/huawei-c.key;
    provision_x_nonce_zone zone=nonces:1m;
    log_format px '$provision_x_reject_reason|$provision_x_app';
_EOC_

our $Config = <<'_EOC_';
    provision_x_nonce nonces;

    location = /t {
        provision_x_verify huawei;
        add_header X-Created $provision_x_created always;
        proxy_set_header X-App $provision_x_app;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /only-a {
        provision_x_verify huawei app=appKeyA;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        return 200 "ok app=$http_x_app\n";
    }
_EOC_

our $Beijing = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                                     offset => 8 * 3600);
our $Utc = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a fresh, correctly signed push passes
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /t
{"eventType":"fee","feeLst":[]}
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA')
--- response_body
ok app=appKeyA
--- no_error_log
[warn]
[error]



=== TEST 2: ", " separators and the second secret of a rotating app
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyC', secret => 's3cr3t/+=&~',
                       separator => ', ')
--- response_body
ok app=appKeyC
--- no_error_log
[warn]



=== TEST 3: no Authorization header: missing_auth, 401
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- error_code: 401
--- response_headers
Content-Type: application/json;charset=UTF-8
--- response_body
{"resultcode":"1023006","resultdesc":"Authorization not contained in the HTTP header."}
--- error_log
provision_x: rejected huawei callback: missing_auth (app ""), no Authorization header



=== TEST 4: Authorization without X-AKSK: missing_auth
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers
Authorization: AKSK realm="SDP",profile="UsernameToken",type="Appkey"
--- error_code: 401
--- response_body
{"resultcode":"1023033","resultdesc":"HTTP header not found X-AKSK field."}
--- error_log
missing_auth (app ""), no X-AKSK header



=== TEST 5: a wrong Authorization literal: malformed_auth, 400
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/realm="SDP"/realm="XYZ"/;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023009","resultdesc":"The value of realm in Authorization must be SDP."}
--- error_log
rejected huawei callback: malformed_auth



=== TEST 6: the legacy WSSE scheme is refused unless enabled
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers
Authorization: WSSE realm="SDP",profile="UsernameToken",type="Appkey"
X-WSSE: UsernameToken Username="appKeyA",PasswordDigest="oOWYkoKnts38ANiWlEqiBvsh678oz3P+AOKG2EjVaRw=",Nonce="A",Created="2024-01-02T03:04:05Z"
--- error_code: 400
--- error_log
rejected huawei callback: malformed_auth



=== TEST 7: a duplicated X-AKSK attribute: malformed_auth
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/(Nonce="[^"]+")/$1,$1/;
$h
--- error_code: 400
--- response_body
{"resultcode":"1010002","resultdesc":"Invalid request."}
--- error_log
malformed_auth



=== TEST 8: a nonce outside [0-9A-Za-z]{1,128}: malformed_auth
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                       nonce => 'not-a-valid-nonce')
--- error_code: 400
--- error_log
malformed_auth



=== TEST 9: a Created with fractional seconds: malformed_auth
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                       created => '2026-01-02T03:04:05.123Z')
--- error_code: 400
--- response_body
{"resultcode":"1023031","resultdesc":"The format of Created is invalid."}
--- error_log
malformed_auth



=== TEST 10: an app_key nobody configured: unknown_app, 403
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'nobody', secret => 'secretA')
--- error_code: 403
--- response_body
{"resultcode":"1010003","resultdesc":"Invalid app_key."}
--- error_log
unknown_app (app ""), no such app



=== TEST 11: a configured app that is not allowed on the location
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /only-a
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyC', secret => 's3cr3t/+=&~')
--- error_code: 403
--- error_log
unknown_app (app ""), app not allowed here



=== TEST 12: a digest made with another secret: bad_signature
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'not-the-secret')
--- error_code: 403
--- response_body
{"resultcode":"1010002","resultdesc":"The signature does not match."}
--- error_log
bad_signature (app "appKeyA"), PasswordDigest does not match
--- no_error_log
secretA



=== TEST 13: Created 20 minutes old: stale_timestamp
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                       offset => -1200)
--- error_code: 403
--- response_body
{"resultcode":"1010013","resultdesc":"Time out limit: the timestamp is too old."}
--- error_log eval
qr/stale_timestamp \(app "appKeyA"\), timestamp 1[12]\d\d s old, limit 900 s/



=== TEST 14: Created 20 minutes ahead: future_timestamp
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                       offset => 1200)
--- error_code: 403
--- response_body
{"resultcode":"1010013","resultdesc":"Time out limit: the timestamp is in the future."}
--- error_log
future_timestamp (app "appKeyA")



=== TEST 15: Beijing wall-clock Created (8 h ahead) is accepted by default
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                       offset => 8 * 3600)
--- response_body
ok app=appKeyA
--- response_headers
X-Created: beijing



=== TEST 16: ... and refused when provision_x_huawei_beijing_time is off
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /strict {
        provision_x_verify huawei;
        provision_x_huawei_beijing_time off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }'
--- request
GET /strict
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                       offset => 8 * 3600)
--- error_code: 403
--- error_log
future_timestamp



=== TEST 17: provision_x_clock sets the two limits separately
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /tight {
        provision_x_verify huawei;
        provision_x_clock past=60s future=10m;
        provision_x_huawei_beijing_time off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }'
--- request
GET /tight
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA',
                       offset => -120)
--- error_code: 403
--- error_log
limit 60 s



=== TEST 18: the reason and app reach the access log variables
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /logged {
        provision_x_verify huawei;
        access_log logs/px.log px;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /read-log {
        alias $TEST_NGINX_SERVER_ROOT/logs/px.log;
    }'
--- request
GET /logged
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'wrong')
--- error_code: 403
--- error_log
bad_signature
--- no_error_log
[error]



=== TEST 19: legacy WSSE, raw digest, when enabled
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /wsse {
        provision_x_verify huawei;
        provision_x_huawei_wsse on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }'
--- request
GET /wsse
--- more_headers eval
use Digest::SHA qw(sha256_base64);
my $nonce = PXSign::fresh_nonce();
my $created = PXSign::utc_stamp();
my $d = sha256_base64($nonce . $created . 'secretA');
$d .= '=' while length($d) % 4;
"Authorization: WSSE realm=\"SDP\",profile=\"UsernameToken\",type=\"Appkey\"\n"
. "X-WSSE: UsernameToken Username=\"appKeyA\",PasswordDigest=\"$d\","
. "Nonce=\"$nonce\",Created=\"$created\"\n"
--- response_body
ok app=



=== TEST 20: no realm in Authorization: 1023007
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/realm="SDP",//;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023007","resultdesc":"realm not contained in Authorization."}
--- error_log
malformed_auth



=== TEST 21: no profile in Authorization: 1023008
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/profile="UsernameToken",//;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023008","resultdesc":"profile not contained in Authorization."}
--- error_log
malformed_auth



=== TEST 22: no type in Authorization: 1023012
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/,type="Appkey"//;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023012","resultdesc":"type not contained in Authorization."}
--- error_log
malformed_auth



=== TEST 23: a profile other than UsernameToken: 1023010
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/profile="UsernameToken"/profile="Other"/;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023010","resultdesc":"The value of profile in Authorization must be UsernameToken."}
--- error_log
malformed_auth



=== TEST 24: a type other than Appkey: 1023011
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/type="Appkey"/type="Other"/;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023011","resultdesc":"The value of type in Authorization must be app_key."}
--- error_log
malformed_auth



=== TEST 25: no Username in X-AKSK: 1023034
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/Username="appKeyA",//;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023034","resultdesc":"UserName not contained in X-AKSK."}
--- error_log
malformed_auth



=== TEST 26: no Nonce in X-AKSK: 1023035
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/Nonce="[^"]+",//;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023035","resultdesc":"Nonce not contained in X-AKSK."}
--- error_log
malformed_auth



=== TEST 27: no Created in X-AKSK: 1023036
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/,Created="[^"]+"//;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023036","resultdesc":"Created not contained in X-AKSK."}
--- error_log
malformed_auth



=== TEST 28: no PasswordDigest in X-AKSK: 1023037
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval
my $h = PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA');
$h =~ s/PasswordDigest="[^"]+",//;
$h
--- error_code: 400
--- response_body
{"resultcode":"1023037","resultdesc":"PasswordDigest not contained in X-AKSK."}
--- error_log
malformed_auth



=== TEST 29: a Beijing-time header passes ...
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval: $::Beijing
--- response_body
ok app=appKeyA



=== TEST 30: ... and its replay is refused with a log line that says which reading matched
--- request
GET /t
--- more_headers eval: $::Beijing
--- error_code: 403
--- response_body
{"resultcode":"1010002","resultdesc":"The nonce has been used already."}
--- error_log
rejected huawei callback: replayed_nonce (app "appKeyA"), created=beijing



=== TEST 31: a UTC header passes ...
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /t
--- more_headers eval: $::Utc
--- response_body
ok app=appKeyA



=== TEST 32: ... and its replay's log line says it matched as UTC
--- request
GET /t
--- more_headers eval: $::Utc
--- error_code: 403
--- response_body
{"resultcode":"1010002","resultdesc":"The nonce has been used already."}
--- error_log
rejected huawei callback: replayed_nonce (app "appKeyA"), created=utc
