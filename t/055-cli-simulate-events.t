# provision-x simulate --type replays the platforms' other pushes on the
# vendor's retry schedule: the gateway is down at the first attempts and
# comes up before the retries; every event is then acknowledged, on a
# retry, exactly once in the queue, for a Huawei type of one record per
# push, Huawei number status (lists) and an Aliyun receipt type.  A type
# the dialect does not have is a usage error.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

use PXNginx;
use PXQueue;

my $Root = "$FindBin::Bin/..";
my $px = "$Root/build/provision-x";
plan skip_all => "$px not built (make)" unless -x $px;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $json = JSON::PP->new;

my $out = `$px simulate --dialect aliyun --type numStatus --url http://127.0.0.1:1/ 2>&1`;
is $? >> 8, 2, 'a Huawei type for aliyun: usage error';
like $out, qr/--type numStatus is no aliyun push type/, '... saying so';
$out = `$px simulate --dialect huawei --type disconnect --batch 2 --secret-file $secrets/huawei-a.key --url http://127.0.0.1:1/ 2>&1`;
is $? >> 8, 2, 'two call events in one push: usage error';
like $out, qr/--batch must be an integer from 1 to 1/, '... the type holds one';

my @cases = (
    # type, dialect, records, location
    ['disconnect', 'huawei', 40, '/hw/status'],
    ['numStatus', 'huawei', 300, '/hw/status'],
    ['SecretRecording', 'aliyun', 300, '/ali/recording'],
);

for my $case (@cases) {
    my ($type, $dialect, $records, $location) = @$case;

    my $nginx = PXNginx->new(name => "cli-events-$type", workers => 2,
                             http => <<"_EOC_", server => <<'_EOC_');
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:4m;
    provision_x_queue_zone zone=qa:4m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
        location = /hw/status {
            provision_x_verify huawei app=appKeyA;
            provision_x_nonce nonces;
            provision_x_receive huawei
                types=callin,callout,alerting,answer,disconnect,numStatus
                queue=q dedup=dedup;
        }
        location = /ali/recording {
            provision_x_receive aliyun types=SecretRecording queue=qa;
        }
        location /queue/huawei { provision_x_queue_consume q max=1000; }
        location /queue/aliyun { provision_x_queue_consume qa max=1000; }
_EOC_

    my $url = 'http://127.0.0.1:' . $nginx->port . $location;
    my $log = $nginx->prefix . '/logs/simulate.out';

    # the vendor's schedule at scale 600: the first retries 0.1 s (and,
    # Huawei, 0.4 s, 0.9 s) after the first failure; nginx is started after
    # the first attempts failed
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $log or die $!;
        exec $px, 'simulate', '--dialect', $dialect, '--type', $type,
            '--url', $url, '--app', $dialect eq 'huawei' ? 'appKeyA' : 'FC1',
            ($dialect eq 'huawei'
                 ? ('--secret-file', "$secrets/huawei-a.key") : ()),
            '--records', $records, '--time-scale', 600, '--max-seconds', 30,
            '--seed', 7, '--timeout', 2;
        die "exec: $!";
    }

    sleep 0.05;
    ok $nginx->start, "$type: nginx comes up after the first attempts"
        or BAIL_OUT($nginx->error_log);
    waitpid $pid, 0;
    my $rc = $? >> 8;
    my $out = do { local @ARGV = $log; local $/; <> };

    is $rc, 0, "$type: every record acknowledged in the end" or diag $out;
    like $out, qr/^type: $type$/m, "$type: the summary names the type";
    like $out, qr/^acknowledged: $records$/m, "$type: $records acknowledged";
    like $out, qr/^given up: 0 /m, "$type: none given up";
    my ($pushes) = $out =~ /^pushes: (\d+)/m;
    my ($retries) = $out =~ /^retries: (\d+)$/m;
    cmp_ok $retries, '>=', $pushes, "$type: every push retried at least once"
        or diag $out;
    is $pushes, $records, "$type: one event per push" if $type eq 'disconnect';
    cmp_ok $pushes, '<', $records / 5, "$type: several records per push"
        if $type ne 'disconnect';
    like $out, qr/^failed attempts: \d+ x connect: Connection refused$/m,
        "$type: the first attempts were refused";

    my @lines = map { $json->decode($_) }
        lease_all($nginx, "/queue/$dialect", max => 1000);
    is scalar(@lines), $records, "$type: each record once in the queue";
    is_deeply [grep { $_->{type} ne $type } @lines], [],
        "$type: every line names the type";
    my %keys = map { $_->{key} => 1 } @lines;
    is scalar(keys %keys), $records, "$type: under distinct keys";

    $nginx->stop;
}

done_testing();
