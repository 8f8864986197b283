# Enqueue, lease, acknowledge: a signed Huawei push of 50 CDRs goes into
# the queue and comes out under leases, each record once; a lease that is
# not acknowledged in time is delivered again; a long poll answers as soon
# as a record arrives.  Several requests per scenario, so this drives its
# own nginx (t/helper/PXNginx.pm) instead of Test::Nginx blocks.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $app = 'V1Z96521zFr3vxe5N2A1UJ1sQ1WP';

my $nginx = PXNginx->new(
    name => 'queue-lease',
    workers => 2,
    http => <<"_EOC_",
    provision_x_app $app secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_',
        location = /cdr-signed {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_cdr huawei queue=q dedup=dedup;
        }

        location = /cdr { provision_x_cdr huawei queue=q dedup=dedup; }

        location /queue { provision_x_queue_consume q max=100; }
        location /short { provision_x_queue_consume q lease=1s; }
        location /poll  { provision_x_queue_consume q wait=5s; }
_EOC_
);

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my $auth = consumer_auth();
my $json = JSON::PP->new;

sub signed {
    my @lines = split /\n/, huawei_headers(app => $app, secret => 'secretA');
    return [map { split /:\s*/, $_, 2 } @lines];
}

sub lease {
    my ($uri) = @_;
    return $nginx->request(GET => $uri, headers => $auth);
}

sub ack {
    my ($uri, $id) = @_;
    return $nginx->request(DELETE => "$uri?lease=$id", headers => $auth);
}

# ---- enqueue -> lease -> ack ----

open my $fh, '<:raw', "$FindBin::Bin/../test/data/huawei_push_50.json"
    or die "push fixture: $!";
my $push = do { local $/; <$fh> };
close $fh;

my %sent = map { ($_->{sessionId} => 1) } @{ $json->decode($push)->{feeLst} };
is scalar(keys %sent), 50, 'the fixture holds 50 distinct calls';

my $res = $nginx->request(POST => '/cdr-signed', headers => signed(),
                          body => $push);
is $res->code, 200, 'a signed push of 50 CDRs is acknowledged';

$res = lease('/queue?max=20');
is $res->code, 200, 'lease of 20';
is $res->header('X-Lease-Count'), 20, 'X-Lease-Count: 20';
my $first = $res->header('X-Lease-Id');
like $first, qr/^[0-9a-f]{32}$/, 'the lease id is 32 hex digits';

my @lines = split /\n/, $res->content, -1;
is pop(@lines), '', 'every line ends in a newline';
is scalar(@lines), 20, '20 NDJSON lines';

my %got;
for my $line (@lines) {
    my $rec = eval { $json->decode($line) };
    ok $rec && $rec->{dialect} eq 'huawei' && $rec->{app} eq $app,
        'a line is a JSON record of the pushing app'
        or diag $line;
    $got{ $rec->{record}{sessionId} }++ if $rec;
}

$res = ack('/queue', $first);
is $res->code, 200, 'ack';
is $res->content, '{"status_code":200,"message":"ok","data":{"lease":"'
    . $first . '","acknowledged":20},"error":null}' . "\n",
    'the ack envelope counts 20';

$res = ack('/queue', $first);
is $res->code, 200, 'a repeated ack (the first answer was lost) is fine';
like $res->content, qr/"acknowledged":20/, '... with the same count';

$res = lease('/queue');
is $res->header('X-Lease-Count'), 30, 'the next lease has the other 30';
for my $line (split /\n/, $res->content) {
    $got{ $json->decode($line)->{record}{sessionId} }++;
}
is ack('/queue', $res->header('X-Lease-Id'))->code, 200, 'ack of the 30';

is lease('/queue')->code, 204, 'the queue is empty';
is_deeply \%got, { map { ($_ => 1) } keys %sent },
    'every record of the push came out exactly once';

$res = $nginx->request(POST => '/cdr-signed', headers => signed(),
                       body => $push);
is $res->code, 200, 'the platform retries the same push';
is lease('/queue')->code, 204, '... and deduplication keeps it out';

# ---- a lease that runs out ----

is $nginx->request(POST => '/cdr', body => fee_push(tag => 'expiry', n => 2))
    ->code, 200, 'two more records';

$res = lease('/short');
is $res->header('X-Lease-Count'), 2, 'leased for 1s';
my $expired = $res->header('X-Lease-Id');
my @keys = sort(record_keys($res->content));

sleep 1.3;

$res = ack('/short', $expired);
is $res->code, 409, 'an ack after the lease ran out: 409';
is $res->content, '{"status_code":409,"message":"conflict","data":null,'
    . '"error":{"code":"lease_expired","message":"the lease expired before '
    . 'this acknowledgement; its records are delivered again"}}' . "\n",
    '... in the envelope';

$res = lease('/queue');
is $res->header('X-Lease-Count'), 2, 'the records are visible again';
is $res->header('X-Lease-Redelivered'), 2, '... counted as redelivered';
is_deeply [sort(record_keys($res->content))], \@keys, '... the same ones';
is ack('/queue', $res->header('X-Lease-Id'))->code, 200, 'now acknowledged';
is lease('/queue')->code, 204, 'and gone';

# ---- long poll ----

my $t0 = time;
$res = lease('/poll?wait=1');
my $took = time - $t0;
is $res->code, 204, 'a long poll on an empty queue ends with 204';
ok $took >= 0.9 && $took < 3, "... after the wait asked for ($took s)";

$t0 = time;
is lease('/poll?wait=0')->code, 204, 'wait=0 does not wait';
ok time - $t0 < 0.5, '... at all';

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    sleep 0.5;
    $nginx->request(POST => '/cdr', body => fee_push(tag => 'poll', n => 1));
    POSIX::_exit(0);    # no destructors: the parent owns nginx
}

$t0 = time;
$res = lease('/poll');
$took = time - $t0;
waitpid $pid, 0;
is $res->code, 200, 'a record pushed during a long poll is delivered';
ok $took >= 0.4 && $took < 2, "... as soon as it arrives ($took s)";
is ack('/poll', $res->header('X-Lease-Id'))->code, 200, 'and acknowledged';

# a client that hangs up during a long poll takes nothing with it
{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $nginx->port)
        or die "connect: $!";
    print $sock "GET /poll HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer consumer-key-one-7f3a9c\r\n\r\n";
    sleep 0.3;
    close $sock;
}

is $nginx->request(POST => '/cdr', body => fee_push(tag => 'gone', n => 1))
    ->code, 200, 'a record after the client left';
$res = lease('/queue');
is $res->header('X-Lease-Count'), 1, '... is still there for the next one';
is ack('/queue', $res->header('X-Lease-Id'))->code, 200, '... acknowledged';

my $log = $nginx->error_log;
unlike $log, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log';

done_testing();
