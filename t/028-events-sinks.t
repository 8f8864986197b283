# Events reach each sink the way CDRs do, and a hand-off that fails is
# acknowledged to nobody: the platform's retry at the same URL, once the
# sink is back, delivers each record exactly once.
#
#   queue=    CDRs and events of one URL in one queue, told apart by the
#             line's type; a full queue answers 503 (Huawei's shape,
#             Retry-After) and the retry after the consumer drained it is
#             queued once; the same for Aliyun recording receipts (Aliyun's
#             shape);
#   forward=  the customer's service down: 502 in Aliyun's shape for
#             call-start receipts, in Huawei's for a hang-up event; up
#             again: each retry is forwarded once;
#   redis=    Redis stopped: 502; started: the retry is written once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

use PXEvents;
use PXNginx;
use PXQueue;
use PXRedis;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $json = JSON::PP->new;

my $redis = PXRedis->new(name => 'events');
$redis->start;
my $rport = $redis->port;

# the customer's service, started only later
my $service = PXNginx->new(name => 'events-service', server => <<'_EOC_');
        location = /ingest {
            client_body_buffer_size 1m;
            access_log logs/received.log received;
            proxy_pass http://127.0.0.1:$server_port/stored;
        }
        location = /stored { return 200; }
_EOC_
$service->write_config(http => <<'_EOC_');
    log_format received escape=none '$request_body';
_EOC_
my $sport = $service->port;

my $nginx = PXNginx->new(name => 'events-sinks', workers => 2,
                         http => <<"_EOC_", server => <<"_EOC_");
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_dedup_zone zone=unsigned:1m ttl=1h;
    provision_x_queue_zone zone=q:64k;
    provision_x_queue_zone zone=qa:64k;
    provision_x_api_key $secrets/api-a.key;
    provision_x_dead_letter logs/dead.ndjson;
    upstream px_redis { server 127.0.0.1:$rport; }
    provision_x_redis_stream px:events;
_EOC_
        provision_x_nonce nonces;

        # one URL for everything Huawei pushes: CDRs and every event
        location = /hw/all {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei
                types=fee,callin,callout,alerting,answer,disconnect,numStatus,smsEvent
                queue=q dedup=dedup;
        }
        location /queue { provision_x_queue_consume q max=1000; }

        location = /ali/start {
            provision_x_receive aliyun types=SecretStartReport
                                forward=/_service dedup=unsigned;
        }
        location = /ali/recording {
            provision_x_receive aliyun types=SecretRecording queue=qa
                                dedup=unsigned;
        }
        location /queue-aliyun { provision_x_queue_consume qa max=1000; }

        location = /hw/forward {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=disconnect forward=/_service
                                dedup=dedup;
        }
        location = /_service {
            internal;
            proxy_pass_request_headers off;
            proxy_set_header Content-Type application/x-ndjson;
            proxy_pass http://127.0.0.1:$sport/ingest;
        }

        location = /hw/redis {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=callout,disconnect redis=/_redis
                                dedup=dedup;
        }
        location = /_redis {
            internal;
            provision_x_redis_read_timeout 1s;
            provision_x_redis_pass px_redis;
        }
        location = /status { provision_x_status; }
_EOC_
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

sub signed {
    return [map { split /: /, $_, 2 } split /\n/,
            huawei_headers(app => 'appKeyA', secret => 'secretA')];
}

sub hw { $nginx->request(POST => $_[0], body => $_[1], headers => signed()) }

sub status {
    $json->decode($nginx->request(GET => '/status',
                                  headers => consumer_auth())->content);
}

# --- queue: CDRs and events together ----------------------------------------

my $res = hw('/hw/all', fee_push(n => 2, tag => 'q'));
is $res->code, 200, 'a CDR push at a URL that takes every type';
is $res->content, '{}', '... acknowledged as a CDR: {}';
$res = hw('/hw/all', event_push('answer', event_record('answer', 'q', 1)));
is $res->code, 200, 'an answer event at the same URL';
is $res->content, '', '... acknowledged as an event: empty';
$res = hw('/hw/all', event_push('smsEvent', event_record('smsEvent', 'q', 1)));
is $res->code, 200, 'an SMS notification there too';

my @lines = map { $json->decode($_) } lease_all($nginx, '/queue');
is_deeply [map { $_->{type} } @lines], [qw(cdr cdr answer smsEvent)],
    'one consumer gets them all, told apart by type';
is_deeply [map { $_->{key} } @lines[2, 3]],
    [event_key('answer', 'q', 1), event_key('smsEvent', 'q', 1)],
    '... with the events\' keys';

# --- queue full: 503, then once ---------------------------------------------

my ($refused, $queued, $n) = (undef, 0, 0);
for my $i (1 .. 100) {
    my $body = event_push('numStatus',
        map { event_record('numStatus', 'f', $i * 1000 + $_) } 1 .. 20);
    $res = hw('/hw/all', $body);
    if ($res->code != 200) {
        $refused = $body;
        last;
    }
    $queued += 20;
}
is $res->code, 503, "the queue full after $queued entries: 503";
is $res->header('Retry-After'), 60, '... with Retry-After';
is_deeply $json->decode($res->content),
    {resultcode => '503', resultdesc => 'queue full, retry later'},
    '... in Huawei\'s shape';
is hw('/hw/all', $refused)->code, 503, 'the platform\'s retry, still full: 503';

is scalar(lease_all($nginx, '/queue')), $queued,
    'a consumer drains what was accepted';
$res = hw('/hw/all', $refused);
is $res->code, 200, 'the retry once there is room: 200';
is $res->content, '', '... as an event';
my %keys;
$keys{$_}++ for record_keys(join "\n", lease_all($nginx, '/queue'));
is scalar(keys %keys), 20, '... its 20 entries queued';
is_deeply [grep { $keys{$_} != 1 } keys %keys], [], '... each once';
is hw('/hw/all', $refused)->code, 200, 'and once more';
is scalar(lease_all($nginx, '/queue')), 0, '... nothing queued again';

my $c = status()->{events}{huawei}{numStatus};
is $c->{hand_off}{'5xx'}, 2, 'status: the two refused hand-offs counted 5xx';
is $c->{retries}, 1, 'status: the identical retry counted';

# --- queue full for Aliyun receipts: 503 in Aliyun's shape, then once -------

($refused, $queued) = (undef, 0);
for my $i (1 .. 100) {
    my $body = event_push('SecretRecording',
        map { event_record('SecretRecording', "f$i", $_) } 1 .. 20);
    $res = $nginx->request(POST => '/ali/recording', body => $body);
    if ($res->code != 200) {
        $refused = $body;
        last;
    }
    $queued += 20;
}
is $res->code, 503, "the Aliyun queue full after $queued receipts: 503";
is $res->header('Retry-After'), 60, '... with Retry-After';
is_deeply $json->decode($res->content),
    {code => 503, msg => 'queue full, retry later'}, '... in Aliyun\'s shape';
is $nginx->request(POST => '/ali/recording', body => $refused)->code, 503,
    'the platform\'s retry a minute later, still full: 503';
is scalar(lease_all($nginx, '/queue-aliyun')), $queued,
    'a consumer drains what was accepted';
$res = $nginx->request(POST => '/ali/recording', body => $refused);
is $res->code, 200, 'the retry 5 minutes later, with room: 200';
is $res->content, '{"code":0,"msg":"接收成功"}', '... Aliyun\'s acknowledgement';
%keys = ();
my ($tag) = $refused =~ /"call_id":"call-(f\d+)-/;
$keys{$_}++ for record_keys(join "\n", lease_all($nginx, '/queue-aliyun'));
is_deeply \%keys,
    { map { event_key('SecretRecording', $tag, $_) => 1 } 1 .. 20 },
    '... its 20 receipts queued, each once';
is $nginx->request(POST => '/ali/recording', body => $refused)->code, 200,
    'the retry 10 minutes later (the 200 was lost)';
is scalar(lease_all($nginx, '/queue-aliyun')), 0, '... nothing queued again';
$c = status()->{events}{aliyun}{SecretRecording};
is_deeply [$c->{hand_off}{'5xx'}, $c->{retries}], [2, 1],
    'status: two refused hand-offs, one identical retry';

# --- forward: the service down, then up -------------------------------------

my $receipts = event_push('SecretStartReport',
    map { event_record('SecretStartReport', 's', $_) } 1 .. 3);
$res = $nginx->request(POST => '/ali/start', body => $receipts);
is $res->code, 502, 'the customer\'s service down: 502';
is_deeply $json->decode($res->content), {code => 502,
    msg => 'hand-off failed'}, '... in Aliyun\'s shape (the platform retries)';
like $nginx->error_log,
    qr/\[error\].*provision_x: SecretStartReport forward answered 502, 3 records not acknowledged/,
    '... logged with the type';

my $hangup = event_push('disconnect', event_record('disconnect', 'fw', 1));
$res = hw('/hw/forward', $hangup);
is $res->code, 502, 'a Huawei hang-up event, the service down: 502';
is_deeply $json->decode($res->content),
    {resultcode => '502', resultdesc => 'hand-off failed'},
    '... in Huawei\'s shape (the platform retries)';
like $nginx->error_log,
    qr/\[error\].*provision_x: disconnect forward answered 502, 1 records not acknowledged/,
    '... logged with the type';
is hw('/hw/forward', $hangup)->code, 502, 'its retry a minute later: 502';

ok $service->start, 'the service comes up' or BAIL_OUT($service->error_log);
$res = hw('/hw/forward', $hangup);
is $res->code, 200, 'the hang-up\'s retry 4 minutes later: 200';
is $res->content, '', '... an event\'s empty acknowledgement';
is hw('/hw/forward', $hangup)->code, 200, '... and its next retry (a lost 200)';
$res = $nginx->request(POST => '/ali/start', body => $receipts);
is $res->code, 200, 'the platform\'s retry: 200';
is $res->content, '{"code":0,"msg":"接收成功"}', '... Aliyun\'s acknowledgement';
is $nginx->request(POST => '/ali/start', body => $receipts)->code, 200,
    'its duplicate (a 700 ms timeout, say)';
my @received = $service->log_lines('received.log', 2);
my @got = map { /"key":"([^"]+)"/ } @received;
is_deeply [sort @got],
    [sort +(event_key('disconnect', 'fw', 1),
            map { event_key('SecretStartReport', 's', $_) } 1 .. 3)],
    '... the service got the hang-up and each receipt exactly once';
is_deeply [map { /"type":"(\w+)"/ } @received],
    ['disconnect', ('SecretStartReport') x 3], '... told apart by type';
$c = status()->{events}{huawei}{disconnect};
is_deeply [$c->{hand_off}{'2xx'}, $c->{hand_off}{'5xx'}, $c->{retries}],
    [1, 2, 1], 'status: the hang-up failed twice, was handed off once, '
    . 'its last retry acknowledged by digest';
$c = status()->{events}{aliyun}{SecretStartReport};
is_deeply [$c->{hand_off}{'2xx'}, $c->{hand_off}{'5xx'}], [1, 1],
    'status: one failed and one good hand-off';

# --- redis: stopped, then started -------------------------------------------

$res = hw('/hw/redis', event_push('callout', event_record('callout', 'r', 1)));
is $res->code, 200, 'a call event to the Redis stream';
my @e = $redis->entries('px:events');
is scalar(@e), 1, '... one entry';
like $e[0][1]{line}, qr/\A\{"dialect":"huawei","type":"callout",/,
    '... its line names the type';
is $e[0][1]{key}, event_key('callout', 'r', 1), '... its key is the event\'s';

$redis->stop;
$hangup = event_push('disconnect', event_record('disconnect', 'r', 1));
$res = hw('/hw/redis', $hangup);
is $res->code, 502, 'Redis stopped: 502';
is hw('/hw/redis', $hangup)->code, 502, '... and for the retry';
$redis->start;
$res = hw('/hw/redis', $hangup);
is $res->code, 200, 'Redis back: the retry is acknowledged';
is $res->content, '', '... as an event';
is hw('/hw/redis', $hangup)->code, 200, 'and once more';
@e = $redis->entries('px:events');
is_deeply [map { $_->[1]{key} } @e], [event_key('disconnect', 'r', 1)],
    '... written exactly once (the restarted Redis kept nothing)';

$nginx->stop;
$service->stop;

done_testing();
