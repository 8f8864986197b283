# Outbound signing: the gateway signs its own calls to the platforms, so
# internal services never hold a secret.  A fake platform location in the
# same nginx checks what the gateway sent: Huawei with the module's own
# verifier, Aliyun POP against the published known answers (§7.1, §7.3).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::Nginx::Socket 'no_plan';
use PXLogs ();

PXLogs::refuse_crashes();

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";

our $HttpConfig = <<'_EOC_';
    provision_x_app appKeyA secret=$TEST_NGINX_SECRETS/huawei-a.key;
    provision_x_app testId secret=$TEST_NGINX_SECRETS/pop-test.key;
    provision_x_nonce_zone zone=nonces:1m;
_EOC_

our $Config = <<'_EOC_';
    provision_x_nonce nonces;

    # the internal services' entry points
    location = /record {
        provision_x_huawei_sign app=appKeyA;
        proxy_set_header Authorization $provision_x_huawei_authorization;
        proxy_set_header X-AKSK $provision_x_huawei_x_aksk;
        proxy_set_header Content-Type "application/json;charset=UTF-8";
        proxy_redirect off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/rest/provision/voice/record/v1.0;
    }

    location = /echo-headers {
        provision_x_huawei_sign app=appKeyA;
        proxy_set_header Authorization $provision_x_huawei_authorization;
        proxy_set_header X-AKSK $provision_x_huawei_x_aksk;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fake/echo;
    }

    location = /pop-kat {
        provision_x_aliyun_pop_sign app=testId
                                    nonce=$http_x_test_nonce
                                    timestamp=$http_x_test_timestamp;
        return 200 "$provision_x_aliyun_pop_query\n";
    }

    location = /dyplsapi {
        provision_x_aliyun_pop_sign app=testId
                                    nonce=$http_x_test_nonce
                                    timestamp=$http_x_test_timestamp;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fake/dypls?$provision_x_aliyun_pop_query;
    }

    location = /dyplsapi-post {
        provision_x_aliyun_pop_sign app=testId method=POST
                                    nonce=$http_x_test_nonce
                                    timestamp=$http_x_test_timestamp;
        return 200 "$provision_x_aliyun_pop_query\n";
    }

    location = /pop-fresh {
        provision_x_aliyun_pop_sign app=testId;
        return 200 "$provision_x_aliyun_pop_query\n";
    }

    # the fake platform
    location = /rest/provision/voice/record/v1.0 {
        provision_x_verify huawei app=appKeyA;
        return 301 "https://obs.example.com/rec/$arg_fileName?sig=a%2Bb";
    }

    location = /fake/echo {
        provision_x_verify huawei app=appKeyA;
        return 200 "$http_authorization\n$http_x_aksk\n";
    }

    location = /fake/dypls {
        return 200 "$args\n";
    }
_EOC_

our $Pop1Canon = 'AccessKeyId=testId&Action=QueryRecordFileDownloadUrl&CallId=abcedf1234&CallTime=2019-03-05%2012%3A00%3A00&Format=JSON&PoolKey=FC123456&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0&Timestamp=2024-01-02T03%3A04%3A05Z&Version=2017-05-25';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: Huawei recording download: the platform's 301 passes unchanged
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /record?fileName=rec-1.wav&recordDomain=ostor.example.com
--- error_code: 301
--- response_headers
Location: https://obs.example.com/rec/rec-1.wav?sig=a%2Bb
--- no_error_log
[error]
[warn]



=== TEST 2: a fresh nonce and a UTC Created per request, both verified
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
["GET /echo-headers", "GET /echo-headers"]
--- response_body_like eval
[qr/\AAKSK realm="SDP",profile="UsernameToken",type="Appkey"\nUsernameToken Username="appKeyA",PasswordDigest="[A-Za-z0-9+\/]{43}=",Nonce="[0-9a-f]{32}",Created="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\n\z/,
 qr/\AAKSK realm="SDP".*Nonce="[0-9a-f]{32}"/s]
--- no_error_log
[error]



=== TEST 3: KAT-1 (§7.1) through the variable: the published signature
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /pop-kat?Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D
--- more_headers
X-Test-Nonce: 45e25e9b-0a6f-4070-8c85-2956eda1b466
X-Test-Timestamp: 2017-07-12T02:42:19Z
--- response_body
AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25&Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D
--- no_error_log
[error]



=== TEST 4: POP-1 (§7.3) through proxy_pass to a fake Dyplsapi
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /dyplsapi?Action=QueryRecordFileDownloadUrl&PoolKey=FC123456&CallId=abcedf1234&CallTime=2019-03-05%2012:00:00
--- more_headers
X-Test-Nonce: 45e25e9b-0a6f-4070-8c85-2956eda1b466
X-Test-Timestamp: 2024-01-02T03:04:05Z
--- response_body eval
"$::Pop1Canon&Signature=TbRx608Mr1ks0qXzFCKyeiekn3o%3D\n"
--- no_error_log
[error]



=== TEST 5: POP-2: the method is part of the string to sign
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /dyplsapi-post?Action=QueryRecordFileDownloadUrl&PoolKey=FC123456&CallId=abcedf1234&CallTime=2019-03-05+12:00:00
--- more_headers
X-Test-Nonce: 45e25e9b-0a6f-4070-8c85-2956eda1b466
X-Test-Timestamp: 2024-01-02T03:04:05Z
--- response_body eval
"$::Pop1Canon&Signature=Cp5%2FkFNeJirMeIszF%2BQinuqWuq0%3D\n"
--- no_error_log
[error]



=== TEST 6: fresh nonce and timestamp when none is injected
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /pop-fresh?Action=QueryRecordFileDownloadUrl&CallId=c1&CallTime=x&PoolKey=FC1
--- response_body_like
^AccessKeyId=testId&Action=QueryRecordFileDownloadUrl&CallId=c1&CallTime=x&Format=JSON&PoolKey=FC1&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=[0-9a-f]{32}&SignatureVersion=1.0&Timestamp=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ&Version=2017-05-25&Signature=[A-Za-z0-9%]+$
--- no_error_log
[error]



=== TEST 7: a caller may not set what the gateway signs: empty, logged
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /pop-fresh?Action=X&Timestamp=2024-01-02T03:04:05Z
--- response_body eval
"\n"
--- error_log
sent "Timestamp", which the gateway sets



=== TEST 8: no Action: nothing signed
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /pop-fresh?CallId=1
--- response_body eval
"\n"
--- error_log
POP query not signed: no "Action"



=== TEST 9: an unknown app is a configuration error
--- http_config eval: $::HttpConfig
--- config
    location = /x {
        provision_x_huawei_sign app=nobody;
        return 200;
    }
--- must_die
--- error_log
unknown app in "app=nobody"
