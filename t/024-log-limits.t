# Warnings that a flood repeats are rate-limited per worker: at most 100
# refused callbacks a second are logged by each worker, and the first line
# after the flood says how many were left out, so every refusal is either
# logged or counted in the log (and in the status counters).  Two
# workers; the window is crossed, and refusals are logged again after it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use IO::Socket::INET;
use IO::Select;
use Test::More;
use Time::HiRes qw(sleep);

use PXNginx;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(
    name    => 'log-limits',
    workers => 2,
    http    => <<"_EOC_",
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
_EOC_
    server => <<'_EOC_',
        location = /callback {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            return 200 "ok\n";
        }
_EOC_
);

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

# n unsigned callbacks pipelined on one connection: each is refused 401
sub flood {
    my ($n) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $nginx->port, Timeout => 5)
        or return 0;
    my $req = "GET /callback HTTP/1.1\r\nHost: localhost\r\n\r\n";
    print $sock $req x ($n - 1),
        "GET /callback HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my ($raw, $sel) = ('', IO::Select->new($sock));
    while ($sel->can_read(10)) {
        last unless sysread $sock, my $buf, 65536;
        $raw .= $buf;
    }
    return scalar(() = $raw =~ m{^HTTP/1\.1 401 }mg);
}

sub refusal_lines {
    my @lines = grep { /rejected huawei callback: missing_auth/ }
                split /\n/, $nginx->error_log;
    return @lines;
}

my $sent = 0;
$sent += flood(150) for 1 .. 4;
is $sent, 600, '600 unsigned callbacks, each refused 401';

# after the window, refusals are logged again, and each worker's first one
# reports what it left out; probe until both workers have spoken
sleep 1.1;
my %fresh;
my $start = () = refusal_lines();
for (1 .. 250) {
    last if keys %fresh == 2;
    sleep 0.02;    # far under the limit: no probe is left out
    $sent += flood(1);
    for my $line ((refusal_lines())[$start .. scalar(refusal_lines()) - 1]) {
        $fresh{$1} = 1 if $line =~ /\[\w+\] (\d+)#/;
    }
}
is scalar(keys %fresh), 2, 'both workers log refusals again after a second';

my @lines = refusal_lines();
my $skipped = 0;
$skipped += $_ for $nginx->error_log
    =~ /(\d+) more "rejected callback" warnings were not logged/g;

ok $skipped > 0, "the flood was limited: $skipped lines left out";
is scalar(@lines) + $skipped, $sent,
    'every refusal was logged or counted as left out'
    or diag scalar(@lines) . " logged, $skipped left out, $sent sent";

my %per_second;
for my $line (@lines) {
    my ($time, $pid) = $line =~ /^(\S+ \S+) \[\w+\] (\d+)#/ or next;
    $per_second{"$pid $time"}++;
}
my ($most) = sort { $b <=> $a } values %per_second;
ok $most <= 100, "no worker logged more than 100 a second (at most $most)";

# a worker that exits says how many it left out since its last line:
# flood, then stop at once, within the second
$sent += flood(150);
ok $nginx->stop, 'nginx stops right after another flood';
@lines = refusal_lines();
$skipped = 0;
$skipped += $_ for $nginx->error_log
    =~ /(\d+) more "rejected callback" warnings were not logged/g;
is scalar(@lines) + $skipped, $sent,
    'the exiting workers counted the last ones left out'
    or diag scalar(@lines) . " logged, $skipped left out, $sent sent";

$nginx->expect_in_log(qr/rejected huawei callback/,
                      qr/warnings were not logged/);

done_testing;
