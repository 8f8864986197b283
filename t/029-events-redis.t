# Events through the redis= sink against a real redis-server, two workers:
#
#   dedup_ttl=   a receiver's window is the TTL of the keys its writes set
#                in Redis too.  Number status has no time of its own
#                (§3.5), so a number that returns to a status it had must
#                be written to the stream again once the window is over:
#                with the Redis location's TTL (24 h) instead, Redis still
#                knew the key and the record was acknowledged but lost;
#   types        every event type of both dialects: each record written
#                to the stream once, its line naming its type; the
#                platform's identical retries, whichever worker takes
#                them, and the same records in another push (an
#                overlapping list, the same event in other bytes) not
#                written again.

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

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $json = JSON::PP->new;

my $redis = PXRedis->new(name => 'events-redis');
$redis->start;
my $rport = $redis->port;

my $huawei_types = join ',', huawei_event_types();
my $aliyun = join '', map { <<"_EOC_" } aliyun_event_types();
        location = /ali/$_ {
            provision_x_receive aliyun types=$_ redis=/_redis dedup=unsigned;
            add_header X-Worker \$pid always;
        }
_EOC_

my $nginx = PXNginx->new(name => 'events-redis', workers => 2,
                         port => $ENV{TEST_NGINX_PORT},
                         http => <<"_EOC_", server => <<"_EOC_" . $aliyun);
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
            add_header X-Worker \$pid always;
        }
        location = /hw/events {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=$huawei_types redis=/_redis
                                dedup=dedup;
            add_header X-Worker \$pid always;
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

# a push of $type to $url, the worker that took it counted and returned
sub push_to {
    my ($url, $type, $body) = @_;
    my $res = post_event($nginx, $url, $type, $body);
    $workers{ $res->header('X-Worker') // '' }++;
    return $res;
}

sub numbers { push_to('/hw/numbers', 'numStatus', @_) }

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
my $res = numbers($body);
is $res->code, 200, 'a number becomes unavailable';
is $res->content, '', '... acknowledged as an event';
is_deeply [new_keys()], [$key], '... written to the stream';
my @ttl = ttls('px:seen-numbers:');
is scalar(@ttl), 1, '... one dedup key in Redis';
ok $ttl[0] > 0 && $ttl[0] <= 2000,
    "... living the receiver's dedup_ttl=2s, not the location's 24 h "
    . "(PTTL $ttl[0])";

is numbers(event_push('numStatus', $paused))->code, 200,
    'then paused';
is scalar(new_keys()), 1, '... written';

for my $try (1 .. 6) {
    is numbers($try % 2 ? $body : $body =~ s/,/, /gr)->code,
        200, "retry $try of the first inside the window: acknowledged";
}
is_deeply [new_keys()], [], '... none written again';

sleep 2.2 - (time - $start) if time - $start < 2.2;
sleep 1;   # past the whole second the local window ends in

$res = numbers($body);
is $res->code, 200, 'after 3 s the number unavailable again, the same bytes';
is_deeply [new_keys()], [$key],
    '... written to the stream again: a status it returned to is not lost';
is numbers($body =~ s/,/, /gr)->code, 200,
    '... and its retry in other bytes';
is numbers($body)->code, 200, '... and the identical one';
is_deeply [new_keys()], [], '... not written: a new window began';

is numbers(event_push('numStatus', event_record('numStatus', 'n', 2)))->code,
    200, 'traffic goes on';
is_deeply [new_keys()], [event_key('numStatus', 'n', 2)],
    '... a new number written';

# --- every type: each record once, whichever worker --------------------------

# Numbers are told apart by their index only: 11 on, which the window
# above did not use.
my $written = 0;

sub handed_off {
    my ($type) = @_;
    my $status = $json->decode($nginx->request(GET => '/status',
        headers => consumer_auth())->content);
    return $status->{events}{ event_dialect($type) }{$type}{hand_off}{'2xx'}
        // 0;
}
for my $type (huawei_event_types(), aliyun_event_types()) {
    my $url = event_dialect($type) eq 'huawei' ? '/hw/events' : "/ali/$type";
    my @records = map { event_record($type, 'e', $_) } 11 .. 14;
    my @keys = map { event_key($type, 'e', $_) } 11 .. 14;
    # a list of three, then one overlapping it; or an event, then another
    my ($first, $then, @first_keys, @then_keys);
    if (takes_list($type)) {
        $first = event_push($type, @records[0 .. 2]);
        $then = event_push($type, @records[1 .. 3]);
        @first_keys = @keys[0 .. 2];
        @then_keys = ($keys[3]);
    } else {
        $first = event_push($type, $records[0]);
        $then = event_push($type, $records[1]);
        @first_keys = ($keys[0]);
        @then_keys = ($keys[1]);
    }

    my $handed_off_before = handed_off($type);
    my $res = push_to($url, $type, $first);
    my $writer = $res->header('X-Worker') // '';
    is_deeply [$res->code, $res->content], [200, ack_of($type)],
        "$type: acknowledged in its shape";
    my @e = $redis->entries('px:events');
    my @new = @e[$seen_entries .. $#e];
    is_deeply [map { $_->[1]{key} } @new], \@first_keys,
        "$type: each record written once, with its key";
    my $app = event_dialect($type) eq 'huawei' ? 'appKeyA'
                                               : (split m{/}, $keys[0])[2];
    is_deeply [map { my $line = $json->decode($_->[1]{line});
                     [@$line{qw(dialect type key)},
                      @{ $_->[1] }{qw(dialect app)}] } @new],
        [map { [event_dialect($type), $type, $_, event_dialect($type), $app] }
             @first_keys],
        "$type: the line names the dialect, the type, the key; the entry "
        . "the dialect and $app";
    $seen_entries = @e;

    # the platform's identical retries, until the other worker took one
    my ($retries, $other, @refused) = (0, 0);
    while ($retries < 40 && ($retries < 2 || !$other)) {
        $res = push_to($url, $type, $first);
        $retries++;
        push @refused, $res->code . ' ' . $res->content
            unless $res->code == 200 && $res->content eq ack_of($type);
        $other++ if ($res->header('X-Worker') // '') ne $writer;
    }
    is_deeply \@refused, [], "$type: $retries identical retries acknowledged";
    ok $other, "$type: ... $other by the worker that did not write it";
    is push_to($url, $type, $first =~ s/,/, /gr)->code, 200,
        "$type: the same records in other bytes";
    is_deeply [new_keys()], [], "$type: none written again";

    is push_to($url, $type, $then)->code, 200, "$type: another push ("
        . (takes_list($type) ? 'an overlapping list' : 'a new event') . ')';
    is push_to($url, $type, $then)->code, 200, '... and its retry';
    is_deeply [new_keys()], \@then_keys, "$type: only its new record written";
    $written += @first_keys + @then_keys;

    is handed_off($type), $handed_off_before + 2,
        "status: $type: two pushes handed off, no retry";
}

@ttl = ttls('provision_x:seen:');
is scalar(@ttl), $written, "the $written records' dedup keys in Redis";
is_deeply [grep { $_ <= 23 * 3600 * 1000 } @ttl], [],
    '... with the location\'s TTL (24 h): no dedup_ttl= there';

cmp_ok scalar(grep { length } keys %workers), '==', 2,
    'both workers took pushes';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
