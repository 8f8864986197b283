# Two workers, four producers pushing at once and two consumers draining
# at the same time: every record that was acknowledged to its producer is
# consumed, and none twice once acknowledged.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use POSIX ();
use Test::More;

use PXNginx;
use PXQueue;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(
    name => 'queue-concurrent',
    workers => 2,
    http => <<"_EOC_",
    provision_x_dedup_zone zone=dedup:4m ttl=1h;
    provision_x_queue_zone zone=q:256k;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_',
        location = /cdr { provision_x_cdr huawei queue=q dedup=dedup; }
        location /queue { provision_x_queue_consume q max=20 wait=1s; }
_EOC_
);

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my $dir = $nginx->prefix . '/data';
my ($producers, $pushes, $per_push) = (4, 40, 5);

my @pids;
for my $c (1 .. 2) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        consume(nginx => $nginx, file => "$dir/consumed-$c",
                done => "$dir/done", empty => 2, strict => 1);
        POSIX::_exit(0);
    }
    push @pids, $pid;
}

my @producing;
for my $p (1 .. $producers) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        produce(nginx => $nginx, file => "$dir/produced-$p", tag => "p$p",
                pushes => $pushes, per_push => $per_push);
        POSIX::_exit(0);
    }
    push @producing, $pid;
}

for my $pid (@producing) {
    waitpid $pid, 0;
    is $? >> 8, 0, 'a producer finished';
}

open my $done, '>', "$dir/done" or die $!;
close $done;

for my $pid (@pids) {
    waitpid $pid, 0;
    is $? >> 8, 0, 'a consumer finished';
}

sub lines {
    my @lines;
    for my $file (@_) {
        open my $fh, '<', $file or die "$file: $!";
        chomp(my @l = <$fh>);
        push @lines, @l;
    }
    return @lines;
}

my @produced = lines(glob "$dir/produced-*");
my @consumed = lines(glob "$dir/consumed-*");

is scalar(@produced), $producers * $pushes * $per_push,
    'every push was acknowledged to its producer';

my %count;
$count{$_}++ for @consumed;
is_deeply [sort keys %count], [sort @produced],
    'every acknowledged record was consumed';
is scalar(grep { $count{$_} > 1 } keys %count), 0, 'none twice';
note 'the consumers took ' . scalar(lines("$dir/consumed-1")) . ' and '
    . scalar(lines("$dir/consumed-2")) . ' records';

unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert';

done_testing();
