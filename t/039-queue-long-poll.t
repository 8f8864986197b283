# A long poll holds the same memory for its whole wait: twenty consumers
# waiting on an empty queue with max=10000 for 3 s (30 attempts each) cost
# the worker next to nothing.  (Each attempt used to take max * 8 bytes
# from the request pool: ~48 MB for this test.)  Then a record arrives and
# a waiting consumer gets it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);

use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'long-poll', workers => 1);
ok $nginx->start(http => <<"_EOC_", server => <<'_EOC_'), 'nginx starts'
    provision_x_queue_zone zone=q:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
        location = /cdr { provision_x_cdr huawei queue=q; }
        location /queue { provision_x_queue_consume q max=10000 wait=10s; }
_EOC_
    or BAIL_OUT($nginx->error_log);

my ($worker) = $nginx->worker_pids;

sub data_kb {
    open my $fh, '<', "/proc/$worker/status" or return 0;
    local $/;
    my $status = <$fh>;
    return $status =~ /^VmData:\s+(\d+) kB/m ? $1 : 0;
}

sub poll {
    my ($wait) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $nginx->port) or die $!;
    print $s "GET /queue?max=10000&wait=$wait HTTP/1.1\r\nHost: x\r\n"
        . "Authorization: Bearer consumer-key-one-7f3a9c\r\n"
        . "Connection: close\r\n\r\n";
    return $s;
}

sub answers {
    my ($until, @socks) = @_;
    my %out;
    my $sel = IO::Select->new(@socks);
    while ($sel->count && time < $until) {
        for my $s ($sel->can_read(0.2)) {
            my $n = sysread $s, my $buf, 65536;
            $out{$s} .= $buf if $n;
            $sel->remove($s) unless $n;
        }
    }
    return map { $out{$_} // '' } @socks;
}

# warm up: one lease attempt of the same size
answers(time + 5, poll(0));
my $before = data_kb();
ok $before > 0, "the worker's data segment: $before kB";

my @socks = map { poll(3) } 1 .. 20;
sleep 2.7;    # near the end of their waits
my $grown = data_kb() - $before;
my @got = answers(time + 10, @socks);
is scalar(grep { m{^HTTP/1.1 204} } @got), 20,
    'twenty consumers waited 3 s and got 204';

cmp_ok $grown, '<', 4096, "their waits grew the worker's data by $grown kB (< 4 MB)";

# a record arriving during a wait goes to a waiting consumer
my $waiting = poll(5);
sleep 0.3;
is $nginx->request(POST => '/cdr', body => fee_push(tag => 'lp', n => 1))
    ->code, 200, 'a record is pushed';
my ($answer) = answers(time + 6, $waiting);
like $answer, qr{^HTTP/1.1 200}, 'the waiting consumer gets it';
like $answer, qr/icid-lp-1/, 'that record';

$nginx->stop;
unlike $nginx->error_log, qr/exited on signal|\[(alert|crit)\]/, 'no alert';

done_testing();
