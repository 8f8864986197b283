# Call control (§2.5, §3.3, A-26): the gateway verifies the platform's
# query, asks the binding service, and relays a valid answer; on failure,
# a malformed or out-of-spec answer, or a missed deadline it answers the
# configured fallback itself, in the dialect's exact format.

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

sub ali {
    my (%p) = @_;
    return PXSign::aliyun_query(secret => 'testSecret', params => {
        callNo => '13800000001', secretNo => '17000000002',
        callId => 'c-1', recordType => 'CAL',
        callTime => '20240102030405', %p });
}

sub hw_body {
    my ($caller) = @_;
    $caller //= '+8613800000001';
    return '{"eventType":"callin","statusInfo":{"sessionId":"s-1",'
        . '"timestamp":"2024-01-02 03:04:05","caller":"' . $caller
        . '","called":"+8617000000002","notifyMode":"Block"}}';
}

sub hw_headers {
    my ($scenario) = @_;
    return PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA')
        . "X-Scenario: $scenario\n";
}

our $HttpConfig = <<'_EOC_';
    provision_x_app ali secret=$TEST_NGINX_SECRETS/aliyun.key;
    provision_x_app appKeyA secret=$TEST_NGINX_SECRETS/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    log_format cc '$provision_x_call_control';
_EOC_

our $Config = <<'_EOC_';
    provision_x_nonce nonces;
    access_log logs/cc.log cc;

    location = /cc/aliyun {
        provision_x_verify aliyun app=ali;
        provision_x_call_control aliyun pass=/binding timeout=300ms
                                 fallback=REJECT message=fallback
                                 landline=reject;
        add_header X-Call-Control $provision_x_call_control always;
    }

    location = /cc/aliyun-default {
        provision_x_verify aliyun app=ali;
        provision_x_call_control aliyun pass=/binding timeout=300ms;
    }

    location = /cc/huawei {
        provision_x_verify huawei app=appKeyA;
        provision_x_call_control huawei pass=/binding timeout=300ms
                                 landline=reject;
    }

    location = /binding {
        internal;
        proxy_read_timeout 1s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/svc/$http_x_scenario?$args;
    }

    location = /svc/ali-ok {
        return 200 '{"code":"OK","message":"OK","model":{"controlOperate":"IVR","controlMsg":"","subsId":"42","callNoPlayCode":"P1"},"seen":"$arg_callNo|$request_method"}';
    }
    location = /svc/ali-badop {
        return 200 '{"code":"OK","model":{"controlOperate":"MAYBE"}}';
    }
    location = /svc/ali-nojson {
        return 200 '{"code":"OK",';
    }
    location = /svc/fail {
        return 503;
    }
    location = /svc/slow {
        # headers go out, the body trickles: the deadline passes first
        limit_rate 1;
        return 200 '{"code":"OK","model":{"controlOperate":"CONTINUE"}}';
    }
    location = /svc/hw-ok {
        return 200 '{"operation":"connect","connectInfo":{"displayCalleeNum":"+8617000000002","calleeNum":"+8613800000009","maxDuration":60,"recordFlag":"true","userData":"$request_method|$http_content_length"}}';
    }
    location = /status {
        provision_x_status;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }

    location = /svc/hw-bad {
        return 200 '{"operation":"connect","connectInfo":{"calleeNum":"+8613800000009","maxDuration":7200}}';
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: Aliyun: a valid answer is relayed as the service sent it
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /cc/aliyun?" . ::ali()
--- more_headers
X-Scenario: ali-ok
--- response_headers
Content-Type: application/json;charset=UTF-8
X-Call-Control: relayed
--- response_body chomp
{"code":"OK","message":"OK","model":{"controlOperate":"IVR","controlMsg":"","subsId":"42","callNoPlayCode":"P1"},"seen":"13800000001|GET"}
--- no_error_log
[warn]
[error]



=== TEST 2: Aliyun: the service fails: fallback, logged
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /cc/aliyun?" . ::ali()
--- more_headers
X-Scenario: fail
--- response_headers
X-Call-Control: fallback_status
--- response_body chomp
{"code":"OK","message":"fallback","model":{"controlOperate":"REJECT","controlMsg":"","subsId":"0","callNoPlayCode":""}}
--- error_log
call control fallback
fallback_status: binding service failed, binding status 503



=== TEST 3: Aliyun: malformed JSON: fallback
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /cc/aliyun?" . ::ali()
--- more_headers
X-Scenario: ali-nojson
--- response_body chomp
{"code":"OK","message":"fallback","model":{"controlOperate":"REJECT","controlMsg":"","subsId":"0","callNoPlayCode":""}}
--- error_log
fallback_invalid: not a JSON object



=== TEST 4: Aliyun: a controlOperate the spec does not allow: fallback
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /cc/aliyun?" . ::ali()
--- more_headers
X-Scenario: ali-badop
--- response_body chomp
{"code":"OK","message":"fallback","model":{"controlOperate":"REJECT","controlMsg":"","subsId":"0","callNoPlayCode":""}}
--- error_log
fallback_invalid: operation not allowed



=== TEST 5: Aliyun: the deadline passes: the default fallback, in time
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /cc/aliyun-default?" . ::ali()
--- more_headers
X-Scenario: slow
--- response_body chomp
{"code":"OK","message":"OK","model":{"controlOperate":"CONTINUE","controlMsg":"","subsId":"0","callNoPlayCode":""}}
--- error_log
fallback_timeout: deadline passed
call control answer after the deadline ignored
--- timeout: 5



=== TEST 6: Aliyun: a landline caller is refused without asking
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /cc/aliyun?" . ::ali(callNo => '057188880000')
--- more_headers
X-Scenario: ali-ok
--- response_headers
X-Call-Control: landline
--- response_body chomp
{"code":"OK","message":"REJECT","model":{"controlOperate":"REJECT","controlMsg":"","subsId":"0","callNoPlayCode":""}}
--- no_error_log
[warn]
[error]



=== TEST 7: Aliyun: an unsigned query never reaches the service
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /cc/aliyun?callNo=13800000001&secretNo=17000000002
--- more_headers
X-Scenario: ali-ok
--- error_code_like: ^4
--- response_body_unlike
controlOperate



=== TEST 8: Huawei callin: a valid Block answer is relayed, body passed on
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cc/huawei\n" . ::hw_body()
--- more_headers eval
::hw_headers('hw-ok')
--- response_body eval
'{"operation":"connect","connectInfo":{"displayCalleeNum":"+8617000000002",'
. '"calleeNum":"+8613800000009","maxDuration":60,"recordFlag":"true",'
. '"userData":"POST|' . length(::hw_body()) . '"}}'
--- no_error_log
[warn]
[error]



=== TEST 9: Huawei: maxDuration out of range (8014 territory): close
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cc/huawei\n" . ::hw_body()
--- more_headers eval
::hw_headers('hw-bad')
--- response_body chomp
{"operation":"close"}
--- error_log
fallback_invalid: field out of the spec's range



=== TEST 10: Huawei: the deadline passes: close
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cc/huawei\n" . ::hw_body()
--- more_headers eval
::hw_headers('slow')
--- response_body chomp
{"operation":"close"}
--- error_log
fallback_timeout
--- timeout: 5



=== TEST 11: Huawei: a landline caller (+86 area code) is closed at once
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cc/huawei\n" . ::hw_body('+867552800001')
--- more_headers eval
::hw_headers('hw-ok')
--- response_body chomp
{"operation":"close"}
--- error_log
landline caller refused



=== TEST 12: scripted traffic for the counters: each outcome once or twice
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /cc/aliyun?" . ::ali(), "GET /cc/aliyun?" . ::ali(),
 "GET /cc/aliyun?" . ::ali(), "GET /cc/aliyun?" . ::ali(),
 "POST /cc/huawei\n" . ::hw_body(),
 "POST /cc/huawei\n" . ::hw_body('+867552800001')]
--- more_headers eval
["X-Scenario: ali-ok\n", "X-Scenario: fail\n", "X-Scenario: ali-badop\n",
 "X-Scenario: ali-nojson\n", ::hw_headers('hw-ok'), ::hw_headers('hw-ok')]
--- response_headers eval
["X-Call-Control: relayed", "X-Call-Control: fallback_status",
 "X-Call-Control: fallback_invalid", "X-Call-Control: fallback_invalid",
 "", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200]



=== TEST 13: every answer above is counted by dialect and outcome
# no config: the nginx of the block above, with its counters
--- request
GET /status?format=prometheus
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- response_body_like eval
qr/^provision_x_call_control_total\{dialect="aliyun",outcome="relayed"\} 1
provision_x_call_control_total\{dialect="aliyun",outcome="landline"\} 0
provision_x_call_control_total\{dialect="aliyun",outcome="fallback_status"\} 1
provision_x_call_control_total\{dialect="aliyun",outcome="fallback_invalid"\} 2
provision_x_call_control_total\{dialect="aliyun",outcome="fallback_timeout"\} 0
provision_x_call_control_total\{dialect="aliyun",outcome="fallback_error"\} 0
provision_x_call_control_total\{dialect="huawei",outcome="relayed"\} 1
provision_x_call_control_total\{dialect="huawei",outcome="landline"\} 1
provision_x_call_control_total\{dialect="huawei",outcome="fallback_status"\} 0
provision_x_call_control_total\{dialect="huawei",outcome="fallback_invalid"\} 0
provision_x_call_control_total\{dialect="huawei",outcome="fallback_timeout"\} 0
provision_x_call_control_total\{dialect="huawei",outcome="fallback_error"\} 0$/m



=== TEST 14: the same counters in the JSON status
--- request
GET /status
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- response_body_like: "call_control":\{"aliyun":\{"relayed":1,"landline":0,"fallback_status":1,"fallback_invalid":2,"fallback_timeout":0,"fallback_error":0\},"huawei":\{"relayed":1,"landline":1,"fallback_status":0,"fallback_invalid":0,"fallback_timeout":0,"fallback_error":0\}\}



=== TEST 15: Huawei connect cannot be a fallback
--- http_config eval: $::HttpConfig
--- config
    location = /x {
        provision_x_call_control huawei pass=/b fallback=connect;
    }
--- must_die
--- error_log
invalid parameter "fallback=connect"



=== TEST 16: pass= is required
--- http_config eval: $::HttpConfig
--- config
    location = /x {
        provision_x_call_control aliyun timeout=1s;
    }
--- must_die
--- error_log
"provision_x_call_control" needs "pass=/uri"



=== TEST 17: an answer larger than the subrequest's buffer: the fallback, not a closed connection
--- http_config eval: $::HttpConfig
--- config
    provision_x_nonce nonces;

    location = /cc/aliyun {
        provision_x_verify aliyun app=ali;
        provision_x_call_control aliyun pass=/binding timeout=1s
                                 fallback=REJECT message=fallback;
    }

    location = /binding {
        internal;
        subrequest_output_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/svc/big;
    }

    location = /svc/big {
        return 200 '{"code":"OK","message":"OK","model":{"controlOperate":"CONTINUE","controlMsg":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","subsId":"","callNoPlayCode":""}}';
    }
--- request eval
"GET /cc/aliyun?" . ::ali()
--- response_body chomp
{"code":"OK","message":"fallback","model":{"controlOperate":"REJECT","controlMsg":"","subsId":"0","callNoPlayCode":""}}
--- error_log
fallback_status: binding service failed, binding status 502
