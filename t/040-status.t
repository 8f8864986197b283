# The status endpoint: protected by API keys, counters that move with
# scripted traffic, JSON and Prometheus text.  Blocks after the first
# reuse the running nginx, so the traffic of blocks 2-7 is what blocks
# 8-10 report.

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

our $Push = PXSign::fee_push(n => 3, tag => 'st');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: no API key: 401 in the envelope, nothing reported
--- http_config
    provision_x_app appKeyA secret=$TEST_NGINX_SECRETS/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=seen:1m;
    provision_x_queue_zone zone=cdrq:1m;
--- config
    provision_x_nonce nonces;

    location = /hw {
        provision_x_verify huawei;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }

    location = /cdr {
        provision_x_cdr huawei queue=cdrq dedup=seen;
    }

    location = /ok { return 200 "ok\n"; }

    location = /status {
        provision_x_status;
        provision_x_api_key $TEST_NGINX_SECRETS/api-a.key;
    }
--- request
GET /status
--- error_code: 401
--- response_body_like: ^\{"status_code":401,.*"error":\{"code":"unauthorized"
--- no_error_log
consumer-key-one



=== TEST 2: a verified callback
--- request
GET /hw
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA')
--- response_body
ok



=== TEST 3: a refused one
--- request
GET /hw
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'wrong')
--- error_code: 403



=== TEST 4: a push of three records into the queue
--- request eval
"POST /cdr\n$::Push"
--- response_body chomp
{}



=== TEST 5: the same push again, acknowledged by its digest
--- request eval
"POST /cdr\n$::Push"
--- response_body chomp
{}



=== TEST 6: a push with one old, one new and one invalid record
--- request eval
"POST /cdr\n" . PXSign::fee_push(records => [
    PXSign::fee_record('st', 1), PXSign::fee_record('st', 9),
    PXSign::fee_record('st', 10, spId => '')])
--- response_body chomp
{}



=== TEST 7: an envelope error
--- request
POST /cdr
[]
--- error_code: 400



=== TEST 8: the JSON report counts all of it
--- request
GET /status
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- response_headers
Content-Type: application/json
--- response_body_like eval
# the latency histograms: two queue hand-offs within the 1 ms bucket
my $none = '\{"buckets":\[0(?:,0){9}\],"count":0,"sum":0\.000\}';
# no event pushes: every type of each dialect at zero
my $zero = '\{"pushes":0,"retries":0,"refused":0,"records":0,"duplicates":0,"dead_lettered":0,"hand_off":\{"2xx":0,"3xx":0,"4xx":0,"5xx":0\}\}';
my $events = '"events":\{"aliyun":\{' . CORE::join(',', map { "\"$_\":$zero" }
    qw(SecretStartReport SecretRingReport SecretRecording NumberManagementReport))
    . '\},"huawei":\{' . CORE::join(',', map { "\"$_\":$zero" }
    qw(callin callout alerting answer disconnect numStatus smsEvent unknown))
    . '\}\}';
qr/^\{"version":"\d+\.\d+\.\d+","nginx_version":"\d+\.\d+\.\d+","verified":\[\{"dialect":"huawei","app":"appKeyA","count":1\}\],"rejected":\[\{"dialect":"huawei","app":"appKeyA","reason":"bad_signature","count":1\}\],"cdr":\{"aliyun":\{"pushes":0,"retries":0,"refused":0,"records":0,"duplicates":0,"dead_lettered":0,"hand_off":\{"2xx":0,"3xx":0,"4xx":0,"5xx":0\}\},"huawei":\{"pushes":2,"retries":1,"refused":1,"records":4,"duplicates":1,"dead_lettered":1,"hand_off":\{"2xx":2,"3xx":0,"4xx":0,"5xx":0\}\}\},$events,"call_control":\{"aliyun":\{"relayed":0,"landline":0,"fallback_status":0,"fallback_invalid":0,"fallback_timeout":0,"fallback_error":0\},"huawei":\{"relayed":0,"landline":0,"fallback_status":0,"fallback_invalid":0,"fallback_timeout":0,"fallback_error":0\}\},"sms_control":\{"huawei":\{"relayed":0,"fallback_status":0,"fallback_invalid":0,"fallback_timeout":0,"fallback_error":0\}\},"latency":\{"le":\[0\.001,0\.005,0\.01,0\.025,0\.05,0\.1,0\.25,0\.5,1,2\.5\],"hand_off":\{"aliyun":\{"queue":$none,"forward":$none,"redis":$none\},"huawei":\{"queue":\{"buckets":\[2(?:,2){9}\],"count":2,"sum":0\.000\},"forward":$none,"redis":$none\}\},"call_control":\{"aliyun":$none,"huawei":$none\},"sms_control":$none\},"queues":\[\{"zone":"cdrq","enqueued":4,"leased_total":0,"acknowledged":0,"redelivered":0,"refused_full":0,"depth":4,"leased":0,"bytes_used":\d+,"bytes_free":\d+,"oldest_age":\d+\}\],"zones":\[\{"zone":"nonces","kind":"nonce","size":1048576,"entries":1,"capacity":\d+,"fill":0\.000,"max_share":0,"refused_full":0,"refused_share":0,"apps":\[\{"app":"appKeyA","entries":1\}\]\},\{"zone":"seen","kind":"dedup","size":1048576,"entries":6,"capacity":\d+,"fill":0\.000,"max_share":0,"refused_full":0,"refused_share":0,"apps":\[\{"app":"","entries":6\}\]\}\]\}$/



=== TEST 9: ?format=prometheus gives the text exposition format
--- request
GET /status?format=prometheus
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body_like eval
qr/\A(?=.*^[#]\ TYPE\ provision_x_verified_total\ counter\n)
      (?=.*^provision_x_verified_total\{dialect="huawei",app="appKeyA"\}\ 1\n)
      (?=.*^provision_x_rejected_total\{dialect="huawei",app="appKeyA",reason="bad_signature"\}\ 1\n)
      (?=.*^provision_x_cdr_records_total\{dialect="huawei"\}\ 4\n)
      (?=.*^provision_x_cdr_dead_lettered_total\{dialect="huawei"\}\ 1\n)
      (?=.*^provision_x_cdr_hand_off_total\{dialect="huawei",class="2xx"\}\ 2\n)
      (?=.*^provision_x_queue_depth\{zone="cdrq"\}\ 4\n)
      (?=.*^provision_x_zone_entries\{zone="seen",kind="dedup"\}\ 6\n)/msx



=== TEST 10: so does an Accept: text/plain scraper
--- request
GET /status
--- more_headers
Authorization: Bearer consumer-key-one-7f3a9c
Accept: text/plain;version=0.0.4
--- response_body_like: ^# HELP provision_x_build_info
