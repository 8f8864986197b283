# Event dedup is shared by both workers: every type's records, pushed
# again and again (overlapping lists, the same events in other bytes)
# over new connections, whichever worker takes them, reach the queue
# exactly once.  And the dedup window of a location (dedup_ttl=) is
# crossed with short values: number status has no time of its own (§3.5),
# so a number that returns to a status it had is taken for a retry only
# inside the window; after it, the same entry (and the byte-identical
# push) is delivered again, while a location with the zone's TTL still
# drops it, and traffic goes on.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;
use Time::HiRes qw(sleep time);

use PXEvents;
use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $aliyun_locations = join '', map { <<"_EOC_" } aliyun_event_types();
        location = /ali/$_ {
            provision_x_receive aliyun types=$_ queue=qa dedup=unsigned;
            add_header X-Worker \$pid always;
        }
_EOC_

my $nginx = PXNginx->new(name => 'events-workers', workers => 2,
                         http => <<"_EOC_", server => <<'_EOC_' . $aliyun_locations);
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_dedup_zone zone=unsigned:1m ttl=1h;
    provision_x_queue_zone zone=q:4m;
    provision_x_queue_zone zone=qa:4m;
    provision_x_api_key $secrets/api-a.key;
    provision_x_dead_letter logs/dead.ndjson;
_EOC_
        provision_x_nonce nonces;

        location = /hw/status {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei
                types=callin,callout,alerting,answer,disconnect,numStatus
                queue=q dedup=dedup;
            add_header X-Worker $pid always;
        }
        location = /hw/sms {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=smsEvent queue=q dedup=dedup;
            add_header X-Worker $pid always;
        }
        # a dedicated number-status URL with a short window (§3.1, §3.8)
        location = /hw/numbers {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=numStatus queue=q dedup=dedup
                                dedup_ttl=2s;
            add_header X-Worker $pid always;
        }
        location /queue { provision_x_queue_consume q max=1000; }
        location /queue-aliyun { provision_x_queue_consume qa max=1000; }
_EOC_
ok $nginx->start, 'nginx starts with two workers'
    or BAIL_OUT($nginx->error_log);

my %huawei = map { $_ => 1 } huawei_event_types();

sub push_to {
    my ($url, $body, $signed) = @_;
    my @h = $signed
        ? map { split /: /, $_, 2 } split /\n/,
              huawei_headers(app => 'appKeyA', secret => 'secretA')
        : ();
    return $nginx->request(POST => $url, body => $body, headers => \@h);
}

sub url { $huawei{ $_[0] } ? ($_[0] eq 'smsEvent' ? '/hw/sms' : '/hw/status')
                           : "/ali/$_[0]" }

# --- every type, both workers ------------------------------------------------

for my $type (huawei_event_types(), aliyun_event_types()) {
    my $list = $type eq 'numStatus' || !$huawei{$type};
    my @records = map { event_record($type, 'w', $_) } 1 .. 6;
    # lists: overlapping pushes; single events: each one, in two spellings
    my @pushes = $list
        ? (map { event_push($type, @records[@$_]) }
               [0 .. 2], [1 .. 3], [2 .. 5], [0 .. 5])
        : (map { my $b = event_push($type, $_); ($b, $b =~ s/,/, /gr) }
               @records);
    my (%workers, @codes);
    for my $round (1 .. 15) {
        for my $body (@pushes) {
            my $res = push_to(url($type), $body, $huawei{$type});
            push @codes, $res->code;
            $workers{ $res->header('X-Worker') // '' }++;
        }
        last if $round >= 2 && keys %workers == 2;
    }
    is_deeply [grep { $_ != 200 } @codes], [], "$type: every push acknowledged";
    cmp_ok scalar(keys %workers), '==', 2, "$type: both workers took pushes";

    my %keys;
    $keys{$_}++ for record_keys(join "\n", lease_all($nginx,
        $huawei{$type} ? '/queue' : '/queue-aliyun'));
    is_deeply \%keys, { map { event_key($type, 'w', $_) => 1 } 1 .. 6 },
        "$type: each of its six records queued exactly once";
}

# --- the dedup window crossed --------------------------------------------

# numbers the loop above did not use
my $unavailable = event_record('numStatus', 'n', 101);
my $paused = event_record('numStatus', 'n', 101, status => '9', cause => undef);
my $body = event_push('numStatus', $unavailable);

sub queued { scalar lease_all($nginx, '/queue') }

is push_to('/hw/numbers', $body, 1)->code, 200, 'a number becomes unavailable';
is queued(), 1, '... delivered';
is push_to('/hw/numbers', event_push('numStatus', $paused), 1)->code, 200,
    'then paused';
is queued(), 1, '... delivered';

my $start = time;
for my $try (1 .. 6) {
    push_to('/hw/numbers', $try % 2 ? $body : $body =~ s/,/, /gr, 1);
}
is queued(), 0, 'the platform\'s retries of the first, inside the 2 s '
    . 'window, on both workers: dropped';
is push_to('/hw/status', event_push('numStatus',
                                    event_record('numStatus', 'n', 102)), 1)->code,
    200, 'the same kind of entry at the status URL (the zone\'s 1 h)';
is queued(), 1, '... delivered';

sleep 2.2 - (time - $start) if time - $start < 2.2;
sleep 1;   # past the whole second the window ends in

is push_to('/hw/numbers', $body, 1)->code, 200,
    'after the window: the number unavailable again, the same bytes';
is queued(), 1, '... delivered: a status it returned to is not lost';
is push_to('/hw/numbers', $body =~ s/,/, /gr, 1)->code, 200,
    '... and its retry in other bytes';
is queued(), 0, '... dropped again: a new window began';
is push_to('/hw/status', event_push('numStatus',
                                    event_record('numStatus', 'n', 102)), 1)->code,
    200, 'at the status URL, the same entry after as long';
is queued(), 0, '... still a duplicate: its window is the zone\'s';

is push_to('/hw/numbers', event_push('numStatus',
                                     event_record('numStatus', 'n', 103)), 1)->code,
    200, 'traffic goes on';
is queued(), 1, '... a new number delivered';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
