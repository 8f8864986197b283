# nginx -t points at the line at fault: an undefined zone, or one of
# another kind, is reported at the directive that uses it (not at the end
# of the http block); so is a forward= that names no location (every push
# would get 502) and a status page without API keys (every request would
# get 401).  A queue or dedup zone that a receiver verifying nothing
# shares with a signed one gets a warning that names both.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXNginx;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'config-lines');

my $apps = <<"_EOC_";
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
_EOC_

my @cases = (
    ['provision_x_nonce nowhere;',
     qr/"provision_x_nonce" names nonce zone "nowhere", which is not defined: add "provision_x_nonce_zone zone=nowhere:size" in \S+nginx\.conf:(\d+)/],
    ['provision_x_cdr huawei queue=nowhere;',
     qr/"provision_x_cdr" names queue zone "nowhere", which is not defined: add "provision_x_queue_zone zone=nowhere:size" in \S+nginx\.conf:(\d+)/],
    ['provision_x_cdr aliyun forward=/f dedup=nonces;',
     qr/"provision_x_cdr" names zone "nonces", which is a nonce zone, not a dedup zone, in \S+nginx\.conf:(\d+)/],
);

push @cases,
    ['provision_x_cdr huawei forward=/nowhere;',
     qr/"provision_x_cdr" forward=\/nowhere names no location of its server: add "location = \/nowhere \{ internal; ... \}" in \S+nginx\.conf:(\d+)/],
    ['provision_x_status;',
     qr/"provision_x_status" needs "provision_x_api_key" in its location or above, in \S+nginx\.conf:(\d+)/],
    ['provision_x_cdr huawei redis=/nowhere;',
     qr/"provision_x_cdr" redis=\/nowhere names no location of its server: add "location = \/nowhere \{ internal; ... \}" in \S+nginx\.conf:(\d+)/],
    ['provision_x_receive huawei types=callout forward=/nowhere;',
     qr/"provision_x_receive" forward=\/nowhere names no location of its server: add "location = \/nowhere \{ internal; ... \}" in \S+nginx\.conf:(\d+)/],
    ['provision_x_verify huawei app=appKeyA;',
     qr/"provision_x_verify" needs "provision_x_nonce": a nonce zone, or "off", in \S+nginx\.conf:(\d+)/];

for my $case (@cases) {
    my ($directive, $message) = @$case;
    $nginx->write_config(http => $apps, server => <<"_EOC_");
        location = /a {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            return 200;
        }

        location = /b {
            $directive
        }
_EOC_
    my ($rc, $out) = $nginx->test_config;
    isnt $rc, 0, "nginx -t refuses \"$directive\"";
    my ($line) = $out =~ $message;
    ok defined $line, '... with the message' or diag $out;
    is $line, $nginx->config_line($directive),
        '... at the line that names the zone';
}

$nginx->write_config(http => <<"_EOC_", server => <<'_EOC_');
$apps    provision_x_queue_zone zone=q:64k;
    provision_x_dedup_zone zone=d:64k;
_EOC_
        location = /signed {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_cdr huawei queue=q dedup=d;
        }
        location = /open-queue {
            provision_x_cdr aliyun queue=q;
        }
        location = /open-dedup {
            provision_x_cdr aliyun forward=/f dedup=d;
        }
        location = /f { internal; return 200; }
_EOC_
my ($rc, $out) = $nginx->test_config;
is $rc, 0, 'shared zones are allowed' or diag $out;
my ($signed, $open_q, $open_d) = map { $nginx->config_line($_) }
    'provision_x_cdr huawei queue=q', 'provision_x_cdr aliyun queue=q',
    'provision_x_cdr aliyun forward=/f';
like $out, qr/\[warn\] queue zone "q" takes pushes from a receiver that verifies nothing \(\S+nginx\.conf:$open_q\) and from a signed one \(\S+nginx\.conf:$signed\): whoever reaches the first can fill it for both; give each its own zone$/m,
    'but the shared queue is warned about, naming both lines';
like $out, qr/\[warn\] dedup zone "d" takes pushes from a receiver that verifies nothing \(\S+nginx\.conf:$open_d\) and from a signed one \(\S+nginx\.conf:$signed\): whoever reaches the first can fill it for both; give each its own zone, or set max_share=$/m,
    'and so is the shared dedup zone';

done_testing();
