# The nonce store is shared by all workers, survives a reload, and fails
# closed when full: it refuses new nonces with 503 rather than forgetting
# one that could still be replayed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXNginx;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $http = <<"_EOC_";
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app ali secret=$secrets/aliyun.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_nonce_zone zone=tiny:32k;
_EOC_

my $server = <<'_EOC_';
        location = /hw {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            add_header X-Worker $pid always;
            proxy_pass http://127.0.0.1:$server_port/ok;
        }
        location = /ali {
            provision_x_verify aliyun;
            provision_x_nonce tiny;
            proxy_pass http://127.0.0.1:$server_port/ok;
        }
        location = /ok { return 200 "ok\n"; }
_EOC_

my $nginx = PXNginx->new(name => 'nonce', workers => 2, http => $http,
                         server => $server);

ok $nginx->start, 'nginx starts with two workers'
    or BAIL_OUT($nginx->error_log);

sub headers_of {
    my ($text) = @_;
    return [map { split /: /, $_, 2 } split /\n/, $text];
}

# ---- one nonce, many connections, two workers ----

my $signed = headers_of(huawei_headers(app => 'appKeyA', secret => 'secretA'));
my (%workers, @codes);

# new connections until both workers have answered (bounded)
for (1 .. 60) {
    my $res = $nginx->request(GET => '/hw', headers => $signed);
    push @codes, $res->code;
    $workers{ $res->header('X-Worker') // '' }++;
    last if @codes >= 6 && keys %workers == 2;
}

is $codes[0], 200, 'the first use of a nonce passes';
is_deeply [@codes[1 .. $#codes]], [(403) x $#codes],
    'every replay is refused, whichever worker takes it';
cmp_ok scalar(keys %workers), '==', 2, 'both workers answered'
    or diag explain \%workers;

# ---- a reload keeps what the store remembers ----

my $before = headers_of(huawei_headers(app => 'appKeyA', secret => 'secretA'));
is $nginx->request(GET => '/hw', headers => $before)->code, 200,
    'a nonce recorded before the reload';

ok $nginx->reload(server => "$server        location = /new { return 204; }\n"),
    'nginx -s reload';
is $nginx->request(GET => '/new')->code, 204, 'the new configuration serves';

my $res = $nginx->request(GET => '/hw', headers => $before);
is $res->code, 403, 'is still refused after it';
like $res->content, qr/"resultdesc":"The nonce has been used already."/,
    'as a replay';

# ---- a full store refuses, never evicts ----

my $first = aliyun_query(secret => 'testSecret', params => {callId => 'f0'});
is $nginx->request(GET => "/ali?$first")->code, 200, 'the first nonce';

my ($full, $n);
for $n (1 .. 2000) {
    my $q = aliyun_query(secret => 'testSecret', params => {callId => "f$n"});
    $res = $nginx->request(GET => "/ali?$q");
    next if $res->code == 200;
    $full = $res;
    last;
}

ok $full, 'the 32k zone fills up' or BAIL_OUT('never full');
is $full->code, 503, 'a full store answers 503';
is $full->header('Retry-After'), '1', 'with Retry-After';
is $full->content,
    qq({"code":"ServiceUnavailable","message":"Replay protection is at capacity; retry later."}\n),
    'in the Aliyun shape';
like $nginx->error_log, qr/nonce_store_full \(app "ali"\), zone "tiny" has no room/,
    'the log names the zone';

$res = $nginx->request(GET => "/ali?$first");
is $res->code, 403, 'the first nonce is still remembered (not evicted)';
like $res->content, qr/SignatureNonceUsed/, 'and refused as a replay';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
