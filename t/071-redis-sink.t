# The Redis Streams sink against a real redis-server: signed pushes land in
# the stream once, with the documented fields; the script is loaded once;
# Redis decides what is new when the local dedup zone cannot; a wrong
# password, a stopped Redis and a slow Redis answer 502 and lose nothing.

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
my $password = 'redis-test-password-7f3a';

my $redis = PXRedis->new(name => 'sink', password => $password);
$redis->start;
my $rport = $redis->port;

my $http = <<"_EOC_";
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    log_format counts 'records=\$provision_x_cdr_records '
                      'duplicates=\$provision_x_cdr_duplicates';

    upstream px_redis {
        server 127.0.0.1:$rport;
        keepalive 4;
    }

    provision_x_redis_password_file $secrets/redis.key;
    provision_x_redis_stream px:cdr;
    provision_x_redis_db 2;
    provision_x_api_key $secrets/api-a.key;
_EOC_

my $server = <<'_EOC_';
        location = /cdr {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_cdr huawei redis=/_redis dedup=dedup;
        }
        location = /cdr-shared {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_cdr huawei redis=/_redis;
            access_log logs/counts.log counts;
        }
        location = /cdr-aliyun {
            provision_x_cdr aliyun redis=/_redis dedup=dedup;
        }
        location = /cdr-wrong-password {
            provision_x_cdr huawei redis=/_redis_wrong_password;
        }
        location = /cdr-slow {
            provision_x_cdr huawei redis=/_redis_slow;
        }
        location = /status { provision_x_status; }
        location = /_redis {
            internal;
            provision_x_redis_pass px_redis;
        }
        location = /_redis_wrong_password {
            internal;
            provision_x_redis_password_file SECRETS/other.key;
            provision_x_redis_pass px_redis;
        }
        location = /_redis_slow {
            internal;
            provision_x_redis_read_timeout 300ms;
            provision_x_redis_pass px_redis;
        }
_EOC_
$server =~ s/SECRETS/$secrets/g;

my $nginx = PXNginx->new(name => 'redis-sink', http => $http,
                         server => $server);
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

sub headers {
    return [map { split /: /, $_, 2 } split /\n/,
            huawei_headers(app => 'appKeyA', secret => 'secretA')];
}

sub push_to {
    my ($uri, $body, %a) = @_;
    return $nginx->request(POST => $uri, body => $body,
                           headers => $a{signed} ? headers() : []);
}

sub stream { $redis->entries('px:cdr', db => 2) }

sub cmdstat {
    my ($name) = @_;
    my $info = $redis->cmd('INFO', 'commandstats');
    return $info =~ /^cmdstat_$name:calls=(\d+)/m ? $1 : 0;
}

# --- a signed push of 50 records ------------------------------------------

my $push50 = fee_push(n => 50, tag => 'm');
my $res = push_to('/cdr', $push50, signed => 1);
is $res->code, 200, 'a signed 50-record push is acknowledged';
is $res->content, '{}', 'in Huawei\'s shape';

my @e = stream();
is scalar(@e), 50, '50 stream entries';
is_deeply [sort keys %{ $e[0][1] }], [qw(app dialect key line)],
    'an entry has line, key, dialect and app';
is_deeply [grep { $_->[1]{dialect} ne 'huawei' || $_->[1]{app} ne 'appKeyA' }
           @e], [], 'dialect huawei, app appKeyA';
like $e[0][1]{line},
    qr/\A\{"dialect":"huawei","type":"cdr","app":"appKeyA","key":"huawei\/appKeyA\/1200_m_1\@callenabler\.example\/0\/icid-m-1","received":"[^"]+","record":\{"appKey":"appKeyA".*"userData":"用户1"\}\}\z/,
    'line is the NDJSON line of the other sinks';
is_deeply [grep { index($_->[1]{line}, "\"key\":\"$_->[1]{key}\"") < 0 } @e],
    [], 'key is the line\'s key';
my %icids = map { $_->[1]{line} =~ /"icid":"(icid-m-\d+)"/ ? ($1 => 1) : () }
    @e;
is scalar(keys %icids), 50, 'every record once, in push order'
    and is $e[49][1]{line} =~ /icid-m-50"/ ? 1 : 0, 1, 'the last one last';

my $keys = $redis->cmd('db', 2, 'KEYS', 'provision_x:seen:*');
is scalar(@$keys), 50, '50 dedup keys under the default prefix';
like $keys->[0], qr/\Aprovision_x:seen:[0-9a-f]{32}\z/,
    'a dedup key is the prefix and 32 hex digits';
my $ttl = $redis->cmd('db', 2, 'TTL', $keys->[0]);
ok $ttl > 86000 && $ttl <= 86400, "dedup key TTL 24h ($ttl)";
is $redis->cmd('db', 0, 'DBSIZE'), 0, 'nothing in db 0: SELECT 2 was used';

is cmdstat('eval'), 1, 'the first push loaded the script with EVAL';

# --- the identical retry and a new push --------------------------------------

$res = push_to('/cdr', $push50, signed => 1);
is $res->code, 200, 'the byte-identical retry is acknowledged';
is scalar(stream()), 50, 'and writes nothing';

$res = push_to('/cdr', fee_push(n => 3, tag => 'n'), signed => 1);
is $res->code, 200, 'a second push';
is scalar(stream()), 53, 'adds its 3 records';
is cmdstat('eval'), 1, 'by EVALSHA: the script stays loaded';
ok cmdstat('evalsha') >= 2, 'EVALSHA calls counted';

# --- Redis decides when the local zone cannot --------------------------------

$res = push_to('/cdr-shared', fee_push(
    records => [map { fee_record('m', $_) } 41 .. 60]), signed => 1);
is $res->code, 200, 'an overlapping push without a local dedup zone';
@e = stream();
is scalar(@e), 63, 'only its 10 new records were written';
is scalar(grep { $_->[1]{line} =~ /icid-m-(?:4[1-9]|50)"/ } @e), 10,
    'records 41-50 still once each';
# The access log is written when the request is freed, which under a
# lingering close comes after the client has read the whole answer.
my $counts = '';
for (1 .. 100) {
    $counts = do {
        local $/;
        open my $in, '<', $nginx->prefix . '/logs/counts.log' or die $!;
        <$in> // '';
    };
    last if $counts =~ /\n/;
    select undef, undef, undef, 0.05;
}
is $counts, "records=10 duplicates=10\n",
    'the variables count what Redis found known as duplicates';

# --- keepalive ---------------------------------------------------------------

sub connections {
    my $info = $redis->cmd('INFO', 'stats');
    return $info =~ /^total_connections_received:(\d+)/m ? $1 : -1;
}

my $conns = connections();
for my $i (1 .. 10) {
    push_to('/cdr-shared', fee_push(n => 1, tag => "ka$i"), signed => 1);
}
# one for the INFO call itself, at most one more for nginx
cmp_ok connections() - $conns, '<=', 2,
    '10 pushes, one after the other, share a kept-alive connection';

# --- SCRIPT FLUSH: NOSCRIPT, then EVAL ---------------------------------------

$redis->cmd('SCRIPT', 'FLUSH');
my $flushed = length $nginx->error_log;
$res = push_to('/cdr', fee_push(n => 2, tag => 'f'), signed => 1);
is $res->code, 200, 'a push after SCRIPT FLUSH';
like substr($nginx->error_log, $flushed),
    qr/\[info\].*redis does not know the sink script yet, sending it with EVAL/,
    'the log tells why the script is sent';
is scalar(stream()), 75, 'is written once';
is cmdstat('eval'), 2, 'by EVAL after NOSCRIPT';

# --- Aliyun -------------------------------------------------------------------

$res = push_to('/cdr-aliyun', report_push(n => 2, tag => 'al'));
is $res->code, 200, 'an Aliyun push';
is $res->content, '{"code":0,"msg":"接收成功"}', 'in Aliyun\'s shape'
    or diag $res->content;
my @al = grep { $_->[1]{dialect} eq 'aliyun' } stream();
is scalar(@al), 2, 'two aliyun entries';
is $al[0][1]{app}, 'FC100000123', 'app is the pool key without verification';
is $al[0][1]{key}, 'aliyun/pool_key/FC100000123/call-al-1', 'aliyun key';

# --- wrong password -----------------------------------------------------------

my $before = length $nginx->error_log;
$res = push_to('/cdr-wrong-password', fee_push(n => 2, tag => 'pw'));
is $res->code, 502, 'a wrong password: 502';
is $res->content, '{"resultcode":"502","resultdesc":"hand-off failed"}',
    'hand-off failed';
my $log = substr $nginx->error_log, $before;
like $log, qr/\[error\].*provision_x: redis AUTH failed: WRONGPASS/,
    'the log names the AUTH failure';
unlike $nginx->error_log, qr/other-secret|\Q$password\E/,
    'no password in the log';
is scalar(stream()), 77, 'nothing written';

# --- Redis stopped, restarted --------------------------------------------------

my $push7 = fee_push(n => 7, tag => 'down');
$redis->stop;
$res = push_to('/cdr', $push7, signed => 1);
is $res->code, 502, 'Redis stopped: 502';
like substr($nginx->error_log, $before), qr/CDR redis answered 502, 7 records not acknowledged/,
    'the log says nothing was acknowledged';

$redis->start;
is $redis->cmd('db', 2, 'XLEN', 'px:cdr'), 0, 'the restarted Redis is empty';
$res = push_to('/cdr', $push7, signed => 1);
is $res->code, 200, 'the retry after the restart is acknowledged';
$res = push_to('/cdr', $push7, signed => 1);
is $res->code, 200, 'and so is another retry';
is scalar(stream()), 7, 'each of the 7 records written exactly once';

# --- Redis slow: 502, and the retry writes once -----------------------------

# the hand-off histogram of the Redis sink: (le 0.25 s, +Inf)
sub redis_latency {
    my $text = $nginx->request(GET => '/status?format=prometheus',
        headers => [Authorization => 'Bearer consumer-key-one-7f3a9c'])
        ->content;
    return map {
        my $series = 'provision_x_cdr_hand_off_duration_seconds_bucket'
            . qq({dialect="huawei",sink="redis",le="$_"});
        $text =~ /^\Q$series\E (\d+)$/m ? $1 : undef;
    } '0.25', '+Inf';
}

my $push4 = fee_push(n => 4, tag => 'slow');
my @latency = redis_latency();
$redis->cmd('CLIENT', 'PAUSE', 1500, 'WRITE');
$res = push_to('/cdr-slow', $push4);
is $res->code, 502, 'Redis slower than the read timeout: 502';
my @slow = redis_latency();
is $slow[1] - $latency[1], 1, 'the hand-off histogram counted it';
is $slow[0], $latency[0], 'above 0.25 s: the 300 ms read timeout';
like substr($nginx->error_log, $before), qr/upstream timed out/,
    'nginx logs the timeout';
sleep 2;
# Redis drops a paused command whose client went away, or runs it late
my $n = scalar(stream());
ok $n == 7 || $n == 11, "the timed-out write ran at most once ($n)";
$res = push_to('/cdr-slow', $push4);
is $res->code, 200, 'the platform\'s retry is acknowledged';
$res = push_to('/cdr-slow', $push4);
is scalar(stream()), 11, 'each record written exactly once';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
