# With snapshot=, a graceful stop (QUIT) or a fast stop (TERM) writes the
# queue to disk and the next start reads it back: no acknowledged record
# is lost across a restart.  Leased records come back visible.  nginx -t
# leaves the file alone; a start sets it aside once the records are in
# the zone, and the next graceful stop deletes it.  A crash (SIGKILL of
# the master) writes nothing: what the queue held is lost, as
# the README states, and the next start says so.

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
    name => 'queue-snapshot',
    workers => 2,
    http => <<"_EOC_",
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:1m snapshot=data/q.snap;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_',
        location = /cdr { provision_x_cdr huawei queue=q dedup=dedup; }
        location /queue { provision_x_queue_consume q max=1000 wait=5s; }
_EOC_
);

my $snap = $nginx->prefix . '/data/q.snap';
my $auth = consumer_auth();
my $tags = 0;

sub push_n {
    my ($n) = @_;
    return push_records($nginx, 's' . ++$tags, $n);
}

sub lease {
    my ($max) = @_;
    return $nginx->request(GET => "/queue?max=$max&wait=0", headers => $auth);
}

sub drained {
    return [sort map { record_keys($_) } lease_all($nginx, '/queue')];
}

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);
ok !-e $snap, 'no snapshot yet';

# ---- graceful stop and start ----

my @sent = push_n(6);
is scalar(@sent), 6, 'six records';

my $res = lease(1);
my ($acked) = record_keys($res->content);
is $nginx->request(DELETE => '/queue?lease=' . $res->header('X-Lease-Id'),
                   headers => $auth)->code, 200, 'one is acknowledged';
is lease(2)->header('X-Lease-Count'), 2, 'two are leased and never acked';

my @kept = sort grep { $_ ne $acked } @sent;

ok $nginx->stop('QUIT'), 'nginx -s quit';
ok -e $snap, 'the snapshot is written';
is((stat $snap)[2] & 07777, 0600, '... readable by its owner only');
is_deeply [sort map { record_keys($_) } read_snapshot($snap)], \@kept,
    '... with the five records not acknowledged, leased ones included';
like $nginx->error_log, qr/queue zone "q": 5 records written to snapshot/,
    '... and says so';
ok !-e "$snap.tmp", 'no temporary file is left';

my ($status, $out) = $nginx->test_config;
is $status, 0, 'nginx -t passes';
ok -e $snap, '... and leaves the snapshot alone';

ok $nginx->start(no_write => 1), 'nginx starts again';
like $nginx->error_log, qr/queue zone "q": 5 records restored from snapshot/,
    'the records are restored';
ok !-e $snap, 'the snapshot is set aside once they are in the zone';
ok -e "$snap.restored", '... as q.snap.restored';
is_deeply drained(), \@kept, 'all five are delivered';

# ---- fast stop ----

@sent = push_n(4);
ok $nginx->stop('TERM'), 'nginx -s stop';
is_deeply [sort map { record_keys($_) } read_snapshot($snap)], [sort @sent],
    'a fast stop writes the snapshot too';
ok !-e "$snap.restored", '... and deletes the one set aside';
ok $nginx->start(no_write => 1), 'start';
is_deeply drained(), [sort @sent], 'and they are back';

# ---- a long poll does not hold up a graceful stop ----

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    my $r = $nginx->request(GET => '/queue?wait=5', headers => $auth);
    POSIX::_exit($r->code == 204 ? 0 : 1);
}
sleep 0.5;
my $t0 = time;
ok $nginx->stop('QUIT'), 'quit during a long poll';
ok time - $t0 < 2, '... does not wait for the poll to time out';
waitpid $pid, 0;
is $? >> 8, 0, '... which is answered 204';
ok !-e $snap, 'an empty queue writes no snapshot';

# ---- a snapshot nginx did not read is merged, never overwritten ----

ok $nginx->start(no_write => 1), 'start';
@sent = push_n(1);
write_snapshot($snap, '{"key":"earlier-1"}', '{"key":"earlier-2"}');
ok $nginx->stop('QUIT'), 'quit with a snapshot already on disk';
is_deeply [sort map { record_keys($_) } read_snapshot($snap)],
    [sort('earlier-1', 'earlier-2', @sent)],
    'the snapshot holds both the earlier records and the queue';
like $nginx->error_log, qr/3 records written to snapshot .* \(with those of an earlier snapshot\)/,
    '... and says so';

ok $nginx->start(no_write => 1), 'start';
is_deeply drained(), [sort('earlier-1', 'earlier-2', @sent)], 'all three';

# ---- a crash ----

@sent = push_n(3);
$nginx->crash;
ok !-e $snap, 'SIGKILL of the master writes no snapshot';
ok $nginx->start(no_write => 1), 'start after the crash';
is lease(10)->code, 204, 'what the queue held at the crash is lost';
like $nginx->error_log, qr/\[warn\] .*nginx did not stop gracefully after restoring ".*q\.snap\.restored": the records of that run are lost/,
    'the start says so, and does not bring back the set-aside records';
ok -e "$snap.restored", '... which stay on disk for the operator';

unlike $nginx->error_log, qr/\[(alert|crit)\]/, 'no alert';

# ---- the master (root) never writes through a link, nor trusts another
#      user's file, nor a directory others may write ----

my $data = $nginx->prefix . '/data';
my $victim = $nginx->prefix . '/victim';
open my $v, '>', $victim or die $!;
print $v "victim\n";
close $v;
chmod 0600, $victim;

unlink "$snap.restored";
@sent = push_n(2);
symlink $victim, "$snap.tmp" or die "symlink: $!";
ok $nginx->stop('QUIT'), 'quit with a link planted at the temporary file';
is do { open my $f, '<', $victim; local $/; <$f> }, "victim\n",
    'the file the link pointed at is untouched';
ok !-l $snap && -f $snap, 'the snapshot is a file of its own';
is_deeply [sort map { record_keys($_) } read_snapshot($snap)], [sort @sent],
    'with the records';
ok !-e "$snap.tmp", 'the link is gone';

rename $snap, "$data/real.snap";
symlink "$data/real.snap", $snap or die "symlink: $!";
ok !$nginx->start(no_write => 1), 'a snapshot that is a link: nginx does not start';
like $nginx->error_log,
    qr/\[emerg\] .*snapshot ".*q\.snap" of queue zone "q" is damaged \(it is a symbolic link\)/,
    'saying why';
unlink $snap;
rename "$data/real.snap", $snap;

SKIP: {
    skip 'chown needs root', 2 if $> != 0;
    chown 65534, 65534, $snap;
    ok !$nginx->start(no_write => 1), 'a snapshot of another user: no start';
    like $nginx->error_log,
        qr/is damaged \(it is not a regular file of the user nginx's master runs as\)/,
        'saying why';
    chown 0, 0, $snap;
}

chmod 0777, $data;
my ($rc, $out) = $nginx->test_config;
isnt $rc, 0, 'a snapshot directory everybody may write: nginx -t fails';
like $out, qr/\[emerg\] snapshot directory ".*data" may be written by other users than the one nginx's master runs as/,
    'saying why';
chmod 0755, $data;

ok $nginx->start(no_write => 1), 'with all of it fixed, nginx starts';
is_deeply drained(), [sort @sent], 'and restores the records';

# ---- at a stop, one nginx cannot read is moved aside, never overwritten

@sent = push_n(2);
my $junk = "PXQSNAP1 but nothing more";
open my $j, '>:raw', $snap or die $!;
print $j $junk;
close $j;
chmod 0600, $snap;
$nginx->expect_in_log(qr/\[alert\] .*unreadable snapshot ".*q\.snap" \(too short\) moved to ".*q\.snap\.damaged"/);
ok $nginx->stop('QUIT'), 'quit with a damaged snapshot on disk';
is do { open my $f, '<:raw', "$snap.damaged"; local $/; <$f> }, $junk,
    'it is kept as q.snap.damaged';
is_deeply [sort map { record_keys($_) } read_snapshot($snap)], [sort @sent],
    'a new snapshot holds the queue';
like $nginx->error_log,
    qr/\[alert\] .*unreadable snapshot ".*q\.snap" \(too short\) moved to ".*q\.snap\.damaged"/,
    'the log says why';
ok $nginx->start(no_write => 1), 'start';
is_deeply drained(), [sort @sent], 'the records are back';

done_testing();
