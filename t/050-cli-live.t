# provision-x against a real nginx with the module: `sign ... | sh`
# verifies (both dialects), a `check` of what sign printed agrees with the
# gateway, and `simulate` delivers every record of both dialects through
# provision_x_cdr into the queue, or gives up on a down sink.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use IPC::Run3 qw(run3);
use Test::More;

use PXNginx;
use PXQueue;

my $Root = "$FindBin::Bin/..";
my $px = "$Root/build/provision-x";
plan skip_all => "$px not built (make)" unless -x $px;
plan skip_all => 'curl not installed'
    unless grep { -x "$_/curl" } split /:/, $ENV{PATH};

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

# Pipes what `sign` printed into sh, as an operator would; returns the
# output of the curl it ran (and, in list context, sh's exit code).
sub pipe_sh {
    my ($cmd) = @_;
    my ($out, $err) = ('', '');
    run3(['sh'], \$cmd, \$out, \$err);
    return wantarray ? ($out . $err, $? >> 8) : $out . $err;
}

sub run {
    my ($out, $err) = ('', '');
    run3([$px, @_], \undef, \$out, \$err);
    return ($? >> 8, $out, $err);
}

my $nginx = PXNginx->new(name => 'cli', workers => 2, http => <<"_EOC_",
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app ali secret=$secrets/aliyun.key;
    provision_x_app demo-huawei secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:4m ttl=1h;
    provision_x_queue_zone zone=q:8m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_');
        provision_x_nonce nonces;

        location = /hw {
            provision_x_verify huawei app=appKeyA;
            return 200 "verified $provision_x_app\n";
        }
        location = /ali {
            provision_x_verify aliyun app=ali;
            return 200 "verified $provision_x_app\n";
        }
        location = /fee {
            provision_x_verify huawei app=appKeyA;
            provision_x_cdr huawei queue=q dedup=dedup;
        }
        location = /report {
            provision_x_cdr aliyun queue=q dedup=dedup;
        }
        location = /fee-down {
            provision_x_verify huawei app=appKeyA;
            provision_x_cdr huawei forward=/_down dedup=dedup;
        }
        location = /_down {
            internal;
            proxy_pass http://127.0.0.1:1/backend;
        }
        location = /px/huawei/fee {
            provision_x_verify huawei app=demo-huawei;
            provision_x_cdr huawei queue=q dedup=dedup;
        }
        location /queue { provision_x_queue_consume q max=1000; }
_EOC_

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);
my $base = 'http://127.0.0.1:' . $nginx->port;

# ---- sign | sh ----

my ($rc, $out) = run('sign', '--dialect', 'huawei', '--app', 'appKeyA',
                     '--secret-file', "$secrets/huawei-a.key",
                     '--url', "$base/hw", '--body', '{"eventType":"callin"}');
is $rc, 0, 'huawei sign';
my ($got, $sh) = pipe_sh($out);
like $got, qr{^HTTP/1\.1 200}m, 'huawei: sign | sh is accepted';
like $got, qr/verified appKeyA/, '... as appKeyA';
is $sh, 0, '... and the pipeline succeeds';

# The same command twice: the nonce is replayed.
($got, $sh) = pipe_sh($out);
like $got, qr{^HTTP/1\.1 403}m, 'running it again is a replay (403)';
is $sh, 22, '... and the pipeline fails (curl --fail-with-body)';
like $got, qr/replayed_nonce|nonce/i, '... showing the refusal';

for my $carrier (qw(query form)) {
    ($rc, $out) = run('sign', '--dialect', 'aliyun',
                      '--secret-file', "$secrets/aliyun.key",
                      '--url', "$base/ali", '--carrier', $carrier,
                      '--param', 'callNo=13800000001',
                      '--param', 'extension=a b*~',
                      '--param', 'callId=4361263371abcd01');
    is $rc, 0, "aliyun $carrier sign";
    $got = pipe_sh($out);
    like $got, qr{^HTTP/1\.1 200}m, "aliyun $carrier: sign | sh is accepted"
        or diag $got;
}

($rc, $out) = run('sign', '--dialect', 'huawei', '--app', 'appKeyA',
                  '--secret-file', "$secrets/other.key",
                  '--url', "$base/hw", '--body', '{}');
($got, $sh) = pipe_sh($out);
like $got, qr{^HTTP/1\.1 403}m, 'signed with another secret: refused';
isnt $sh, 0, '... and the pipeline fails';

# ---- the README demo: one signed CDR, read back from the queue ----

my ($doc) = do { local @ARGV = "$Root/README.md"; local $/; <> }
    =~ /^### With the demo gateway.*?```sh\n(build\/provision-x sign .*?\| sh)\n/ms;
ok $doc, 'the demo line is in the README';
$doc =~ s{build/provision-x}{$px};
$doc =~ s{build/run/conf/demo-huawei\.key}{$secrets/huawei-a.key};
$doc =~ s{http://127\.0\.0\.1:8080}{$base};
$got = pipe_sh($doc);
like $got, qr{^HTTP/1\.1 200}m, 'the documented sign | sh line is accepted'
    or diag $got;
$got = pipe_sh($doc);
like $got, qr{^HTTP/1\.1 200}m, '... twice (a fresh sample each time)';
my @demo = lease_all($nginx, '/queue');
is scalar(@demo), 2, 'two records in the queue';
like $demo[0] // '',
    qr/"app":"demo-huawei","key":"huawei\/demo-huawei\/1200_[0-9a-f]{12}_1\@callenabler.sim\/[01]\/sim-[0-9a-f]{12}-1"/,
    'with the documented key shape';

# ---- simulate: huawei into the queue ----

($rc, $out) = run('simulate', '--dialect', 'huawei', '--url', "$base/fee",
                  '--app', 'appKeyA', '--secret-file',
                  "$secrets/huawei-a.key", '--records', 500,
                  '--time-scale', 600, '--max-seconds', 60, '--seed', 42);
is $rc, 0, 'huawei simulate: every record acknowledged' or diag $out;
like $out, qr/^records: 500$/m, '500 records';
like $out, qr/^acknowledged: 500$/m, '500 acknowledged';
like $out, qr/^given up: 0 /m, 'none given up';
like $out, qr/^pushes: (\d+)/m, 'pushes reported';
my ($pushes) = $out =~ /^pushes: (\d+)/m;
cmp_ok $pushes, '>=', 10, 'at most 50 per push';
like $out, qr/^latency: p50 [\d.]+ ms, p99 [\d.]+ ms/m, 'latencies';

my @lines = lease_all($nginx, '/queue', max => 1000);
is scalar(@lines), 500, '500 records in the queue';
my %seen = map { $_ => 1 } record_keys(join "\n", @lines);
is scalar(keys %seen), 500, 'all distinct';
like $lines[0], qr/"dialect":"huawei","type":"cdr","app":"appKeyA"/, 'huawei records';

# ---- simulate: aliyun into the queue ----

($rc, $out) = run('simulate', '--dialect', 'aliyun', '--url', "$base/report",
                  '--app', 'FC100000123', '--records', 120, '--seed', 7);
is $rc, 0, 'aliyun simulate: every record acknowledged' or diag $out;
like $out, qr/^acknowledged: 120$/m, '120 acknowledged';
@lines = lease_all($nginx, '/queue', max => 1000);
is scalar(@lines), 120, '120 records in the queue';
like $lines[0], qr/"key":"aliyun\/pool_key\/FC100000123\/sim-7-/,
    'keyed by pool_key and call_id';

# ---- simulate: a sink that is down, a tiny schedule ----

($rc, $out) = run('simulate', '--dialect', 'huawei', '--url',
                  "$base/fee-down", '--app', 'appKeyA', '--secret-file',
                  "$secrets/huawei-a.key", '--records', 60, '--batch', 30,
                  '--schedule', '1,2', '--time-scale', 600,
                  '--max-seconds', 20, '--seed', 3);
is $rc, 1, 'a down sink: exit 1' or diag $out;
like $out, qr/^acknowledged: 0$/m, 'nothing acknowledged';
($pushes) = $out =~ /^pushes: (\d+)/m;
cmp_ok $pushes, '>=', 2, 'at least two pushes of up to 30';
like $out, qr/^retries: @{[2 * $pushes]}$/m, 'two retries per push';
like $out, qr/^given up: 60 \($pushes pushes\)$/m, 'all 60 records given up';
like $out, qr/^failed attempts: @{[3 * $pushes]} x HTTP 50\d$/m,
    'every attempt failed';
my ($ms) = $out =~ /^elapsed: ([\d.]+) ms$/m;
cmp_ok $ms, '>=', 200, 'the last retry waited 2 min / 600 = 0.2 s';

# ---- simulate: the deadline ----

($rc, $out) = run('simulate', '--dialect', 'huawei', '--url',
                  "$base/fee-down", '--app', 'appKeyA', '--secret-file',
                  "$secrets/huawei-a.key", '--records', 10,
                  '--time-scale', 60, '--max-seconds', 0.5, '--seed', 4);
is $rc, 1, 'deadline before the first retry: exit 1';
like $out, qr/^pending at deadline: 10 \(--max-seconds reached\)$/m,
    'records pending at the deadline';

# ---- simulate: refusals ----

($rc, $out, my $err) = run('simulate', '--dialect', 'aliyun', '--url',
                           'http://192.0.2.1/report', '--records', 1);
is $rc, 2, 'a non-loopback target is refused';
like $err, qr/not a loopback address; pass --allow-remote/, '... explained';
($rc, $out, $err) = run('simulate', '--dialect', 'huawei', '--url',
                        "$base/fee", '--app', 'appKeyA');
is $rc, 2, 'huawei without a secret file: usage error';
($rc, $out, $err) = run('simulate', '--dialect', 'huawei', '--url',
                        "$base/fee", '--app', 'appKeyA', '--secret-file',
                        "$secrets/huawei-a.key", '--batch', 51);
is $rc, 2, 'more than 50 per huawei push: usage error';

unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert';

done_testing();
