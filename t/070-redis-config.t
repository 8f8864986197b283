# The Redis sink refuses bad configurations at load time, and its
# location serves nothing but the CDR handler's subrequest.  Needs no
# Redis: nothing here connects.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::Nginx::Socket 'no_plan';
use PXLogs ();

PXLogs::refuse_crashes();

$ENV{TEST_NGINX_SECRETS} = "$FindBin::Bin/secrets";
chmod 0600, glob "$FindBin::Bin/secrets/*.key";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two sinks
--- config
    location = /cdr {
        provision_x_cdr huawei forward=/_f redis=/_redis;
    }
--- must_die
--- error_log
needs exactly one sink: forward=/uri, queue=name or redis=/uri



=== TEST 2: redis= is a URI
--- config
    location = /cdr {
        provision_x_cdr huawei redis=_redis;
    }
--- must_die
--- error_log
needs redis=/uri of a location in this server



=== TEST 3: maxlen must be a positive number or off
--- config
    location = /_redis {
        provision_x_redis_maxlen 0;
        provision_x_redis_pass 127.0.0.1:6379;
    }
--- must_die
--- error_log
invalid value "0", expected a positive number or "off"



=== TEST 4: a TTL of zero
--- http_config
    provision_x_redis_ttl 0;
--- config
--- must_die
--- error_log
"provision_x_redis_ttl" must be at least 1s



=== TEST 5: a user without a password
--- config
    location = /_redis {
        provision_x_redis_user gateway;
        provision_x_redis_pass 127.0.0.1:6379;
    }
--- must_die
--- error_log
"provision_x_redis_user" needs "provision_x_redis_password_file"



=== TEST 6: a password file that does not exist
--- http_config
    provision_x_redis_password_file $TEST_NGINX_SECRETS/no-such.key;
--- config
--- must_die
--- error_log
secret file



=== TEST 7: an empty password file
--- http_config
    provision_x_redis_password_file $TEST_NGINX_SECRETS/empty.key;
--- config
--- must_die
--- error_log eval
qr/secret file "[^"]*empty\.key" is empty/



=== TEST 8: a second provision_x_redis_pass
--- config
    location = /_redis {
        provision_x_redis_pass 127.0.0.1:6379;
        provision_x_redis_pass 127.0.0.1:6380;
    }
--- must_die
--- error_log
"provision_x_redis_pass" directive is duplicate



=== TEST 9: the Redis location reached directly: 404, no connection
--- config
    location = /_redis {
        provision_x_redis_pass 127.0.0.1:1;
    }
--- request
GET /_redis
--- error_code: 404
--- no_error_log
connect()



=== TEST 10: a complete configuration loads
--- http_config
    upstream px_redis {
        server 127.0.0.1:6379 max_fails=0;
        server 127.0.0.1:6380 backup;
        keepalive 8;
    }
    provision_x_redis_password_file $TEST_NGINX_SECRETS/redis.key;
    provision_x_redis_db 3;
    provision_x_redis_ttl 36h;
    provision_x_redis_maxlen 1000000;
--- config
    location = /cdr {
        provision_x_cdr aliyun redis=/_redis;
    }
    location = /_redis {
        internal;
        provision_x_redis_stream "{px}:cdr";
        provision_x_redis_key_prefix "{px}:seen:";
        provision_x_redis_user gateway;
        provision_x_redis_connect_timeout 200ms;
        provision_x_redis_send_timeout 500ms;
        provision_x_redis_read_timeout 500ms;
        provision_x_redis_buffer_size 8k;
        provision_x_redis_next_upstream error timeout invalid_response;
        provision_x_redis_next_upstream_tries 2;
        provision_x_redis_next_upstream_timeout 1s;
        provision_x_redis_pass px_redis;
    }
--- request
GET /cdr
--- error_code: 405
--- no_error_log
[error]



=== TEST 11: TLS verification needs trusted certificates
--- config
    location = /_redis {
        provision_x_redis_ssl on;
        provision_x_redis_pass 127.0.0.1:6380;
    }
--- must_die
--- error_log
"provision_x_redis_ssl_verify" needs "provision_x_redis_ssl_trusted_certificate", or "provision_x_redis_ssl_verify off"



=== TEST 12: TLS without verification loads
--- config
    location = /_redis {
        provision_x_redis_ssl on;
        provision_x_redis_ssl_verify off;
        provision_x_redis_pass 127.0.0.1:6380;
    }
--- request
GET /_redis
--- error_code: 404
