# Every verification directive refuses bad values at load time, with a
# message that says what is wrong; secrets come from files only.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::Nginx::Socket 'no_plan';
use PXLogs ();

PXLogs::refuse_crashes();

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";
chmod 0644, "$FindBin::Bin/secrets/world-readable.key";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a missing secret file
--- http_config
    provision_x_app a secret=$TEST_NGINX_SECRETS/no-such.key;
--- config
--- must_die
--- error_log
secret file "/



=== TEST 2: an empty secret file
--- http_config
    provision_x_app a secret=/dev/null;
--- config
--- must_die
--- error_log
is not a regular file



=== TEST 3: an empty secret file
--- http_config
    provision_x_app a secret=$TEST_NGINX_SECRETS/empty.key;
--- config
--- must_die
--- error_log
empty.key" is empty



=== TEST 4: a world-readable secret file is loaded with a warning
--- http_config
    provision_x_app a secret=$TEST_NGINX_SECRETS/world-readable.key;
--- config
    location = /t { return 200 "up\n"; }
--- request
GET /t
--- response_body
up
--- error_log
world-readable.key" is readable by everyone
--- no_error_log
world-readable-secret



=== TEST 5: provision_x_app without secret=
--- http_config
    provision_x_app a key=$TEST_NGINX_SECRETS/other.key;
--- config
--- must_die
--- error_log
invalid parameter "key=



=== TEST 6: the same app twice
--- http_config
    provision_x_app a secret=$TEST_NGINX_SECRETS/other.key;
    provision_x_app a secret=$TEST_NGINX_SECRETS/other.key;
--- config
--- must_die
--- error_log
"provision_x_app" directive is duplicate



=== TEST 7: provision_x_app in a location
--- config
    location = /t {
        provision_x_app a secret=$TEST_NGINX_SECRETS/other.key;
    }
--- must_die
--- error_log
"provision_x_app" directive is not allowed here



=== TEST 8: a nonce zone without zone=
--- http_config
    provision_x_nonce_zone nonces:1m;
--- config
--- must_die
--- error_log
expected "zone=name:size"



=== TEST 9: a nonce zone that is too small
--- http_config
    provision_x_nonce_zone zone=n:4k;
--- config
--- must_die
--- error_log
zone "zone=n:4k" is too small



=== TEST 10: a nonce zone with a bad size
--- http_config
    provision_x_nonce_zone zone=n:lots;
--- config
--- must_die
--- error_log
invalid zone "zone=n:lots"



=== TEST 11: two nonce zones of one name
--- http_config
    provision_x_nonce_zone zone=n:1m;
    provision_x_nonce_zone zone=n:1m;
--- config
--- must_die
--- error_log
duplicate zone "n"



=== TEST 12: verification without a nonce decision
--- http_config
    provision_x_app a secret=$TEST_NGINX_SECRETS/other.key;
--- config
    location = /t { provision_x_verify huawei; }
--- must_die
--- error_log
"provision_x_verify" needs "provision_x_nonce": a nonce zone, or "off"



=== TEST 13: a nonce zone that is not defined
--- config
    location = /t {
        provision_x_verify huawei;
        provision_x_nonce missing;
    }
--- must_die
--- error_log eval
qr/"provision_x_nonce" names nonce zone "missing", which is not defined: add "provision_x_nonce_zone zone=missing:size" in \S+nginx\.conf:3\d\b/



=== TEST 14: an app= that is not defined
--- config
    location = /t {
        provision_x_verify huawei app=ghost;
        provision_x_nonce off;
    }
--- must_die
--- error_log
unknown app "ghost": define it with provision_x_app first



=== TEST 15: app= with off
--- http_config
    provision_x_app a secret=$TEST_NGINX_SECRETS/other.key;
--- config
    location = /t { provision_x_verify off app=a; }
--- must_die
--- error_log
takes no apps with "off"



=== TEST 16: a bad parameter to provision_x_verify
--- http_config
    provision_x_app a secret=$TEST_NGINX_SECRETS/other.key;
--- config
    location = /t { provision_x_verify huawei a; provision_x_nonce off; }
--- must_die
--- error_log
invalid parameter "a", expected "app=name"



=== TEST 17: a bad mode
--- config
    location = /t { provision_x_mode test; }
--- must_die
--- error_log
invalid value "test"



=== TEST 18: a bad clock limit
--- config
    location = /t { provision_x_clock past=soon; }
--- must_die
--- error_log
invalid parameter "past=soon"



=== TEST 19: an unknown clock parameter
--- config
    location = /t { provision_x_clock window=10s; }
--- must_die
--- error_log
expected "past=time" or "future=time"



=== TEST 20: a bad encoder
--- config
    location = /t { provision_x_aliyun_encoder php; }
--- must_die
--- error_log
invalid value "php"



=== TEST 21: a bad key convention
--- config
    location = /t { provision_x_aliyun_key secret; }
--- must_die
--- error_log
invalid value "secret"



=== TEST 22: flags take on or off
--- config
    location = /t { provision_x_huawei_wsse yes; }
--- must_die
--- error_log
invalid value "yes"



=== TEST 23: a bad body limit
--- config
    location = /t { provision_x_verify_body_max big; }
--- must_die
--- error_log
"provision_x_verify_body_max" directive invalid value



=== TEST 24: a bad log level
--- config
    location = /t { provision_x_reject_log_level debug; }
--- must_die
--- error_log
invalid value "debug"



=== TEST 25: provision_x_json and beijing flags reject junk as well
--- config
    location = /t { provision_x_aliyun_json maybe; }
--- must_die
--- error_log
invalid value "maybe"



=== TEST 26: a duplicated provision_x_verify
--- config
    location = /t {
        provision_x_verify off;
        provision_x_verify off;
    }
--- must_die
--- error_log
"provision_x_verify" directive is duplicate
