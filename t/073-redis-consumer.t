# A consumer group reads and acknowledges what the gateway wrote, with the
# example consumer (examples/redis_consumer.py) and Redis's own commands:
# every entry is delivered, entries a dead consumer left pending are
# delivered again, and once acknowledged nothing is pending; CDRs and
# events of one stream reach it alike, each line naming its type.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXEvents;
use PXNginx;
use PXRedis;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";
my $consumer = "$FindBin::Bin/../examples/redis_consumer.py";

my $redis = PXRedis->new(name => 'consumer',
                         password => 'redis-test-password-7f3a');
$redis->start;
my $rport = $redis->port;

my $nginx = PXNginx->new(name => 'redis-consumer', http => <<"_EOC_",
    upstream px_redis { server 127.0.0.1:$rport; }
_EOC_
    server => <<"_EOC_");
        location = /cdr {
            provision_x_cdr huawei redis=/_redis;
        }
        location = /events {
            provision_x_receive huawei types=numStatus,disconnect
                                redis=/_redis;
        }
        location = /_redis {
            internal;
            provision_x_redis_password_file $secrets/redis.key;
            provision_x_redis_db 1;
            provision_x_redis_pass px_redis;
        }
_EOC_
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

sub consume {
    my (@args) = @_;
    my @cmd = ('python3', $consumer, '--port', $rport, '--db', 1,
               '--password-file', "$secrets/redis.key", '--group', 'billing',
               '--once', @args);
    open my $out, '-|', @cmd or die "python3: $!";
    my @lines = <$out>;
    close $out;
    is $?, 0, "consumer @args exits 0";
    return @lines;
}

for my $tag (qw(a b c)) {
    my $res = $nginx->request(POST => '/cdr',
                              body => fee_push(n => 4, tag => $tag));
    is $res->code, 200, "push $tag acknowledged";
}

# a consumer that reads three entries and dies before acknowledging them
$redis->cmd('db', 1, 'XGROUP', 'CREATE', 'provision_x:cdr', 'billing', '0');
my $taken = $redis->cmd('db', 1, 'XREADGROUP', 'GROUP', 'billing', 'dead',
                        'COUNT', 3, 'STREAMS', 'provision_x:cdr', '>');
is scalar(@{ $taken->[0][1] }), 3, 'a consumer took 3 entries and died';

my @lines = consume('--consumer', 'alive', '--claim-idle', 0);
is scalar(@lines), 12, 'the example consumer delivered all 12 entries';
my %icids = map { /"icid":"(icid-[abc]-\d)"/ ? ($1 => 1) : () } @lines;
is scalar(keys %icids), 12, 'each record once, the dead one\'s included';
like $lines[0], qr/\A\{"dialect":"huawei","type":"cdr","app":"appKeyA","key":"huawei\//,
    'it prints the NDJSON line';

my $pending = $redis->cmd('db', 1, 'XPENDING', 'provision_x:cdr', 'billing');
is $pending->[0], 0, 'nothing is pending: everything was acknowledged';

is scalar(consume('--consumer', 'alive')), 0,
    'a second run finds nothing new';

my $res = $nginx->request(POST => '/cdr', body => fee_push(n => 2, tag => 'd'));
is $res->code, 200, 'a later push';
@lines = consume('--consumer', 'other');
is scalar(@lines), 2, 'another consumer of the group gets just the new two';

$res = $nginx->request(POST => '/events', body => event_push('numStatus',
    map { event_record('numStatus', 'e', $_) } 1 .. 2));
is $res->code, 200, 'number status to the same stream';
$res = $nginx->request(POST => '/events', body => event_push('disconnect',
    event_record('disconnect', 'e', 1)));
is $res->code, 200, 'and a call event';
$res = $nginx->request(POST => '/cdr', body => fee_push(n => 1, tag => 'e'));
is $res->code, 200, 'and a CDR';
@lines = consume('--consumer', 'other');
is_deeply [map { /"type":"(\w+)"/ ? $1 : '?' } @lines],
    [qw(numStatus numStatus disconnect cdr)],
    'the consumer gets them all, in order, each naming its type';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg|error)\]/, 'no errors';

done_testing();
