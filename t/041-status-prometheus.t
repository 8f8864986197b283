# The Prometheus exposition passes promtool, the counters survive
# nginx -s reload, and $provision_x_queue_depth reaches the access log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Temp qw(tempfile);
use Test::More;

use PXNginx;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $http = <<"_EOC_";
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=seen:1m;
    provision_x_queue_zone zone=cdrq:1m;
    provision_x_api_key $secrets/api-a.key;
    log_format depth 'records=\$provision_x_cdr_records depth=\$provision_x_queue_depth';
_EOC_

my $server = <<'_EOC_';
        provision_x_nonce nonces;
        location = /hw {
            provision_x_verify huawei;
            proxy_pass http://127.0.0.1:$server_port/ok;
        }
        location = /cdr {
            provision_x_cdr huawei queue=cdrq dedup=seen;
            access_log logs/depth.log depth;
        }
        location = /ok { return 200 "ok\n"; }
        location = /status { provision_x_status; }
_EOC_

my $nginx = PXNginx->new(name => 'status-prom', workers => 2, http => $http,
                         server => $server);
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my @auth = (Authorization => 'Bearer consumer-key-one-7f3a9c');

sub traffic {
    my ($tag) = @_;
    my $h = [map { split /: /, $_, 2 } split /\n/,
             huawei_headers(app => 'appKeyA', secret => 'secretA')];
    $nginx->request(GET => '/hw', headers => $h);
    $nginx->request(GET => '/hw', headers => $h);    # a replay
    $nginx->request(GET => '/hw');                   # unsigned
    return $nginx->request(POST => '/cdr',
                           body => fee_push(n => 3, tag => $tag))->code;
}

sub metric {
    my ($text, $line) = @_;
    return $text =~ /^\Q$line\E (\d+)$/m ? $1 : undef;
}

is traffic('a'), 200, 'a round of traffic';

my $res = $nginx->request(GET => '/status?format=prometheus', headers => \@auth);
is $res->code, 200, 'the Prometheus exposition';
my $text = $res->content;

my ($fh, $file) = tempfile(UNLINK => 1);
print $fh $text;
close $fh;
my $out = `promtool check metrics < $file 2>&1`;
is $?, 0, 'promtool check metrics accepts it' or diag $out;

is metric($text, 'provision_x_verified_total{dialect="huawei",app="appKeyA"}'),
    1, 'one verified';
is metric($text, 'provision_x_rejected_total{dialect="huawei",app="appKeyA",'
                 . 'reason="replayed_nonce"}'), 1, 'one replay';
is metric($text, 'provision_x_rejected_total{dialect="huawei",app="",'
                 . 'reason="missing_auth"}'), 1, 'one unsigned';
is metric($text, 'provision_x_queue_enqueued_total{zone="cdrq"}'), 3,
    'three enqueued';
like $text, qr/^provision_x_zone_entries\{zone="nonces",kind="nonce"\} 1$/m,
    'one nonce remembered';

ok $nginx->reload(server => "$server        location = /new { return 204; }\n"),
    'nginx -s reload';
is $nginx->request(GET => '/new')->code, 204, 'the new configuration serves';
is traffic('b'), 200, 'another round of traffic';

$text = $nginx->request(GET => '/status?format=prometheus',
                        headers => \@auth)->content;
is metric($text, 'provision_x_verified_total{dialect="huawei",app="appKeyA"}'),
    2, 'counters carried on across the reload';
is metric($text, 'provision_x_rejected_total{dialect="huawei",app="appKeyA",'
                 . 'reason="replayed_nonce"}'), 2, 'rejections too';
is metric($text, 'provision_x_cdr_records_total{dialect="huawei"}'), 6,
    'and records';
is metric($text, 'provision_x_queue_depth{zone="cdrq"}'), 6, 'queue depth';

($fh, $file) = tempfile(UNLINK => 1);
print $fh $text;
close $fh;
$out = `promtool check metrics < $file 2>&1`;
is $?, 0, 'promtool still accepts it' or diag $out;

my $log = do {
    local $/;
    open my $in, '<', $nginx->prefix . '/logs/depth.log' or die $!;
    <$in>;
};
is $log, "records=3 depth=3\nrecords=3 depth=6\n",
    '$provision_x_queue_depth in the access log';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
