# TLS to Redis through nginx's upstream SSL: a verified connection writes,
# a certificate for another name or a server without TLS answers 502, and
# pushes share a kept-alive TLS connection.  The certificates are made
# here, with the openssl command.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Temp qw(tempdir);
use Test::More;

use PXNginx;
use PXRedis;
use PXSign;

my $pki = tempdir(CLEANUP => 1);

open my $ext, '>', "$pki/ext.cnf" or die $!;
print $ext "subjectAltName = DNS:redis.test\n";
close $ext;
for my $cmd (
    "req -x509 -newkey rsa:2048 -nodes -keyout $pki/ca.key -out $pki/ca.crt "
        . "-days 2 -subj /CN=px-test-ca",
    "req -newkey rsa:2048 -nodes -keyout $pki/redis.key -out $pki/redis.csr "
        . "-subj /CN=redis.test",
    "x509 -req -in $pki/redis.csr -CA $pki/ca.crt -CAkey $pki/ca.key "
        . "-CAcreateserial -out $pki/redis.crt -days 2 -extfile $pki/ext.cnf",
) {
    system("openssl $cmd >/dev/null 2>&1") == 0 or die "openssl $cmd failed\n";
}

my $redis = PXRedis->new(name => 'tls', tls => {
    cert => "$pki/redis.crt", key => "$pki/redis.key", ca => "$pki/ca.crt"});
$redis->start;
my ($plain, $tls) = ($redis->port, $redis->tls_port);

my $nginx = PXNginx->new(name => 'redis-tls', http => <<"_EOC_",
    upstream redis_tls {
        server 127.0.0.1:$tls;
        keepalive 4;
    }
    provision_x_redis_ssl_trusted_certificate $pki/ca.crt;
_EOC_
    server => <<"_EOC_");
        location = /cdr {
            provision_x_cdr huawei redis=/_redis;
        }
        location = /_redis {
            internal;
            provision_x_redis_ssl on;
            provision_x_redis_ssl_name redis.test;
            provision_x_redis_ssl_server_name on;
            provision_x_redis_pass redis_tls;
        }
        location = /cdr-db {
            provision_x_cdr huawei redis=/_redis_db;
        }
        location = /_redis_db {
            internal;
            provision_x_redis_ssl on;
            provision_x_redis_ssl_name redis.test;
            provision_x_redis_db 4;
            provision_x_redis_pass redis_tls;
        }
        location = /cdr-wrong-name {
            provision_x_cdr huawei redis=/_redis_wrong_name;
        }
        location = /_redis_wrong_name {
            internal;
            provision_x_redis_ssl on;
            provision_x_redis_ssl_name other.test;
            provision_x_redis_pass 127.0.0.1:$tls;
        }
        location = /cdr-plain-server {
            provision_x_cdr huawei redis=/_redis_plain_server;
        }
        location = /_redis_plain_server {
            internal;
            provision_x_redis_ssl on;
            provision_x_redis_ssl_verify off;
            provision_x_redis_pass 127.0.0.1:$plain;
        }
_EOC_
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

sub post { $nginx->request(POST => $_[0], body => $_[1]) }
sub since { substr $nginx->error_log, $_[0] }
sub connections {
    my $info = $redis->cmd('INFO', 'stats');
    return $info =~ /^total_connections_received:(\d+)/m ? $1 : -1;
}

my $res = post('/cdr', fee_push(n => 5, tag => 'tls'));
is $res->code, 200, 'a push over verified TLS, with SNI';
is $redis->cmd('XLEN', 'provision_x:cdr'), 5, 'is written';

my $conns = connections();
for my $i (1 .. 5) {
    post('/cdr', fee_push(n => 1, tag => "ka$i"));
}
cmp_ok connections() - $conns, '<=', 2, 'pushes share a kept-alive TLS '
    . 'connection';
is $redis->cmd('XLEN', 'provision_x:cdr'), 10, 'all written';

# with SELECT the script is written after the preamble's replies, on the
# same TLS connection; the largest push makes that write a long one
for my $i (1 .. 3) {
    $res = post('/cdr-db', fee_push(n => 50, tag => "db$i"));
    is $res->code, 200, "a push selecting database 4 over TLS ($i)";
}
is $redis->cmd(db => 4, 'XLEN', 'provision_x:cdr'), 150, 'is written there';

my $mark = length $nginx->error_log;
$res = post('/cdr-wrong-name', fee_push(n => 2, tag => 'wn'));
is $res->code, 502, 'a certificate for another name: 502';
like since($mark), qr/upstream SSL certificate does not match "other\.test"/,
    'nginx says the certificate does not match';

$mark = length $nginx->error_log;
$res = post('/cdr-plain-server', fee_push(n => 2, tag => 'ps'));
is $res->code, 502, 'a server without TLS: 502';
like since($mark), qr/\[error\].* while SSL handshaking to upstream/,
    'the handshake fails (Redis waits for a command, nginx times out)';
is $redis->cmd('XLEN', 'provision_x:cdr'), 10, 'nothing else written';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
