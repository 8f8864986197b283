# Two gateway nodes, one Redis: the same pushes arriving at both nodes at
# the same moment (as a load balancer spreads the platform's retries) are
# written to the stream once.  Each node keeps its own local dedup zone in
# front; only Redis sees both.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);

use PXNginx;
use PXRedis;
use PXSign;

my $redis = PXRedis->new(name => 'two-nodes');
$redis->start;
my $rport = $redis->port;

my $http = <<"_EOC_";
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    log_format records '\$provision_x_cdr_records';
    upstream px_redis {
        server 127.0.0.1:$rport;
        keepalive 2;
    }
_EOC_

my $server = <<'_EOC_';
        location = /cdr {
            provision_x_cdr huawei redis=/_redis dedup=dedup;
            access_log logs/records.log records;
        }
        location = /_redis {
            internal;
            provision_x_redis_stream cdr;
            provision_x_redis_pass px_redis;
        }
_EOC_

my @nodes = map {
    PXNginx->new(name => "redis-node-$_", workers => 2, http => $http,
                 server => $server)
} 1 .. 2;
for my $n (@nodes) {
    ok $n->start, 'a node starts' or BAIL_OUT($n->error_log);
}

# Sends one push to every node before reading any answer.
sub push_everywhere {
    my ($body) = @_;
    my %sock;
    for my $i (0 .. $#nodes) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $nodes[$i]->port)
            or die "connect: $!";
        $sock{$i} = $s;
    }
    for my $s (values %sock) {
        print $s "POST /cdr HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\nContent-Length: " . length($body)
            . "\r\n\r\n$body";
    }
    my @codes;
    for my $i (sort keys %sock) {
        my $s = $sock{$i};
        my $raw = '';
        my $sel = IO::Select->new($s);
        my $until = time + 10;
        while (time < $until && $sel->can_read(1)) {
            my $n = sysread($s, my $buf, 65536);
            last unless $n;
            $raw .= $buf;
        }
        push @codes, $raw =~ m{\AHTTP/1\.1 (\d+)} ? $1 : 0;
    }
    return @codes;
}

my @records = map { fee_record('two', $_) } 1 .. 30;
my @codes;

# overlapping pushes, each to both nodes at once
for my $set ([0 .. 9], [5 .. 19], [15 .. 29], [0 .. 29], [10 .. 14]) {
    push @codes, push_everywhere(fee_push(records => [@records[@$set]]));
}

is_deeply [grep { $_ != 200 } @codes], [], 'every push acknowledged on '
    . 'both nodes (' . scalar(@codes) . ' answers)';

my @entries = $redis->entries('cdr');
my %seen;
$seen{ $_->[1]{key} }++ for @entries;
is scalar(keys %seen), 30, 'all 30 records are in the stream';
is scalar(@entries), 30, 'each of them once';
is_deeply [grep { $seen{$_} != 1 } sort keys %seen], [], 'no key twice';

my $written = 0;
for my $n (@nodes) {
    open my $in, '<', $n->prefix . '/logs/records.log' or die $!;
    $written += $_ for <$in>;
}
is $written, 30, '$provision_x_cdr_records of both nodes adds up to 30';

for my $n (@nodes) {
    $n->stop;
    unlike $n->error_log, qr/\[(alert|crit|emerg|error)\]/,
        'no errors on ' . $n->prefix;
}

done_testing();
