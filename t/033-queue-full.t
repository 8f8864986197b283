# A full queue refuses new pushes with 503 and Retry-After, whole: a push
# that does not fit leaves nothing behind, and nothing already accepted is
# evicted to make room.  Its records are not marked as seen, so the
# platform's retry is accepted once there is room again.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(
    name => 'queue-full',
    http => <<"_EOC_",
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:32k;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_',
        location = /cdr { provision_x_cdr huawei queue=q dedup=dedup; }
        location /queue { provision_x_queue_consume q max=1000; }
_EOC_
);

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my $auth = consumer_auth();
my (%accepted, %refused);

# records of one size, so "room for k records" means the same everywhere
sub push_records {
    my ($tag, $n) = @_;
    my @records = map { fee_record($tag, sprintf '%03d', $_) } 1 .. $n;
    my $res = $nginx->request(POST => '/cdr',
                              body => fee_push(records => \@records));
    my $keys = [map { "huawei/appKeyA/1200_${tag}_" . sprintf('%03d', $_)
                      . '@callenabler.example/0/icid-' . $tag . '-'
                      . sprintf('%03d', $_) } 1 .. $n];
    if ($res->code == 200) {
        $accepted{$_}++ for @$keys;
    } else {
        $refused{$_}++ for @$keys;
    }
    return $res;
}

# ---- fill it ----

my ($res, $pushes);
for my $i (1 .. 200) {
    $res = push_records(sprintf('s%03d', $i), 1);
    last if $res->code != 200;
    $pushes++;
}

is $res->code, 503, "after $pushes records the queue is full: 503";
is $res->header('Retry-After'), 60, '... with Retry-After';
like $res->content, qr/"resultdesc":"queue full, retry later"/,
    '... in the platform\'s error shape';
ok $pushes >= 20, "a 32k zone holds $pushes records of ~500 bytes";

# ---- too many open leases ----

my (@leases, @consumed);
for (1 .. 32) {
    my $r = $nginx->request(GET => '/queue?max=1', headers => $auth);
    next unless $r->code == 200;
    push @leases, $r->header('X-Lease-Id');
    push @consumed, record_keys($r->content);
}
is scalar(@leases), 32, '32 leases of one record each (the zone has 32 '
    . 'lease slots)';

$res = $nginx->request(GET => '/queue?max=1', headers => $auth);
is $res->code, 503, 'the 33rd lease: 503';
is $res->header('Retry-After'), 1, '... with Retry-After';
like $res->content, qr/"code":"too_many_leases"/, '... too_many_leases';

# leased records still hold their room until acknowledged
is push_records('leased', 1)->code, 503, 'leased records are not evicted';

for my $id (@leases[0 .. 2]) {
    my $r = $nginx->request(DELETE => "/queue?lease=$id", headers => $auth);
    is $r->code, 200, 'ack of one of the oldest records';
}

# the oldest three are acknowledged: room for three, not five
$res = push_records('batch', 5);
is $res->code, 503, 'a push of five into room for three is refused';

my $singles = 0;
for my $i (1 .. 10) {
    last if push_records(sprintf('t%03d', $i), 1)->code != 200;
    $singles++;
}
ok $singles >= 1 && $singles < 5,
    "... whole: $singles single records still fit after it";

# ---- nothing accepted is lost, nothing refused got in ----

for my $id (@leases[3 .. $#leases]) {
    my $r = $nginx->request(DELETE => "/queue?lease=$id", headers => $auth);
    is $r->code, 200, 'ack' or last;
}

push @consumed, map { record_keys($_) } lease_all($nginx, '/queue');

my %seen;
$seen{$_}++ for @consumed;
is_deeply [sort keys %seen], [sort keys %accepted],
    'every accepted record was consumed, and only those';
is scalar(grep { $seen{$_} > 1 } keys %seen), 0, 'none twice';

# ---- the refused push, retried ----

$res = push_records('batch', 5);
is $res->code, 200, 'the refused push, retried into an empty queue';
my @retried = map { record_keys($_) } lease_all($nginx, '/queue');
is scalar(@retried), 5, '... is accepted whole: it was not marked as seen';

unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert';

done_testing();
