# The interface endpoint's refusals and its debug mode (nothing is sent:
# a call reaching the targets' internal location would log its failure).
# Every refusal comes in the envelope with a precise error.code; the debug
# answers reproduce the spec's vectors (POP-1, POP-6, HW-5) through the
# endpoint, with the signature and never the secret.  Bad directives stop
# nginx (their exact lines: t/065).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::Nginx::Socket 'no_plan';
use PXLogs ();

PXLogs::refuse_crashes();

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";

our $V = do {
    open my $fh, '<', "$FindBin::Bin/../test/vectors.json" or die $!;
    local $/;
    JSON::PP->new->decode(<$fh>);
};

our $Json = JSON::PP->new->canonical;

# What a caller sends for a POP vector: its parameters less the gateway's.
sub pop_request {
    my ($vec, %e) = @_;
    my %p = %{ $vec->{params} };
    delete @p{qw(AccessKeyId SignatureMethod SignatureVersion SignatureNonce
                 Timestamp)};
    return "POST /provision_x\n" . $Json->encode({
        mode => 'debug', user_id => 'user123', payload => \%p, %e });
}

sub pop_headers {
    my ($vec) = @_;
    return "Authorization: Bearer consumer-key-one-7f3a9c\n"
        . "X-Test-Nonce: $vec->{params}{SignatureNonce}\n"
        . "X-Test-Timestamp: $vec->{params}{Timestamp}\n";
}

# The error envelope, member for member as the gateway writes it.
sub envelope {
    my ($status, $text, $code, $message) = @_;
    my $q = JSON::PP->new->allow_nonref;
    return sprintf '{"status_code":%d,"message":%s,"data":null,'
        . '"error":{"code":%s,"message":%s}}',
        $status, map { $q->encode($_) } $text, $code, $message;
}

our $HttpConfig = <<'_EOC_';
    provision_x_app testId secret=$TEST_NGINX_SECRETS/pop-test.key;
    provision_x_app appKeyC secret=$TEST_NGINX_SECRETS/huawei-c.key;
    provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;

    provision_x_interface_target ali id=1 dialect=aliyun app=testId
        pass=/_px/aliyun method=GET
        operations=QueryRecordFileDownloadUrl,BindAxb
        nonce=$http_x_test_nonce timestamp=$http_x_test_timestamp;
    provision_x_interface_target ali-post id=2 dialect=aliyun app=testId
        pass=/_px/aliyun operations=BindAxb
        nonce=$http_x_test_nonce timestamp=$http_x_test_timestamp;
    provision_x_interface_target hw id=12345 dialect=huawei app=appKeyC
        pass=/_px/huawei operations=/rest/provision/voice/record/v1.0
        nonce=$http_x_test_nonce timestamp=$http_x_test_timestamp;
_EOC_

our $Config = <<'_EOC_';
    location = /provision_x {
        provision_x_interface target=ali target=ali-post target=hw;
        add_header X-PX-User $provision_x_interface_user_id always;
        add_header X-PX-Target $provision_x_interface_target always;
        add_header X-PX-Operation $provision_x_interface_operation always;
        add_header X-PX-Outcome $provision_x_interface_outcome always;
    }

    location = /provision_x/any {
        provision_x_interface;
    }

    location = /provision_x/hw {
        provision_x_interface target=hw;
    }

    # a call that went out would fail here, and say so in the log
    location /_px/ {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
_EOC_

our $Key = "Authorization: Bearer consumer-key-one-7f3a9c\n";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: no API key: 401 in the envelope, nothing else looked at
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
not even JSON
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Bearer realm="provision_x"
Cache-Control: no-store
X-PX-Outcome: unauthorized
--- response_body eval
::envelope(401, 'unauthorized', 'unauthorized', 'a valid API key is required') . "\n"
--- error_log
interface call: user "-" target "-" operation "-": unauthorized 401



=== TEST 2: a wrong API key: 401
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"debug","user_id":"u","payload":{}}
--- more_headers
Authorization: Bearer consumer-key-two-b81d04
--- error_code: 401
--- response_body_like: "code":"unauthorized"



=== TEST 3: anything but POST: 405 with Allow
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /provision_x
--- more_headers eval: $::Key
--- error_code: 405
--- response_headers
Allow: POST
--- response_body eval
::envelope(405, 'method not allowed', 'method_not_allowed', 'use POST') . "\n"



=== TEST 4: not JSON
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"debug",
--- more_headers eval: $::Key
--- error_code: 400
--- response_body_like: ^\{"status_code":400,"message":"bad request","data":null,"error":\{"code":"bad_request","message":"body: not JSON \(.+\)"\}\}$



=== TEST 5: user_id is required
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","config_id":1,"payload":{"Action":"BindAxb"}}
--- more_headers eval: $::Key
--- error_code: 400
--- response_body eval
::envelope(400, 'bad request', 'bad_request', 'user_id: required, for tracking') . "\n"
--- error_log
interface call: user "-" target "-" operation "-": bad_request 400



=== TEST 6: user_id with a quote
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","user_id":"a\"b","payload":{}}
--- more_headers eval: $::Key
--- error_code: 400
--- response_body eval
::envelope(400, 'bad request', 'bad_request', "user_id: must be 1-128 visible ASCII characters, without '\"' or '\\'") . "\n"



=== TEST 7: payload must be an object
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","user_id":"user123","payload":"Action=BindAxb"}
--- more_headers eval: $::Key
--- error_code: 400
--- response_body eval
::envelope(400, 'bad request', 'bad_request', 'payload: must be a JSON object') . "\n"



=== TEST 8: mode junk
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"dry-run","user_id":"user123","payload":{}}
--- more_headers eval: $::Key
--- error_code: 400
--- response_body eval
::envelope(400, 'bad request', 'bad_request', 'mode: must be "live" or "debug"') . "\n"



=== TEST 9: config_id not an integer
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","config_id":"12345","user_id":"user123","payload":{}}
--- more_headers eval: $::Key
--- error_code: 400
--- response_body eval
::envelope(400, 'bad request', 'bad_request', 'config_id: must be an integer') . "\n"



=== TEST 10: an unknown config_id: 404 unknown_config
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","config_id":99,"user_id":"user123","payload":{}}
--- more_headers eval: $::Key
--- error_code: 404
--- response_body eval
::envelope(404, 'not found', 'unknown_config', 'config_id: no target 99 here') . "\n"
--- error_log
interface call: user "user123" target "-" operation "-": unknown_config 404



=== TEST 11: a target this location does not serve is unknown here
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x/hw
{"mode":"debug","config_id":1,"user_id":"user123","payload":{"Action":"BindAxb"}}
--- more_headers eval: $::Key
--- error_code: 404
--- response_body_like: "message":"config_id: no target 1 here"



=== TEST 12: no default target: config_id is required
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x/any
{"mode":"debug","user_id":"user123","payload":{"Action":"BindAxb"}}
--- more_headers eval: $::Key
--- error_code: 400
--- response_body eval
::envelope(400, 'bad request', 'bad_request', 'config_id: required here, this location has no default target') . "\n"



=== TEST 13: an unknown member of the envelope
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","user_id":"user123","payload":{},"config":1}
--- more_headers eval: $::Key
--- error_code: 400
--- response_body eval
::envelope(400, 'bad request', 'bad_request', 'body.config: not a field of the request (mode, config_id, user_id, payload)') . "\n"



=== TEST 14: an Action off the target's list: 403
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","user_id":"user123","payload":{"Action":"UnbindSubscription","SubsId":"1"}}
--- more_headers eval: $::Key
--- error_code: 403
--- response_headers
X-PX-Operation: UnbindSubscription
X-PX-Outcome: operation_not_allowed
--- response_body eval
::envelope(403, 'forbidden', 'operation_not_allowed', 'payload.Action: "UnbindSubscription" is not allowed for this target') . "\n"



=== TEST 15: a Huawei path off the list: 403, in debug mode too
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"debug","config_id":12345,"user_id":"user123","payload":{"path":"/rest/caas/relationnumber/partners/v1.0","body":{}}}
--- more_headers eval: $::Key
--- error_code: 403
--- response_body eval
::envelope(403, 'forbidden', 'operation_not_allowed', 'payload.path: "/rest/caas/relationnumber/partners/v1.0" is not allowed for this target') . "\n"



=== TEST 16: live with an incomplete payload: 400 naming every problem
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","user_id":"user123","payload":{"Action":"QueryRecordFileDownloadUrl","ProductType":"AXB_170","CallTime":"2019-03-05 12:00:00","Timestamp":"2024-01-02T03:04:05Z"}}
--- more_headers eval: $::Key
--- error_code: 400
--- response_body eval
::envelope(400, 'bad request', 'bad_request', 'payload.Timestamp: set by the gateway; payload.CallId: required by QueryRecordFileDownloadUrl (spec §2.7)') . "\n"



=== TEST 17: debug, POP-1 (GET): the vector's string to sign and signature
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
::pop_request($::V->{aliyun_pop}[0])
--- more_headers eval
::pop_headers($::V->{aliyun_pop}[0])
--- response_headers
Content-Type: application/json
Cache-Control: no-store
X-PX-User: user123
X-PX-Target: ali
X-PX-Operation: QueryRecordFileDownloadUrl
X-PX-Outcome: debug
--- response_body_like eval
my $v = $::V->{aliyun_pop}[0];
qr/^\{"status_code":200,"message":"Success","data":\{"mode":"debug","sent":false,"ready":true,"user_id":"user123","target":\{"name":"ali","config_id":1,"dialect":"aliyun","app":"testId","key_id":"testId","pass":"\/_px\/aliyun"\},"operation":"QueryRecordFileDownloadUrl","signing":\{"algorithm":"HMAC-SHA1","key":"the AccessKeySecret of app \\"testId\\", then \\"&\\" \(never shown\)","nonce":"$v->{params}{SignatureNonce}","timestamp":"$v->{params}{Timestamp}","canonical_query":"\Q$v->{canonicalizedQueryString}\E","string_to_sign":"\Q$v->{stringToSign}\E","signature":"\Q$v->{base64}\E"\},"request":\{"method":"GET","path":"\/","query":"\Q$v->{canonicalizedQueryString}&Signature=$v->{signature_in_query}\E","headers":\{\},"body":""\},"problems":\[\]\},"error":null\}$/
--- response_body_unlike: testSecret
--- error_log
interface call: user "user123" target "ali" operation "QueryRecordFileDownloadUrl": debug 200
--- no_error_log
connect() failed



=== TEST 18: debug, POP-6 (POST): a signed form body
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
::pop_request($::V->{aliyun_pop}[5], config_id => 2)
--- more_headers eval
::pop_headers($::V->{aliyun_pop}[5])
--- response_body_like eval
my $v = $::V->{aliyun_pop}[5];
qr/"string_to_sign":"\Q$v->{stringToSign}\E","signature":"\Q$v->{base64}\E"\},"request":\{"method":"POST","path":"\/","query":"","headers":\{"Content-Type":"application\/x-www-form-urlencoded"\},"body":"\Q$v->{canonicalizedQueryString}&Signature=$v->{signature_in_query}\E"\}/
--- response_body_unlike: testSecret



=== TEST 19: debug, HW-5: the X-AKSK headers, by config_id
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"debug","config_id":12345,"user_id":"user123","payload":{"path":"/rest/provision/voice/record/v1.0","query":{"fileName":"1200_366_0_20161228102743.wav","recordDomain":"ostor.example.com"}}}
--- more_headers eval
my $v = $::V->{huawei_xaksk}[4];
$::Key . "X-Test-Nonce: $v->{nonce}\nX-Test-Timestamp: $v->{created}\n"
--- response_body_like eval
my $v = $::V->{huawei_xaksk}[4];
(my $x = $v->{x_aksk_header}) =~ s/"/\\"/g;
qr/"signing":\{"algorithm":"HMAC-SHA256","key":"the APP_Secret of app \\"appKeyC\\" \(never shown\)","nonce":"$v->{nonce}","created":"$v->{created}","string_to_sign":"$v->{message}","signature":"\Q$v->{passwordDigest}\E"\},"request":\{"method":"GET","path":"\/rest\/provision\/voice\/record\/v1.0","query":"fileName=1200_366_0_20161228102743.wav&recordDomain=ostor.example.com","headers":\{"Content-Type":"application\/json;charset=UTF-8","Authorization":"AKSK realm=\\"SDP\\",profile=\\"UsernameToken\\",type=\\"Appkey\\"","X-AKSK":"\Q$x\E"\},"body":""\}/
--- response_body_unlike: s3cr3t



=== TEST 20: the same target by config_id where no default is set
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x/any
{"mode":"debug","config_id":12345,"user_id":"user123","payload":{"path":"/rest/provision/voice/record/v1.0","query":{"fileName":"a.wav","recordDomain":"d"}}}
--- more_headers eval: $::Key
--- response_body_like: "target":\{"name":"hw","config_id":12345,"dialect":"huawei"



=== TEST 21: debug with problems: 200, what is missing, nothing signed
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"debug","user_id":"user123","payload":{"Action":"QueryRecordFileDownloadUrl","PoolKey":"FC123456","Format":"XML"}}
--- more_headers eval: $::Key
--- response_body_like: "ready":false,"user_id":"user123","target":\{.*\},"operation":"QueryRecordFileDownloadUrl","signing":null,"request":null,"problems":\[\{"field":"payload.Format","message":"must be JSON: the gateway reads JSON answers"\},\{"field":"payload.CallId","message":"required by QueryRecordFileDownloadUrl \(spec §2.7\)"\},\{"field":"payload.CallTime","message":"required by QueryRecordFileDownloadUrl \(spec §2.7\)"\}\]\},"error":null\}
--- response_body_unlike: Signature=



=== TEST 22: a body over 64k: 413 before it is read
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /provision_x\n" . ('x' x 70000)
--- more_headers eval: $::Key
--- error_code: 413
--- response_body eval
::envelope(413, 'payload too large', 'payload_too_large', 'body: larger than 64k bytes') . "\n"



=== TEST 23: live: a call that cannot reach the platform is a 502, and is seen
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /provision_x
{"mode":"live","user_id":"user123","payload":{"Action":"BindAxb","PoolKey":"FC1"}}
--- more_headers eval: $::Key
--- error_code: 502
--- response_body eval
::envelope(502, 'bad gateway', 'platform_error', 'the platform could not be reached') . "\n"
--- error_log
connect() failed
interface call: user "user123" target "ali" operation "BindAxb": platform_error 502 (platform 0,
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 24: provision_x_interface needs an API key in its location or above
--- http_config
    provision_x_app testId secret=$TEST_NGINX_SECRETS/pop-test.key;
    provision_x_interface_target ali id=1 dialect=aliyun app=testId
        pass=/_px operations=BindAxb;
--- config
    location = /provision_x { provision_x_interface; }
--- must_die
--- error_log
"provision_x_interface" needs "provision_x_api_key" in its location or above



=== TEST 25: provision_x_interface needs a target defined before it
--- http_config
    provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
--- config
    location = /provision_x { provision_x_interface; }
--- must_die
--- error_log
"provision_x_interface" needs a "provision_x_interface_target" defined before it



=== TEST 26: an unknown target
--- http_config eval: $::HttpConfig
--- config
    location = /provision_x { provision_x_interface target=nope; }
--- must_die
--- error_log
unknown target in "target=nope"; define it with "provision_x_interface_target" before this directive



=== TEST 27: a target's app must be defined before it
--- http_config
    provision_x_interface_target ali id=1 dialect=aliyun app=testId
        pass=/_px operations=BindAxb;
--- config
--- must_die
--- error_log
unknown app in "app=testId"



=== TEST 28: operations= is required
--- http_config
    provision_x_app testId secret=$TEST_NGINX_SECRETS/pop-test.key;
    provision_x_interface_target ali id=1 dialect=aliyun app=testId pass=/_px;
--- config
--- must_die
--- error_log
"provision_x_interface_target" must have "operations" parameter



=== TEST 29: an operation that is not the dialect's
--- http_config
    provision_x_app testId secret=$TEST_NGINX_SECRETS/pop-test.key;
    provision_x_interface_target hw id=1 dialect=huawei app=testId pass=/_px
        operations=/rest/a/v1.0,BindAxb;
--- config
--- must_die
--- error_log
invalid operation "BindAxb" in "operations=/rest/a/v1.0,BindAxb", expected API paths like /rest/x/v1.0



=== TEST 30: two targets, one id
--- http_config
    provision_x_app testId secret=$TEST_NGINX_SECRETS/pop-test.key;
    provision_x_interface_target a id=7 dialect=aliyun app=testId pass=/_px
        operations=BindAxb;
    provision_x_interface_target b id=7 dialect=aliyun app=testId pass=/_px
        operations=BindAxb;
--- config
--- must_die
--- error_log
id=7 is duplicate, target "a" has it



=== TEST 31: POP settings on a Huawei target
--- http_config
    provision_x_app appKeyC secret=$TEST_NGINX_SECRETS/huawei-c.key;
    provision_x_interface_target hw id=1 dialect=huawei app=appKeyC pass=/_px
        operations=/rest/a/v1.0 method=POST;
--- config
--- must_die
--- error_log
method=, access_key_id=, region= and version= are for dialect=aliyun targets only



=== TEST 32: a bad value
--- http_config
    provision_x_app testId secret=$TEST_NGINX_SECRETS/pop-test.key;
    provision_x_interface_target a id=1 dialect=aliyun app=testId pass=/_px
        operations=BindAxb timeout=0;
--- config
--- must_die
--- error_log
invalid parameter "timeout=0"
