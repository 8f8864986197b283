# The build, load and test loop end to end: the module loads, its
# directives parse, the access phase runs and its variables are set.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::Nginx::Socket 'no_plan';
use PXLogs ();

PXLogs::refuse_crashes();
use PXSign;

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the module loads and stays out of unverified locations
--- config
    location = /t {
        provision_x_verify off;
        return 200 "dialect=[$provision_x_dialect]\n";
    }
--- request
GET /t
--- response_body
dialect=[]
--- no_error_log
[error]



=== TEST 2: a verified request carries its dialect and app to the backend
--- http_config
    provision_x_app appKeyA secret=$TEST_NGINX_SECRETS/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
--- config
    location = /t {
        provision_x_verify huawei;
        provision_x_nonce nonces;
        proxy_set_header X-Dialect $provision_x_dialect;
        proxy_set_header X-App $provision_x_app;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "dialect=$http_x_dialect app=$http_x_app\n";
    }
--- request
GET /t
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA')
--- response_body
dialect=huawei app=appKeyA
--- no_error_log
[error]
[warn]



=== TEST 3: an unknown dialect stops nginx
--- config
    location = /t {
        provision_x_verify bogus;
    }
--- must_die
--- error_log
invalid value "bogus", expected "off", "aliyun" or "huawei"



=== TEST 4: "return" answers only after verification, and sees its variables
--- http_config
    provision_x_app appKeyA secret=$TEST_NGINX_SECRETS/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
--- config
    location = /t {
        provision_x_verify huawei;
        provision_x_nonce nonces;
        return 200 "dialect=$provision_x_dialect app=$provision_x_app\n";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA'), '']
--- error_code eval
[200, 401]
--- response_body_like eval
[qr/^dialect=huawei app=appKeyA$/, qr/"resultcode":"1023006"/]
