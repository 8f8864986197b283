# An OpenSSL failure while checking a signature is the gateway's fault: it
# answers a 5xx the platform retries (reason internal_error), never the 403
# of a signature mismatch, after which the platform would give up.  A shim
# preloaded into nginx makes EVP_MD_CTX_copy_ex fail: every HMAC with a
# prepared per-secret key copies its pad states with it, while loading the
# configuration (which prepares the keys) and the nonce digest do not.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Temp qw(tempdir);

BEGIN {
    my $dir = tempdir(CLEANUP => 1);
    open my $c, '>', "$dir/shim.c" or die "$dir/shim.c: $!";
    print $c "int EVP_MD_CTX_copy_ex(void *out, const void *in)\n"
        . "{ (void) out; (void) in; return 0; }\n";
    close $c;
    system("cc -shared -fPIC -o $dir/shim.so $dir/shim.c") == 0
        or die "cannot build the OpenSSL failure shim\n";
    $ENV{LD_PRELOAD} = "$dir/shim.so";
}

use Test::Nginx::Socket 'no_plan';
use PXLogs ();
use PXSign;

PXLogs::refuse_crashes();

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";

our $HttpConfig = <<'_EOC_';
    provision_x_app appKeyA secret=$TEST_NGINX_SECRETS/huawei-a.key;
    provision_x_app aliyunApp secret=$TEST_NGINX_SECRETS/aliyun.key;
    provision_x_nonce_zone zone=nonces:1m;
_EOC_

our $Config = <<'_EOC_';
    provision_x_nonce nonces;

    location = /huawei {
        provision_x_verify huawei;
        return 200 "passed\n";
    }

    location = /aliyun {
        provision_x_verify aliyun;
        return 200 "passed\n";
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: Huawei X-AKSK: 500 internal_error, not 403 bad_signature
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /huawei
{"eventType":"fee","feeLst":[]}
--- more_headers eval
PXSign::huawei_headers(app => 'appKeyA', secret => 'secretA')
--- error_code: 500
--- response_body_like: ^\{"resultcode":"1010001","resultdesc":"[^"]+"\}$
--- error_log
rejected huawei callback: internal_error (app "appKeyA"), OpenSSL failed
--- no_error_log
bad_signature



=== TEST 2: Aliyun X-mode: 500 internal_error, not 403 bad_signature
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
"GET /aliyun?" . PXSign::aliyun_query(secret => 'testSecret',
                                      params => {callId => 'c1'})
--- error_code: 500
--- response_body_like: ^\{"code":"InternalError","message":"[^"]+"\}$
--- error_log
rejected aliyun callback: internal_error (app ""), OpenSSL failed
--- no_error_log
bad_signature
