# A verdict does not cross an internal redirect into a stricter location:
# after error_page, try_files, rewrite ... last or an upstream's
# X-Accel-Redirect, the target accepts the verdict only if it was a real
# pass in a live location, for its own dialect and an app it lists;
# otherwise it verifies the request anew.  (Before, any cached verdict was
# accepted: app A reached an app=C location, and an unsigned request
# passed by a debug location was accepted by a live one.)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXNginx;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'verify-redirect', workers => 2);
ok $nginx->start(http => <<"_EOC_", server => <<'_EOC_'), 'nginx starts'
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app appKeyC secret=$secrets/huawei-c.key;
    provision_x_app ali secret=$secrets/aliyun.key;
    provision_x_nonce_zone zone=nonces:1m;
_EOC_
        provision_x_nonce nonces;

        location = /hw/eventA {
            provision_x_verify huawei app=appKeyA;
            return 200 "A app=$provision_x_app\n";
        }
        location = /hw/eventC {
            provision_x_verify huawei app=appKeyC;
            return 200 "C app=$provision_x_app\n";
        }
        location @eventC {
            provision_x_verify huawei app=appKeyC;
            return 200 "C app=$provision_x_app\n";
        }
        location = /ali/live {
            provision_x_verify aliyun;
            return 200 "ali app=$provision_x_app\n";
        }

        location = /hw/toA {
            provision_x_verify huawei app=appKeyA;
            error_page 418 = /hw/eventA;
            return 418;
        }
        location = /hw/toC {
            provision_x_verify huawei app=appKeyA;
            error_page 418 = /hw/eventC;
            return 418;
        }
        location = /hw/try {
            provision_x_verify huawei app=appKeyA;
            try_files /nowhere @eventC;
        }
        location = /hw/rewrite {
            provision_x_verify huawei app=appKeyA;
            rewrite ^ /hw/eventC last;
        }
        location = /hw/accel {
            provision_x_verify huawei app=appKeyA;
            proxy_pass http://127.0.0.1:$server_port/accel-backend;
        }
        location = /accel-backend {
            add_header X-Accel-Redirect /hw/eventC;
            return 200 "";
        }
        location = /hw/toali {
            provision_x_verify huawei app=appKeyA;
            error_page 418 = /ali/live;
            return 418;
        }
        location = /hw/debug {
            provision_x_verify huawei;
            provision_x_mode debug;
            error_page 418 = /hw/eventA;
            return 418;
        }
        location = /ali/debug {
            provision_x_verify aliyun;
            provision_x_mode debug;
            error_page 418 = /hw/eventA;
            return 418;
        }
_EOC_
    or BAIL_OUT($nginx->error_log);

sub as {
    my ($app) = @_;
    my $secret = $app eq 'appKeyA' ? 'secretA' : 's3cr3t/+=&~';
    return [map { split /: /, $_, 2 } split /\n/,
            huawei_headers(app => $app, secret => $secret)];
}

sub get { $nginx->request(GET => $_[0], headers => $_[1] // []) }

my $res = get('/hw/eventA', as('appKeyA'));
is $res->code, 200, 'app A at its own location';
is $res->content, "A app=appKeyA\n", 'verified as A';

$res = get('/hw/toA', as('appKeyA'));
is $res->code, 200, 'error_page into another location of app A: the verdict holds';
is $res->content, "A app=appKeyA\n", 'without verifying again (the nonce would be a replay)';

for my $case (['/hw/toC', 'error_page'], ['/hw/try', 'try_files'],
              ['/hw/rewrite', 'rewrite ... last'],
              ['/hw/accel', 'X-Accel-Redirect']) {
    my ($uri, $how) = @$case;
    $res = get($uri, as('appKeyA'));
    is $res->code, 403, "$how into an app=appKeyC location: 403";
    unlike $res->content, qr/app=appKeyA/, 'app A got nothing there';
}

$res = get('/hw/eventC', as('appKeyC'));
is $res->code, 200, 'app C at its own location still passes';

$res = get('/hw/toali', as('appKeyA'));
is $res->code, 401, 'a Huawei verdict redirected to an Aliyun location: 401';

$res = get('/hw/debug');
is $res->code, 401, 'unsigned, through a debug location into a live one: 401';
$res = get('/ali/debug');
is $res->code, 401, 'the same from an Aliyun debug location: 401';
$res = get('/hw/debug', as('appKeyA'));
is $res->code, 403, 'even a real pass in a debug location does not satisfy a live one';

like $nginx->error_log, qr/rejected huawei callback: unknown_app \(app ""\), app not allowed here/,
    'the log says why';

done_testing();
