# provision-x simulate retries on the vendor's schedule: the gateway is
# down at the first attempt and comes up before the retries; every record
# is then acknowledged, on a retry, exactly once in the queue.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;
use Time::HiRes qw(sleep);

use PXNginx;
use PXQueue;

my $Root = "$FindBin::Bin/..";
my $px = "$Root/build/provision-x";
plan skip_all => "$px not built (make)" unless -x $px;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'cli-retry', http => <<"_EOC_",
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:4m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_');
        location = /fee {
            provision_x_verify huawei app=appKeyA;
            provision_x_nonce nonces;
            provision_x_cdr huawei queue=q dedup=dedup;
        }
        location /queue { provision_x_queue_consume q max=1000; }
_EOC_

my $url = 'http://127.0.0.1:' . $nginx->port . '/fee';
my $log = $nginx->prefix . '/logs/simulate.out';

# Huawei schedule at scale 600: retries 0.1, 0.4, 0.9, 10.6 ... s after
# the first failure.  nginx is started after the first attempts failed.
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDOUT, '>', $log or die $!;
    exec $px, 'simulate', '--dialect', 'huawei', '--url', $url,
        '--app', 'appKeyA', '--secret-file', "$secrets/huawei-a.key",
        '--records', 200, '--time-scale', 600, '--max-seconds', 30,
        '--seed', 11, '--timeout', 2;
    die "exec: $!";
}

sleep 0.05;
ok $nginx->start, 'nginx comes up after the first attempts'
    or BAIL_OUT($nginx->error_log);
waitpid $pid, 0;
my $rc = $? >> 8;
my $out = do { local @ARGV = $log; local $/; <> };

is $rc, 0, 'every record acknowledged in the end' or diag $out;
like $out, qr/^acknowledged: 200$/m, '200 acknowledged';
like $out, qr/^given up: 0 /m, 'none given up';
my ($pushes) = $out =~ /^pushes: (\d+)/m;
my ($retries) = $out =~ /^retries: (\d+)$/m;
cmp_ok $retries, '>=', $pushes, 'every push was retried at least once'
    or diag $out;
like $out, qr/^failed attempts: \d+ x connect: Connection refused$/m,
    'the first attempts were refused';

my @lines = lease_all($nginx, '/queue', max => 1000);
is scalar(@lines), 200, 'each record once in the queue';

done_testing();
