# A signature speaks for one app: a Huawei record whose appKey is not the
# app that signed the push is dead-lettered with its reason and counted,
# never handed off or marked seen, and the rest of the push goes on; so
# app A can neither forge app C's CDRs nor suppress C's genuine ones by
# taking their dedup keys first.  Aliyun receivers (unsigned) can name the
# pool_key/partner_key values they accept (tenants=), with the same
# treatment for the others.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::More;

use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'cdr-app-binding', workers => 2);
ok $nginx->start(http => <<"_EOC_", server => <<'_EOC_'), 'nginx starts'
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app appKeyC secret=$secrets/huawei-c.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_dedup_zone zone=ali_dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:1m;
    provision_x_queue_zone zone=ali_q:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
        location = /cdr {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_cdr huawei queue=q dedup=dedup;
            provision_x_dead_letter logs/dead.ndjson;
        }
        location = /ali-cdr {
            provision_x_cdr aliyun queue=ali_q dedup=ali_dedup
                            tenants=FC100000123,FC100000456;
            provision_x_dead_letter logs/dead-ali.ndjson;
        }
        location = /status { provision_x_status; }
        location /queue { provision_x_queue_consume q; }
        location /ali-queue { provision_x_queue_consume ali_q; }
_EOC_
    or BAIL_OUT($nginx->error_log);

my $json = JSON::PP->new;

sub as {
    my ($app) = @_;
    my $secret = $app eq 'appKeyA' ? 'secretA' : 's3cr3t/+=&~';
    return [map { split /: /, $_, 2 } split /\n/,
            huawei_headers(app => $app, secret => $secret)];
}

sub lines_of {
    my ($file) = @_;
    open my $fh, '<', $nginx->prefix . "/logs/$file" or return ();
    return <$fh>;
}

my $session = '1200_bind_1@callenabler.example';
my $forged = fee_record('bind', 1, appKey => 'appKeyC',
                        sessionId => $session, callerNum => '+8600000000000');
my $genuine = fee_record('bind', 1, appKey => 'appKeyC',
                         sessionId => $session, callerNum => '+8613811112222');

my $res = $nginx->request(POST => '/cdr', headers => as('appKeyA'),
                          body => fee_push(records => [$forged]));
is $res->code, 200, "app A's push of a record that says app C is acknowledged";
my @dead = lines_of('dead.ndjson');
is scalar(@dead), 1, '... and the record is dead-lettered';
like $dead[0], qr/"error":"field \\"appKey\\" is not the app that signed the push"/,
    '... saying why';
like $nginx->error_log, qr/dead-lettered huawei CDR record 0: field "appKey" is not the app that signed the push/,
    '... in the log too';

$res = $nginx->request(POST => '/cdr', headers => as('appKeyC'),
                       body => fee_push(records => [$genuine]));
is $res->code, 200, "app C's genuine record with the same session";
my @got = lease_all($nginx, '/queue');
is scalar(@got), 1, 'is handed off: A did not take its dedup key';
like $got[0], qr/"app":"appKeyC".*"callerNum":"\+8613811112222"/,
    '... as C\'s, with C\'s content';

$res = $nginx->request(POST => '/cdr', headers => as('appKeyA'),
                       body => fee_push(records => [fee_record('mix', 1),
                           fee_record('mix', 2, appKey => 'appKeyC')]));
is $res->code, 200, 'a push with one own and one foreign record';
@got = lease_all($nginx, '/queue');
is scalar(@got), 1, 'the own record goes on';
like $got[0], qr/icid-mix-1/, '... that one';
@dead = lines_of('dead.ndjson');
is scalar(@dead), 2, 'the foreign one is dead-lettered';

my $status = $json->decode(
    $nginx->request(GET => '/status', headers => consumer_auth())->content);
is $status->{cdr}{huawei}{dead_lettered}, 2, 'and counted';

# The same bytes signed by another app are another push: A's push of C's
# record (dead-lettered) does not make C's byte-identical push a retry.
my $same = fee_push(records => [fee_record('same', 1, appKey => 'appKeyC')]);
$res = $nginx->request(POST => '/cdr', headers => as('appKeyA'),
                       body => $same);
is $res->code, 200, "app A sends the bytes of app C's next push";
@dead = lines_of('dead.ndjson');
is scalar(@dead), 3, '... its record is dead-lettered';
$res = $nginx->request(POST => '/cdr', headers => as('appKeyC'),
                       body => $same);
is $res->code, 200, 'app C sends the same bytes';
@got = lease_all($nginx, '/queue');
is scalar(@got), 1, '... handed off, not taken for a retry of A\'s push';
like $got[0], qr/"app":"appKeyC".*icid-same-1/, '... as C\'s record';

# ---- Aliyun: tenants= ----

my $report = sub {
    my ($id, $pool) = @_;
    return qq({"id":$id,"pool_key":"$pool","sub_id":$id,"call_id":"call-t-$id",)
        . qq("call_type":0});
};
$res = $nginx->request(POST => '/ali-cdr', body => '['
    . join(',', $report->(1, 'FC100000123'), $report->(2, 'FC999999999'),
           $report->(3, 'FC100000456')) . ']');
is $res->code, 200, 'an Aliyun push with one record of another pool';
@got = map { /"call_id":"(call-t-\d+)"/ ? $1 : () }
    lease_all($nginx, '/ali-queue');
is_deeply [sort @got], ['call-t-1', 'call-t-3'], 'the listed tenants go on';
@dead = lines_of('dead-ali.ndjson');
is scalar(@dead), 1, 'the other is dead-lettered';
like $dead[0], qr/"error":"field \\"pool_key\\" is not an allowed tenant".*call-t-2/,
    '... saying which field';

$nginx->stop;

done_testing();
