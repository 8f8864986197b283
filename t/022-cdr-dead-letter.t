# A dead letter that cannot be written fails the push: the platform gets
# 503 and retries, nothing is handed off or marked seen, and the retry,
# once the file can be written, delivers the good records exactly once and
# keeps the bad one.  (A failed dead-letter write used to answer 200: the
# invalid record then existed nowhere.)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::More;

use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

plan skip_all => 'no /dev/full' unless -c '/dev/full';

my $nginx = PXNginx->new(name => 'dead-letter', workers => 2);
my $letters = $nginx->prefix . '/logs/dead.ndjson';

ok $nginx->start(http => <<"_EOC_", server => <<'_EOC_'), 'nginx starts'
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
        location = /cdr-full {
            provision_x_cdr huawei queue=q dedup=dedup;
            provision_x_dead_letter /dev/full;
        }
        location = /cdr {
            provision_x_cdr huawei queue=q dedup=dedup;
            provision_x_dead_letter logs/dead.ndjson;
        }
        location = /status { provision_x_status; }
_EOC_
    or BAIL_OUT($nginx->error_log);

my $json = JSON::PP->new;
my $push = fee_push(records => [
    fee_record('d', 1), fee_record('d', 2, spId => ''), fee_record('d', 3)]);

sub depth {
    my $res = $nginx->request(GET => '/status', headers => consumer_auth());
    return $json->decode($res->content)->{queues}[0]{depth};
}

for (1 .. 3) {
    my $res = $nginx->request(POST => '/cdr-full', body => $push);
    is $res->code, 503, "a push whose dead letter cannot be written: 503 ($_)";
    like $res->content, qr/dead letter/, 'saying why';
}
is depth(), 0, 'nothing was handed off';
like $nginx->error_log,
    qr/\[error\].*writing dead letter to "\/dev\/full" failed/,
    'the log says what failed';

my $res = $nginx->request(POST => '/cdr', body => $push);
is $res->code, 200, 'the retry, with a writable file, is acknowledged';
is depth(), 2, 'its two good records are queued: none was marked seen';

open my $fh, '<', $letters or die "$letters: $!";
my @lines = <$fh>;
close $fh;
is scalar(@lines), 1, 'one dead letter';
like $lines[0], qr/"error":"field \\"spId\\" must not be empty".*"icid":"icid-d-2"/,
    'the invalid record, with its reason';

is $nginx->request(POST => '/cdr', body => $push)->code, 200,
    'the push once more';
is depth(), 2, 'is a retry: nothing more queued';

$nginx->stop;
unlike $nginx->error_log, qr/exited on signal|\[(alert|crit)\]/, 'no alert';

done_testing();
