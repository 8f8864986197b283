# The nonce and dedup stores across time, with two workers and windows of
# seconds: entries expire (the first expiry used to corrupt the zone and
# crash every later callback), expired slots are used again, a replay is
# still refused after expiries, Beijing-time nonces are kept 8 h longer,
# dedup keys are forgotten after their TTL, and traffic goes on after all
# of it without a worker dying.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);

use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(
    name    => 'store-expiry',
    workers => 2,
    http    => <<"_EOC_",
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=2s;
    provision_x_queue_zone zone=q:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_',
        location = /hw {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_clock past=2s future=2s;
            add_header X-Worker $pid always;
            return 200 "ok\n";
        }
        location = /cdr {
            provision_x_cdr huawei queue=q dedup=dedup;
            add_header X-Worker $pid always;
        }
        location = /status { provision_x_status; }
        location /queue { provision_x_queue_consume q; }
_EOC_
);

ok $nginx->start, 'nginx starts with two workers'
    or BAIL_OUT($nginx->error_log);

my $json = JSON::PP->new;

sub headers_of {
    return [map { split /: /, $_, 2 } split /\n/, $_[0]];
}

sub signed {
    my (%a) = @_;
    return headers_of(huawei_headers(app => 'appKeyA', secret => 'secretA',
                                     %a));
}

sub callback {
    my ($headers) = @_;
    return $nginx->request(GET => '/hw', headers => $headers);
}

sub zone {
    my ($name) = @_;
    my $res = $nginx->request(GET => '/status', headers => consumer_auth());
    my $status = eval { $json->decode($res->content) } or return {};
    my ($z) = grep { $_->{zone} eq $name } @{ $status->{zones} };
    return $z // {};
}

sub queue_depth {
    my $res = $nginx->request(GET => '/status', headers => consumer_auth());
    my $status = eval { $json->decode($res->content) } or return -1;
    return $status->{queues}[0]{depth};
}

# Fresh callbacks on new connections until both workers answered; every
# one must pass.
sub traffic {
    my ($what) = @_;
    my (%workers, @codes);
    for (1 .. 40) {
        my $res = callback(signed());
        push @codes, $res->code;
        $workers{ $res->header('X-Worker') // '' }++;
        last if @codes >= 6 && keys %workers == 2;
    }
    is_deeply [grep { $_ != 200 } @codes], [], "$what: every callback passes";
    is scalar(keys %workers), 2, "$what: on both workers";
}

# ---- nonces expire, and the store goes on working ----

my $utc = 0;
my $old = signed(created => utc_stamp(-1));
is callback($old)->code, 200, 'a callback 1 s old passes (kept 2 s more)';
$utc++;

# UTC and Beijing entries interleaved: a Beijing "Created" is 8 h ahead
my (@beijing, @nonces);
for my $i (1 .. 5) {
    my $n = fresh_nonce();
    push @nonces, $n;
    is callback(signed(nonce => $n))->code, 200, "UTC callback $i";
    $utc++;
    my $b = signed(created => utc_stamp(8 * 3600));
    push @beijing, $b;
    is callback($b)->code, 200, "Beijing-time callback $i";
}

is zone('nonces')->{entries}, $utc + 5, 'the zone counts them all';

sleep 3.5;    # past every UTC entry's expiry

my $z = zone('nonces');
is $z->{entries}, 5, 'only the Beijing-time nonces are still kept'
    or diag explain $z;
is_deeply $z->{apps}, [{app => 'appKeyA', entries => 5}], 'all of one app';

traffic('after the first expiry');

# an expired nonce may come again with a fresh timestamp, once
my $again = signed(nonce => $nonces[0]);
is callback($again)->code, 200, 'a nonce whose entry expired is accepted anew';
my $res = callback($again);
is $res->code, 403, 'and its replay is refused';
like $res->content, qr/1023034|nonce/i, 'as a replayed nonce';

# the Beijing ones cannot come back within their time, in either reading
for my $b (@beijing[0, 1]) {
    is callback($b)->code, 403, 'a Beijing-time header is still refused';
}

sleep 3;      # a second expiry cycle
traffic('after the second expiry');

unlike $nginx->error_log, qr/exited on signal|\[alert\]/,
    'no worker died, no alert';

# ---- dedup keys are forgotten after their TTL ----

my @records = map { fee_record('ttl', $_) } 1 .. 3;
my $push = fee_push(records => \@records);
my $reordered = fee_push(records => [reverse @records]);

is $nginx->request(POST => '/cdr', body => $push)->code, 200, 'a push';
is queue_depth(), 3, 'its three records are queued';
is $nginx->request(POST => '/cdr', body => $push)->code, 200,
    'the same push again';
is $nginx->request(POST => '/cdr', body => $reordered)->code, 200,
    'the same records in another body';
is queue_depth(), 3, 'are duplicates within the TTL';

sleep 3;      # past the dedup TTL of 2 s

for (1 .. 4) {
    is $nginx->request(POST => '/cdr', body => fee_push(tag => "n$_", n => 2))
        ->code, 200, "new records after the TTL ($_)";
}
is $nginx->request(POST => '/cdr', body => $push)->code, 200,
    'the first push after its TTL';
is queue_depth(), 3 + 8 + 3, 'is handed off again: its keys were forgotten';
is $nginx->request(POST => '/cdr', body => $push)->code, 200,
    'and once more';
is queue_depth(), 14, 'which is a duplicate again';

my @lines = lease_all($nginx, '/queue');
is scalar(@lines), 14, 'every queued record can be leased';

$nginx->stop;
unlike $nginx->error_log, qr/exited on signal|\[(alert|crit|emerg)\]/,
    'no worker died, no alert';

done_testing();
