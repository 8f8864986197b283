# Outbound Huawei signing against a separate fake platform: one nginx is
# the platform (it verifies with the module's own verifier and the app's
# real secret), the other the customer's gateway that signs for internal
# services.  A gateway holding the wrong secret is refused by the
# platform, and its refusal reaches the internal service unchanged.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;
use PXNginx;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $platform = PXNginx->new(
    name => 'out-platform',
    http => <<"_EOC_",
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
_EOC_
    server => <<'_EOC_');
        provision_x_nonce nonces;

        location = /rest/provision/voice/record/v1.0 {
            provision_x_verify huawei app=appKeyA;
            return 301 "https://obs.example.com/rec/$arg_fileName";
        }
_EOC_

ok $platform->start, 'the fake platform starts'
    or BAIL_OUT($platform->error_log);

sub gateway {
    my ($name, $key) = @_;
    my $port = $platform->port;
    my $gw = PXNginx->new(
        name => $name,
        http => "    provision_x_app appKeyA secret=$secrets/$key;\n",
        server => <<"_EOC_");
        location = /record {
            provision_x_huawei_sign app=appKeyA;
            proxy_set_header Authorization \$provision_x_huawei_authorization;
            proxy_set_header X-AKSK \$provision_x_huawei_x_aksk;
            proxy_redirect off;
            proxy_pass http://127.0.0.1:$port/rest/provision/voice/record/v1.0;
        }
_EOC_
    ok $gw->start, "gateway $name starts" or BAIL_OUT($gw->error_log);
    return $gw;
}

# ---- the right secret: the 301 and its Location pass through ----

my $good = gateway('out-gateway', 'huawei-a.key');

for my $n (1 .. 3) {
    my $res = $good->request(GET => "/record?fileName=rec-$n.wav");
    is $res->code, 301, "download $n: the platform's 301";
    is $res->header('Location'), "https://obs.example.com/rec/rec-$n.wav",
        "download $n: its Location, unchanged";
}

unlike $platform->error_log, qr/rejected huawei callback/,
    'the platform verified every signed call (fresh nonces each time)';

# ---- the wrong secret: the platform refuses, the refusal passes ----

my $bad = gateway('out-gateway-bad', 'other.key');
my $res = $bad->request(GET => '/record?fileName=rec-9.wav');

is $res->code, 403, 'signed with the wrong secret: 403 from the platform';
like $res->content, qr/"resultcode":"1010002"/,
    "in the platform's own error shape";
ok $platform->wait_log(qr/rejected huawei callback: bad_signature/),
    'the platform names the reason';

my $secret = do { local (@ARGV, $/) = "$secrets/other.key"; <> };
chomp $secret;
unlike $bad->error_log . $platform->error_log, qr/\Q$secret\E/,
    'no log line carries the secret';

done_testing;
