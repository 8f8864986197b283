# nginx -s reload keeps the queue: with the same size the records and the
# open leases stay where they are; a new size carries the records over
# (leases end, their records are delivered again), or, when they do not
# fit, the reload is refused and the old configuration keeps serving.  A
# reload that fails for any other reason leaves the old zone in service.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use IO::Socket::INET;
use Test::More;

use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

sub http_config {
    my ($size, $extra) = @_;
    return <<"_EOC_" . ($extra // '');
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:$size;
    provision_x_api_key $secrets/api-a.key;
_EOC_
}

my $server = <<'_EOC_';
        location = /cdr { provision_x_cdr huawei queue=q dedup=dedup; }
        location /queue { provision_x_queue_consume q max=1000; }
_EOC_

my $nginx = PXNginx->new(name => 'queue-reload', workers => 2,
                         http => http_config('1m'), server => $server);

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my $auth = consumer_auth();
my $tags = 0;

sub push_n {
    my ($n) = @_;
    return push_records($nginx, 'r' . ++$tags, $n);
}

sub lease {
    my ($max) = @_;
    return $nginx->request(GET => "/queue?max=$max", headers => $auth);
}

sub ack {
    my ($id) = @_;
    return $nginx->request(DELETE => "/queue?lease=$id", headers => $auth);
}

sub drained {
    return [sort map { record_keys($_) } lease_all($nginx, '/queue')];
}

# ---- same size: records and leases survive ----

my @sent = push_n(5);
is scalar(@sent), 5, 'five records';
my $res = lease(2);
is $res->header('X-Lease-Count'), 2, 'two of them leased';
my $open = $res->header('X-Lease-Id');
my @leased = record_keys($res->content);

ok $nginx->reload(server => "$server        location = /new { return 204; }\n"),
    'reload with the same zone size';

$res = lease(10);
is $res->header('X-Lease-Count'), 3, 'the three unleased records are there';
is ack($open)->code, 200, 'the lease taken before the reload is acknowledged';
is ack($res->header('X-Lease-Id'))->code, 200, 'and the new one';
is_deeply [sort(@leased, record_keys($res->content))], [sort @sent],
    'all five, once';
is lease(10)->code, 204, 'empty';

# ---- a larger zone: records carried over ----

@sent = push_n(4);
$res = lease(1);
my $ended = $res->header('X-Lease-Id');

ok $nginx->reload(http => http_config('2m')), 'reload with a larger zone';
like $nginx->error_log,
    qr/queue zone "q" resized to 2097152 bytes; 4 records carried over/,
    'the resize is logged';

is ack($ended)->code, 404, 'a lease of the old zone ended with the resize';
is_deeply drained(), [sort @sent],
    'all four records are in the new zone, the leased one visible again';

# ---- a smaller zone they do not fit: refused, nothing lost ----

@sent = ();
push @sent, push_n(10) for 1 .. 8;
is scalar(@sent), 80, '80 records (about 40 KB)';

ok $nginx->reload_refused(http => http_config('32k')),
    'a reload to a zone too small for them is refused; the old one serves';
like $nginx->error_log, qr/\[emerg\] .*queue zone "q" holds 80 records \(\d+ bytes\) that do not fit its new size; restore its old size, drain it, then resize/,
    '... with an emerg that says what to do';

my @more = push_n(2);
is scalar(@more), 2, 'the old zone still takes records';
is_deeply drained(), [sort(@sent, @more)], 'nothing was lost';

ok $nginx->reload(http => http_config('32k')), 'drained, the resize works';
@sent = push_n(3);
is_deeply drained(), [sort @sent], 'and the small zone works';

# ---- a resize whose reload fails later: the old zone stays in service ----

my $busy = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                 LocalPort => 0, ReuseAddr => 0)
    or die "listen: $!";
my $port = $busy->sockport;

@sent = push_n(3);
ok $nginx->reload_refused(
        http => http_config('1m', "    server { listen 127.0.0.1:$port; }\n")),
    'a resize in a reload that cannot bind its port fails';
ok $nginx->wait_log(qr/queue zone "q" keeps its old size: the new/, 10),
    '... the old zone is put back in service';
close $busy;

push @sent, push_n(2);
is scalar(@sent), 5, 'the old zone still takes records';
is_deeply drained(), [sort @sent], 'and has kept them all';

unlike $nginx->error_log, qr/\[(alert|crit)\]/, 'no alert';

done_testing();
