# Workers killed with SIGKILL while producers push and consumers lease:
# nginx force-unlocks the zone of a dead worker, the next process to lock
# it completes or discards the dead one's update, and the others go on.
# Every record acknowledged to its producer is consumed at least once (a
# lease whose answer or ack died with its worker is delivered again).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(
    name => 'queue-sigkill',
    workers => 2,
    http => <<"_EOC_",
    provision_x_dedup_zone zone=dedup:4m ttl=1h;
    provision_x_queue_zone zone=q:256k;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_',
        location = /cdr { provision_x_cdr huawei queue=q dedup=dedup; }
        location /queue { provision_x_queue_consume q max=20 lease=2s wait=1s; }
_EOC_
);

# what this test does on purpose; a crash (any other signal) still fails
$nginx->expect_in_log(qr/worker process \d+ exited on signal 9$/,
                      qr/shared memory zone "\w+" was locked by \d+$/,
                      qr/queue zone "q": process \d+ died while updating it; completing its update/);

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my $dir = $nginx->prefix . '/data';
my ($producers, $per_push) = (3, 4);

my (@consumers, @producing);
for my $c (1 .. 2) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        consume(nginx => $nginx, file => "$dir/consumed-$c",
                done => "$dir/done", empty => 4);
        POSIX::_exit(0);
    }
    push @consumers, $pid;
}
for my $p (1 .. $producers) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        produce(nginx => $nginx, file => "$dir/produced-$p", tag => "k$p",
                stop => "$dir/stop", per_push => $per_push, tries => 500,
                pause => 0.02);
        POSIX::_exit(0);
    }
    push @producing, $pid;
}

# kill a worker every 20-70 ms for four seconds
my $kills = 0;
my $until = time + 4;
while (time < $until) {
    my @workers = $nginx->worker_pids;
    if (@workers) {
        $kills += kill 'KILL', $workers[rand @workers];
    }
    sleep 0.02 + rand 0.05;
}

open my $stop, '>', "$dir/stop" or die $!;
close $stop;

for my $pid (@producing) {
    waitpid $pid, 0;
    is $? >> 8, 0, 'a producer finished';
}
ok $kills >= 30, "$kills workers were killed";

open my $done, '>', "$dir/done" or die $!;
close $done;

for my $pid (@consumers) {
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
my %consumed = map { ($_ => 1) } lines(glob "$dir/consumed-*");

ok scalar(@produced) >= 100,
    scalar(@produced) . ' records were acknowledged to the producers';
my @lost = grep { !$consumed{$_} } @produced;
is scalar(@lost), 0, 'no acknowledged record was lost'
    or diag "lost: @lost[0 .. ($#lost > 9 ? 9 : $#lost)]";

# the zone is consistent and unlocked: a last round trip works
is $nginx->request(POST => '/cdr', body => fee_push(tag => 'last', n => 2))
    ->code, 200, 'a push after the storm';
is_deeply [sort map { record_keys($_) } lease_all($nginx, '/queue')],
    [sort map { "huawei/appKeyA/1200_last_$_\@callenabler.example/0/"
                . "icid-last-$_" } 1 .. 2],
    'is leased and acknowledged, and the queue is empty after it';

my $log = $nginx->error_log;
my $repairs = () = $log =~ /died while updating it/g;
note "$repairs updates of dead workers were completed";
unlike $log, qr/\[crit\]/, 'no damaged record was ever found';

done_testing();
