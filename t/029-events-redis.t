# Events through the redis= sink against a real redis-server, two workers:
#
#   dedup_ttl=   a receiver's window is the TTL of the keys its writes set
#                in Redis too.  Number status has no time of its own
#                (§3.5), so a number that returns to a status it had must
#                be written to the stream again once the window is over:
#                with the Redis location's TTL (24 h) instead, Redis still
#                knew the key and the record was acknowledged but lost;
#   types        an Huawei SMS notification and an Aliyun receipt type,
#                each written once, the platform's identical retries (and
#                overlapping lists) not written again.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);

use PXEvents;
use PXNginx;
use PXQueue;
use PXRedis;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $json = JSON::PP->new;

my $redis = PXRedis->new(name => 'events-redis');
$redis->start;
my $rport = $redis->port;

my $nginx = PXNginx->new(name => 'events-redis', workers => 2,
                         http => <<"_EOC_", server => <<'_EOC_');
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_dedup_zone zone=unsigned:1m ttl=1h;
    provision_x_api_key $secrets/api-a.key;
    provision_x_dead_letter logs/dead.ndjson;
    upstream px_redis {
        server 127.0.0.1:$rport;
        keepalive 4;
    }
    provision_x_redis_stream px:events;
_EOC_
        provision_x_nonce nonces;

        # the number-status URL with a short window (§3.5, §3.8)
        location = /hw/numbers {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=numStatus redis=/_redis_numbers
                                dedup=dedup dedup_ttl=2s;
            add_header X-Worker $pid always;
        }
        location = /hw/sms {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=smsEvent redis=/_redis
                                dedup=dedup;
            add_header X-Worker $pid always;
        }
        location = /ali/start {
            provision_x_receive aliyun types=SecretStartReport
                                redis=/_redis dedup=unsigned;
            add_header X-Worker $pid always;
        }
        location = /_redis_numbers {
            internal;
            provision_x_redis_key_prefix px:seen-numbers:;
            provision_x_redis_pass px_redis;
        }
        location = /_redis {
            internal;
            provision_x_redis_pass px_redis;
        }
        location = /status { provision_x_status; }
_EOC_
ok $nginx->start, 'nginx starts with two workers'
    or BAIL_OUT($nginx->error_log);

my %workers;

sub push_to {
    my ($url, $body, $signed) = @_;
    my @h = $signed
        ? map { split /: /, $_, 2 } split /\n/,
              huawei_headers(app => 'appKeyA', secret => 'secretA')
        : ();
    my $res = $nginx->request(POST => $url, body => $body, headers => \@h);
    $workers{ $res->header('X-Worker') // '' }++;
    return $res;
}

# the keys of the stream's entries, in order, and a count of each
my $seen_entries = 0;
sub new_keys {
    my @e = $redis->entries('px:events');
    my @new = map { $_->[1]{key} } @e[$seen_entries .. $#e];
    $seen_entries = @e;
    return @new;
}

sub ttls {
    my ($prefix) = @_;
    my $keys = $redis->cmd('KEYS', "$prefix*");
    return map { $redis->cmd('PTTL', $_) } @$keys;
}

# --- number status: the window is Redis's TTL too ----------------------------

my $unavailable = event_record('numStatus', 'n', 1);
my $paused = event_record('numStatus', 'n', 1, status => '9', cause => undef);
my $body = event_push('numStatus', $unavailable);
my $key = event_key('numStatus', 'n', 1);

my $start = time;
my $res = push_to('/hw/numbers', $body, 1);
is $res->code, 200, 'a number becomes unavailable';
is $res->content, '', '... acknowledged as an event';
is_deeply [new_keys()], [$key], '... written to the stream';
my @ttl = ttls('px:seen-numbers:');
is scalar(@ttl), 1, '... one dedup key in Redis';
ok $ttl[0] > 0 && $ttl[0] <= 2000,
    "... living the receiver's dedup_ttl=2s, not the location's 24 h "
    . "(PTTL $ttl[0])";

is push_to('/hw/numbers', event_push('numStatus', $paused), 1)->code, 200,
    'then paused';
is scalar(new_keys()), 1, '... written';

for my $try (1 .. 6) {
    is push_to('/hw/numbers', $try % 2 ? $body : $body =~ s/,/, /gr, 1)->code,
        200, "retry $try of the first inside the window: acknowledged";
}
is_deeply [new_keys()], [], '... none written again';

sleep 2.2 - (time - $start) if time - $start < 2.2;
sleep 1;   # past the whole second the local window ends in

$res = push_to('/hw/numbers', $body, 1);
is $res->code, 200, 'after 3 s the number unavailable again, the same bytes';
is_deeply [new_keys()], [$key],
    '... written to the stream again: a status it returned to is not lost';
is push_to('/hw/numbers', $body =~ s/,/, /gr, 1)->code, 200,
    '... and its retry in other bytes';
is push_to('/hw/numbers', $body, 1)->code, 200, '... and the identical one';
is_deeply [new_keys()], [], '... not written: a new window began';

is push_to('/hw/numbers', event_push('numStatus',
                                     event_record('numStatus', 'n', 2)), 1)
    ->code, 200, 'traffic goes on';
is_deeply [new_keys()], [event_key('numStatus', 'n', 2)],
    '... a new number written';

# --- smsEvent and SecretStartReport, each once -------------------------------

my $sms = event_push('smsEvent', event_record('smsEvent', 's', 1));
$res = push_to('/hw/sms', $sms, 1);
is $res->code, 200, 'an SMS notification to the stream';
is $res->content, '', '... acknowledged as an event';
my @e = $redis->entries('px:events');
my $line = $json->decode($e[-1][1]{line});
is_deeply [@$line{qw(dialect type key)}],
    ['huawei', 'smsEvent', event_key('smsEvent', 's', 1)],
    '... its line names the type and the key';
is $e[-1][1]{dialect}, 'huawei', '... the entry\'s dialect field';
$seen_entries = @e;
is push_to('/hw/sms', $sms, 1)->code, 200, "the platform's identical retry"
    for 1 .. 4;
is push_to('/hw/sms', $sms =~ s/,/, /gr, 1)->code, 200,
    '... and the same event in other bytes';
is_deeply [new_keys()], [], '... none written twice';

my @receipts = map { event_record('SecretStartReport', 'a', $_) } 1 .. 4;
my $receipts = event_push('SecretStartReport', @receipts[0 .. 2]);
$res = push_to('/ali/start', $receipts);
is $res->code, 200, 'three Aliyun call-start receipts to the stream';
is $res->content, '{"code":0,"msg":"接收成功"}', '... Aliyun\'s acknowledgement';
is_deeply [new_keys()],
    [map { event_key('SecretStartReport', 'a', $_) } 1 .. 3],
    '... each written once, with its key';
@e = $redis->entries('px:events');
$line = $json->decode($e[-1][1]{line});
is_deeply [@$line{qw(dialect type)}, $e[-1][1]{app}],
    ['aliyun', 'SecretStartReport', 'FC100000123'],
    '... the line names the type; the entry the pool_key as app';
is push_to('/ali/start', $receipts)->code, 200,
    "the platform's identical retry"
    for 1 .. 4;
is_deeply [new_keys()], [], '... none written twice';
is push_to('/ali/start',
           event_push('SecretStartReport', @receipts[1 .. 3]))->code, 200,
    'an overlapping list';
is_deeply [new_keys()], [event_key('SecretStartReport', 'a', 4)],
    '... only its new receipt written';

@ttl = ttls('provision_x:seen:');
is scalar(@ttl), 5, 'their dedup keys in Redis';
is_deeply [grep { $_ <= 23 * 3600 * 1000 } @ttl], [],
    '... with the location\'s TTL (24 h): no dedup_ttl= there';

my $c = $json->decode($nginx->request(GET => '/status',
                                      headers => consumer_auth())->content)
    ->{events}{aliyun}{SecretStartReport};
is $c->{hand_off}{'2xx'}, 2, 'status: two pushes handed off';

cmp_ok scalar(grep { length } keys %workers), '==', 2,
    'both workers took pushes';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
