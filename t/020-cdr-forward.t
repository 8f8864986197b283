# The CDR receiver with the forward sink: parse, validate, deduplicate,
# forward the new records as NDJSON through proxy_pass, and acknowledge
# the platform only after the upstream answered 2xx.

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
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_dedup_zone zone=signed:1m ttl=1h;
    provision_x_dead_letter $TEST_NGINX_SERVER_ROOT/logs/provision_x_dead_letter.ndjson;
    log_format received escape=none '$request_body';
    limit_req_zone $server_name zone=slow:1m rate=1r/m;
    log_format counts 'records=$provision_x_cdr_records '
                      'duplicates=$provision_x_cdr_duplicates '
                      'invalid=$provision_x_cdr_invalid';
_EOC_

our $Config = <<'_EOC_';
    client_body_buffer_size 1m;

    location = /cdr {
        provision_x_cdr huawei forward=/_forward dedup=dedup;
        access_log logs/counts.log counts;
    }

    location = /cdr-reject {
        provision_x_cdr huawei forward=/_forward dedup=dedup invalid=reject;
    }

    location = /cdr-down {
        provision_x_cdr huawei forward=/_forward_down dedup=dedup;
    }

    location = /cdr-500 {
        provision_x_cdr huawei forward=/_forward_500 dedup=dedup;
    }

    location = /cdr-slow {
        provision_x_cdr huawei forward=/_forward_slow dedup=dedup;
    }

    location = /cdr-aliyun {
        provision_x_cdr aliyun forward=/_forward dedup=dedup;
    }

    location = /cdr-logged {
        provision_x_cdr huawei forward=/_forward dedup=dedup;
        access_log logs/pushed.log received;
    }

    location = /pushed {
        alias $TEST_NGINX_SERVER_ROOT/logs/pushed.log;
    }

    location = /cdr-signed {
        provision_x_verify huawei;
        provision_x_nonce nonces;
        provision_x_cdr huawei forward=/_forward dedup=signed;
    }

    location = /_forward {
        internal;
        proxy_pass_request_headers off;
        proxy_set_header Content-Type application/x-ndjson;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /_forward_down {
        internal;
        proxy_pass http://127.0.0.1:1/backend;
    }

    location = /_forward_500 {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink500;
    }

    location = /_forward_slow {
        internal;
        proxy_read_timeout 1s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/slow;
    }

    # the customer's CDR service: records every body it accepted
    location = /backend {
        client_body_buffer_size 1m;
        access_log logs/received.log received;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
    }

    location = /sink { return 200 "stored\n"; }
    location = /sink500 { return 500; }

    location = /slow {
        limit_req zone=slow burst=5;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
    }

    location = /received {
        alias $TEST_NGINX_SERVER_ROOT/logs/received.log;
    }

    location = /counts {
        alias $TEST_NGINX_SERVER_ROOT/logs/counts.log;
    }

    location = /dead-letters {
        alias $TEST_NGINX_SERVER_ROOT/logs/provision_x_dead_letter.ndjson;
    }
_EOC_

our $Push50 = PXSign::fee_push(n => 50, tag => 'm');

sub count_lines {
    my ($text, $re) = @_;
    my $n = () = $text =~ /$re/g;
    return $n;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a merged 50-record push is forwarded as 50 NDJSON lines
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /cdr\n$::Push50", "GET /received"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{\}$/,
 qr/\A(?:\{"dialect":"huawei","type":"cdr","app":"appKeyA","key":"huawei\/appKeyA\/1200_m_\d+\@callenabler\.example\/0\/icid-m-\d+","received":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","record":\{"appKey":"appKeyA"[^\n]*"userData":"用户\d+"\}\}\n){50}\n\z/s]
--- no_error_log
[warn]
[error]



=== TEST 2: 51 records: 400 in Huawei's shape, nothing forwarded
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /cdr\n" . PXSign::fee_push(n => 51), "GET /received"]
--- error_code eval
[400, 200]
--- response_body eval
["{\"resultcode\":\"400\",\"resultdesc\":\"\\\"feeLst\\\" has too many records\"}",
 ""]
--- no_error_log
[error]



=== TEST 3: not JSON: 400
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /cdr
{"eventType":"fee","feeLst":[
--- error_code: 400
--- response_body chomp
{"resultcode":"400","resultdesc":"request body is not valid JSON"}
--- error_log
refused huawei CDR push: not_json



=== TEST 4: a wrong eventType: 400
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cdr\n" . PXSign::fee_push(n => 1, event => 'callin')
--- error_code: 400
--- error_log
wrong_event_type



=== TEST 5: a duplicated JSON key: 400
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /cdr
{"eventType":"fee","eventType":"fee","feeLst":[]}
--- error_code: 400
--- error_log
duplicate_key



=== TEST 6: an invalid record among valid ones is dead-lettered, the rest forwarded
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my @r = map { PXSign::fee_record('inv', $_) } 1 .. 4;
$r[2] = PXSign::fee_record('inv', 3, recordFlag => 7);
["POST /cdr\n" . PXSign::fee_push(records => \@r), "GET /received",
 "GET /dead-letters", "GET /counts"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/^\{\}$/,
 qr/\A(?:[^\n]*"icid":"icid-inv-[124]"[^\n]*\n){3}\n\z/,
 qr/\A\{"dialect":"huawei","type":"cdr","app":"appKeyA","key":"[^"]+","received":"[^"]+","error":"field \\"recordFlag\\" [^"]*","record":\{[^\n]*"icid":"icid-inv-3"[^\n]*\}\}\n\z/,
 qr/^records=3 duplicates=0 invalid=1$/]
--- no_error_log
[error]



=== TEST 7: with invalid=reject the whole push is refused
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my @r = map { PXSign::fee_record('rej', $_) } 1 .. 3;
$r[1] = PXSign::fee_record('rej', 2, spId => '');
["POST /cdr-reject\n" . PXSign::fee_push(records => \@r), "GET /received"]
--- error_code eval
[400, 200]
--- response_body eval
["{\"resultcode\":\"400\",\"resultdesc\":\"the push holds an invalid record\"}",
 ""]
--- no_error_log
[error]



=== TEST 8: duplicates inside one push and across pushes are dropped
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my $a = PXSign::fee_record('d', 1);
my $b = PXSign::fee_record('d', 2);
my $c = PXSign::fee_record('d', 3);
["POST /cdr\n" . PXSign::fee_push(records => [$a, $b, $a]),
 "POST /cdr\n" . PXSign::fee_push(records => [$b, $c]),
 "GET /received", "GET /counts"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/^\{\}$/, qr/^\{\}$/,
 qr/\A[^\n]*icid-d-1[^\n]*\n[^\n]*icid-d-2[^\n]*\n\n[^\n]*icid-d-3[^\n]*\n\n\z/,
 qr/\Arecords=2 duplicates=1 invalid=0\nrecords=1 duplicates=1 invalid=0\n\z/]



=== TEST 9: a byte-for-byte retry is acknowledged by its digest
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my $p = PXSign::fee_push(n => 3, tag => 'r');
["POST /cdr\n$p", "POST /cdr\n$p", "GET /received", "GET /counts"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/^\{\}$/, qr/^\{\}$/, qr/\A(?:[^\n]*icid-r-\d[^\n]*\n){3}\n\z/,
 qr/\Arecords=3 duplicates=0 invalid=0\nrecords=0 duplicates=0 invalid=0\n\z/]



=== TEST 10: upstream down: 502; the retry then delivers every record once
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /cdr-down\n$::Push50", "POST /cdr\n$::Push50",
 "POST /cdr\n$::Push50", "GET /received"]
--- error_code eval
[502, 200, 200, 200]
--- response_body_like eval
[qr/^\{"resultcode":"502","resultdesc":"hand-off failed"\}$/,
 qr/^\{\}$/, qr/^\{\}$/,
 qr/\A(?:[^\n]*"icid":"icid-m-\d+"[^\n]*\n){50}\n\z/]



=== TEST 11: upstream 500: 502 to the platform
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cdr-500\n" . PXSign::fee_push(n => 2, tag => 'e')
--- error_code: 502
--- error_log
CDR forward answered 500



=== TEST 12: upstream timeout: 502 to the platform
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /slow", "POST /cdr-slow\n" . PXSign::fee_push(n => 2, tag => 's')]
--- error_code eval
[200, 502]
--- timeout: 5



=== TEST 13: a body in a temp file
--- http_config eval: $::HttpConfig
--- config eval
my $c = $::Config;
$c =~ s/client_body_buffer_size 1m;/client_body_buffer_size 1k;/;
$c
--- request eval
["POST /cdr\n$::Push50", "GET /received"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{\}$/, qr/\A(?:[^\n]*"icid":"icid-m-\d+"[^\n]*\n){50}\n\z/]



=== TEST 14: an Aliyun receipt array and its acknowledgement body
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /cdr-aliyun\n" . PXSign::report_push(n => 3, tag => 'al'),
 "GET /received"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"code":0,"msg":"接收成功"\}$/,
 qr/\A(?:\{"dialect":"aliyun","type":"cdr","app":"FC100000123","key":"aliyun\/pool_key\/FC100000123\/call-al-\d","received":"[^"]+","record":\{"id":\d[^\n]*\}\}\n){3}\n\z/]



=== TEST 15: only POST: 405 with Allow
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /cdr
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chomp
{"resultcode":"405","resultdesc":"only POST is accepted"}



=== TEST 16: a body over max_body: 413
--- http_config eval: $::HttpConfig
--- config eval
$::Config . '
    location = /cdr-small {
        provision_x_cdr huawei forward=/_forward max_body=1k;
    }'
--- request eval
"POST /cdr-small\n$::Push50"
--- error_code: 413
--- response_body chomp
{"resultcode":"413","resultdesc":"request body is too large"}



=== TEST 17: verification and the CDR handler together
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /cdr-signed\n" . PXSign::fee_push(n => 2, tag => 'v'), "GET /received"]
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA')
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{\}$/, qr/\A(?:[^\n]*"icid":"icid-v-\d"[^\n]*\n){2}\n\z/]



=== TEST 18: the log names an envelope refusal
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cdr\n" . PXSign::fee_push(n => 51)
--- error_code: 400
--- error_log
refused huawei CDR push: too_many_records, 51 records, at most 50 allowed



=== TEST 19: the log names each dead-lettered record
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cdr\n" . PXSign::fee_push(records => [
    PXSign::fee_record('lg', 1), PXSign::fee_record('lg', 2, recordFlag => 7)])
--- response_body chomp
{}
--- error_log
dead-lettered huawei CDR record 1: field "recordFlag"



=== TEST 20: the log names a failed hand-off
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cdr-down\n" . PXSign::fee_push(n => 2, tag => 'lg2')
--- error_code: 502
--- error_log
CDR forward answered 502, 2 records not acknowledged



=== TEST 21: a body in a temp file, as the log confirms
--- http_config eval: $::HttpConfig
--- config eval
my $c = $::Config;
$c =~ s/client_body_buffer_size 1m;/client_body_buffer_size 1k;/;
$c
--- request eval
"POST /cdr\n$::Push50"
--- response_body chomp
{}
--- error_log
a client request body is buffered to a temporary file



=== TEST 22: a \u0000 costs its record only: dead-lettered, the others forwarded
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my @r = map { PXSign::fee_record('nul', $_) } 1 .. 3;
$r[1] = PXSign::fee_record('nul', 2, userData => 'a\u0000b');
["POST /cdr\n" . PXSign::fee_push(records => \@r), "GET /received",
 "GET /dead-letters", "GET /counts"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/^\{\}$/,
 qr/\A[^\n]*"icid":"icid-nul-1"[^\n]*\n[^\n]*"icid":"icid-nul-3"[^\n]*\n\n\z/,
 qr/\A\{"dialect":"huawei","type":"cdr","app":"appKeyA","key":"huawei\/appKeyA\/1200_nul_2\@callenabler.example\/0\/icid-nul-2","received":"[^"]+","error":"record contains \\\\u0000","record":\{[^\n]*"userData":"a\\u0000b"\}\}\n\z/,
 qr/^records=2 duplicates=0 invalid=1$/]
--- no_error_log
[error]



=== TEST 23: a byte that is not UTF-8 costs its record: Base64 in the dead letter
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my @r = map { PXSign::fee_record('u8', $_) } 1 .. 3;
$r[1] = PXSign::fee_record('u8', 2, userData => "ab\xffcd");
$::BadRecord = $r[1];
["POST /cdr\n" . PXSign::fee_push(records => \@r), "GET /received",
 "GET /dead-letters", "GET /counts"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
use MIME::Base64 ();
my $b64 = MIME::Base64::encode_base64($::BadRecord, '');
[qr/^\{\}$/,
 qr/\A[^\n]*"icid":"icid-u8-1"[^\n]*\n[^\n]*"icid":"icid-u8-3"[^\n]*\n\n\z/,
 qr/\A\{"dialect":"huawei","type":"cdr","app":"","key":"","received":"[^"]+","error":"record is not valid UTF-8","record_base64":"\Q$b64\E"\}\n\z/,
 qr/^records=2 duplicates=0 invalid=1$/]
--- no_error_log
[error]



=== TEST 24: 2^70 and 1e400 are JSON: kept byte for byte, or the record's problem
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my @r = map { PXSign::fee_record('big', $_) } 1 .. 3;
$r[0] =~ s/^\{/{"vendorBig":1180591620717411303424,"vendorInf":1e400,/;
$r[1] = PXSign::fee_record('big', 2, ulFailReason => '1180591620717411303424');
$r[2] =~ s/^\{/{"ulFailReason":1e400,/;
["POST /cdr\n" . PXSign::fee_push(records => \@r), "GET /received",
 "GET /dead-letters"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{\}$/,
 qr/\A[^\n]*"record":\{"vendorBig":1180591620717411303424,"vendorInf":1e400,[^\n]*"icid":"icid-big-1"[^\n]*\n\n\z/,
 qr/\A[^\n]*"error":"field \\"ulFailReason\\" does not fit 64 bits"[^\n]*\n[^\n]*"error":"field \\"ulFailReason\\" must be an integer"[^\n]*\n\z/]
--- no_error_log
[error]



=== TEST 25: a key repeated inside a record costs that record, not the push
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my @r = map { PXSign::fee_record('dk', $_) } 1 .. 2;
$r[0] =~ s/^\{/{"ext":{"a":1,"a":2},/;
["POST /cdr\n" . PXSign::fee_push(records => \@r), "GET /received",
 "GET /dead-letters"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{\}$/,
 qr/\A[^\n]*"icid":"icid-dk-2"[^\n]*\n\n\z/,
 qr/\A[^\n]*"error":"record repeats a key within one object","record":\{"ext":\{"a":1,"a":2\},[^\n]*\n\z/]
--- no_error_log
[error]



=== TEST 26: a signed push is bound to its app: another app's record is dead-lettered
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
my @r = (PXSign::fee_record('bd', 1),
         PXSign::fee_record('bd', 2, appKey => 'appKeyB'));
["POST /cdr-signed\n" . PXSign::fee_push(records => \@r), "GET /received",
 "GET /dead-letters"]
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA')
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{\}$/,
 qr/\A[^\n]*"icid":"icid-bd-1"[^\n]*\n\n\z/,
 qr/\A\{"dialect":"huawei","type":"cdr","app":"appKeyA","key":"huawei\/appKeyB\/[^"]+","received":"[^"]+","error":"field \\"appKey\\" is not the app that signed the push","record":\{[^\n]*"icid":"icid-bd-2"[^\n]*\}\}\n\z/]
--- no_error_log
[error]



=== TEST 27: the log names why each record was dead-lettered
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"POST /cdr-signed\n" . PXSign::fee_push(records => [
    PXSign::fee_record('lw', 1),
    PXSign::fee_record('lw', 2, userData => 'a\u0000b'),
    PXSign::fee_record('lw', 3, userData => "\xff"),
    PXSign::fee_record('lw', 4, appKey => 'appKeyB')])
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA')
--- response_body chomp
{}
--- error_log
dead-lettered huawei CDR record 1: record contains \u0000
dead-lettered huawei CDR record 2: record is not valid UTF-8
dead-lettered huawei CDR record 3: field "appKey" is not the app that signed the push
--- no_error_log
[error]



=== TEST 28: $request_body still reads the push after the parse took its padded copy (nginx's buffers of it are freed)
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["POST /cdr-logged\n$::Push50", "GET /pushed"]
--- error_code eval
[200, 200]
--- response_body eval
["{}", "$::Push50\n"]
--- no_error_log
[error]
