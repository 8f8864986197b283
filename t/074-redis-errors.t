# Redis answering errors or not answering RESP, nginx's upstream retries
# to the next server, the stream cap, and the largest push.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXNginx;
use PXRedis;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $redis = PXRedis->new(name => 'errors');
$redis->start;
my $rport = $redis->port;
my $dead = PXRedis::free_port();
my $nport = PXNginx::free_port();

my $nginx = PXNginx->new(name => 'redis-errors', port => $nport,
                         http => <<"_EOC_",
    upstream redis_after_dead {
        server 127.0.0.1:$dead;
        server 127.0.0.1:$rport;
    }
    upstream redis_after_http {
        server 127.0.0.1:$nport;
        server 127.0.0.1:$rport;
    }
_EOC_
    server => <<"_EOC_");
        location = /cdr {
            provision_x_cdr huawei redis=/_redis;
        }
        location = /_redis {
            internal;
            provision_x_redis_pass 127.0.0.1:$rport;
        }
        location = /cdr-failover {
            provision_x_cdr huawei redis=/_redis_failover;
        }
        location = /_redis_failover {
            internal;
            provision_x_redis_pass redis_after_dead;
        }
        location = /cdr-not-redis {
            provision_x_cdr huawei redis=/_redis_not_redis;
        }
        location = /_redis_not_redis {
            internal;
            provision_x_redis_next_upstream off;
            provision_x_redis_pass 127.0.0.1:$nport;
        }
        location = /cdr-skip-invalid {
            provision_x_cdr huawei redis=/_redis_skip_invalid;
        }
        location = /_redis_skip_invalid {
            internal;
            provision_x_redis_next_upstream error timeout invalid_response;
            provision_x_redis_pass redis_after_http;
        }
        location = /cdr-capped {
            provision_x_cdr huawei redis=/_redis_capped;
        }
        location = /_redis_capped {
            internal;
            provision_x_redis_stream capped;
            provision_x_redis_maxlen 100;
            provision_x_redis_pass 127.0.0.1:$rport;
        }
        location = /cdr-aliyun {
            client_max_body_size 2m;
            client_body_buffer_size 2m;
            provision_x_cdr aliyun redis=/_redis max_body=2m;
        }
        location = /cdr-proxy {
            provision_x_cdr huawei redis=/proxied;
        }
        location = /cdr-bad-auth {
            provision_x_cdr huawei redis=/_redis_bad_auth;
        }
        location = /_redis_bad_auth {
            internal;
            provision_x_redis_user gateway;
            provision_x_redis_password_file $secrets/redis.key;
            provision_x_redis_stream px:badauth;
            provision_x_redis_next_upstream off;
            provision_x_redis_pass 127.0.0.1:$rport;
        }
        location = /cdr-bad-db {
            provision_x_cdr huawei redis=/_redis_bad_db;
        }
        location = /_redis_bad_db {
            internal;
            provision_x_redis_db 99;
            provision_x_redis_stream px:baddb;
            provision_x_redis_next_upstream off;
            provision_x_redis_pass 127.0.0.1:$rport;
        }
        location = /cdr-db3 {
            provision_x_cdr huawei redis=/_redis_db3;
        }
        location = /cdr-db3-aliyun {
            client_max_body_size 2m;
            client_body_buffer_size 2m;
            provision_x_cdr aliyun redis=/_redis_db3 max_body=2m;
        }
        location = /_redis_db3 {
            internal;
            provision_x_redis_db 3;
            provision_x_redis_stream px:db3;
            provision_x_redis_pass 127.0.0.1:$rport;
        }
        location = /proxied {
            return 200;
        }
_EOC_
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

sub post { $nginx->request(POST => $_[0], body => $_[1]) }
sub xlen { $redis->cmd('XLEN', $_[0] // 'provision_x:cdr') }
sub since { substr $nginx->error_log, $_[0] }

# --- Redis answers an error: 502, nothing marked, the retry writes all -----

$redis->cmd('SET', 'provision_x:cdr', 'not a stream');
my $push = fee_push(n => 5, tag => 'wt');
my $mark = length $nginx->error_log;
my $res = post('/cdr', $push);
is $res->code, 502, 'Redis answers WRONGTYPE: 502';
like since($mark), qr/provision_x: redis CDR write failed: WRONGTYPE/,
    'the log has Redis\'s error';
is $redis->cmd('DBSIZE'), 1, 'no dedup key was left behind';

$redis->cmd('DEL', 'provision_x:cdr');
$res = post('/cdr', $push);
is $res->code, 200, 'the retry after the fix';
is xlen(), 5, 'writes all 5 records';

# --- the next server of an upstream block -----------------------------------

$mark = length $nginx->error_log;
$res = post('/cdr-failover', fee_push(n => 3, tag => 'fo'));
is $res->code, 200, 'first server down: the second one takes the write';
like since($mark), qr/connect\(\) failed/, 'nginx logs the dead server';
is xlen(), 8, 'written once';

$mark = length $nginx->error_log;
$res = post('/cdr-not-redis', fee_push(n => 2, tag => 'nr'));
is $res->code, 502, 'a server that does not speak RESP: 502';
like since($mark), qr/provision_x: redis sent (invalid RESP|an unexpected)/,
    'the log says so';

$res = post('/cdr-skip-invalid', fee_push(n => 2, tag => 'nr'));
is $res->code, 200, 'with invalid_response the next server takes it';
is xlen(), 10, 'written once';

# --- not a provision_x_redis_pass location ----------------------------------

$mark = length $nginx->error_log;
$res = post('/cdr-proxy', fee_push(n => 2, tag => 'px'));
is $res->code, 502, 'redis= naming another kind of location: 502';
like since($mark), qr/redis=\/proxied answered 200 but is no provision_x_redis_pass location/,
    'the log names the mistake';

# --- AUTH and SELECT are checked before anything is written -----------------
# (this Redis lets the default user in without a password: a failed AUTH
# or SELECT pipelined with the script used to write as that user, or into
# database 0, while the platform got 502)

my $keys = $redis->cmd('DBSIZE');
for my $try (1 .. 3) {
    $mark = length $nginx->error_log;
    $res = post('/cdr-bad-auth', fee_push(n => 3, tag => 'ba'));
    is $res->code, 502, "an AUTH that fails: 502 ($try)";
    like since($mark), qr/provision_x: redis AUTH failed: WRONGPASS/,
        'the log has Redis\'s refusal';
    is xlen('px:badauth'), 0, 'nothing was written as the default user';

    $mark = length $nginx->error_log;
    $res = post('/cdr-bad-db', fee_push(n => 3, tag => 'bd'));
    is $res->code, 502, "a SELECT that fails: 502 ($try)";
    like since($mark), qr/provision_x: redis SELECT failed: ERR DB index/,
        'the log has Redis\'s refusal';
    is xlen('px:baddb'), 0, 'nothing was written into database 0';
}
is $redis->cmd('DBSIZE'), $keys, 'and no dedup key either';

for my $try (1 .. 2) {
    $res = post('/cdr-db3', fee_push(n => 4, tag => "db3-$try"));
    is $res->code, 200, "a SELECT that works: the push is written ($try)";
}
is $redis->cmd(db => 3, 'XLEN', 'px:db3'), 8, 'into database 3';
is xlen('px:db3'), 0, 'not into database 0';

# the script of a 1000-record push (~1 MB) is written after the preamble's
# replies, in as many writes as the connection takes
$res = post('/cdr-db3-aliyun', report_push(n => 1000, tag => 'big3'));
is $res->code, 200, 'a 1000-record push selecting database 3';
is $redis->cmd(db => 3, 'XLEN', 'px:db3'), 1008, 'all written there';

# --- MAXLEN ~ ------------------------------------------------------------------

for my $i (1 .. 6) {
    $res = post('/cdr-capped', fee_push(n => 50, tag => "cap$i"));
    is $res->code, 200, "capped push $i";
}
my $len = xlen('capped');
ok $len >= 100 && $len < 300, "the stream is trimmed near 100 ($len of 300)";

# --- the largest push ---------------------------------------------------------

$res = post('/cdr-aliyun', report_push(n => 1000, tag => 'big'));
is $res->code, 200, 'a 1000-record Aliyun push';
is xlen(), 1010, 'all 1000 written';
$res = post('/cdr-aliyun', report_push(n => 1000, tag => 'big') . ' ');
is $res->code, 200, 'the same records again';
is xlen(), 1010, 'none written twice';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
