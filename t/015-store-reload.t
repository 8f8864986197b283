# The nonce and dedup stores across reloads, with two workers: a resize
# carries every live entry over (replays stay refused) and says so; a
# resize they do not fit into is refused; a zone may not change kind; a
# zone fills up to a warning and then refuses, and one app cannot take
# more than its share of it; entries expire in a resized zone as in any.

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

my $apps = <<"_EOC_";
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app appKeyC secret=$secrets/huawei-c.key;
    provision_x_api_key $secrets/api-a.key;
    provision_x_queue_zone zone=q:1m;
_EOC_

sub http_conf {
    my (%a) = @_;
    my $nonces = $a{nonces} // 'provision_x_nonce_zone zone=nonces:1m;';
    my $dedup = $a{dedup} // 'provision_x_dedup_zone zone=dedup:1m ttl=1h;';
    my $small = $a{small}
        // 'provision_x_nonce_zone zone=small:32k max_share=50%;';
    return "$apps    $nonces\n    $dedup\n    $small\n";
}

my $server = <<'_EOC_';
        location = /hw {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_clock past=3s future=3s;
            return 200 "ok\n";
        }
        location = /hw-long {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_clock past=1h future=1h;
            return 200 "ok\n";
        }
        location = /hw-small {
            provision_x_verify huawei;
            provision_x_nonce small;
            provision_x_clock past=1h future=1h;
            return 200 "ok\n";
        }
        location = /cdr { provision_x_cdr huawei queue=q dedup=dedup; }
        location = /status { provision_x_status; }
_EOC_

my $nginx = PXNginx->new(name => 'store-reload', workers => 2,
                         http => http_conf(), server => $server);
ok $nginx->start, 'nginx starts with two workers'
    or BAIL_OUT($nginx->error_log);

my $json = JSON::PP->new;

sub signed {
    my (%a) = @_;
    my $app = delete $a{app} // 'appKeyA';
    my $secret = $app eq 'appKeyA' ? 'secretA' : 's3cr3t/+=&~';
    my $h = huawei_headers(app => $app, secret => $secret, %a);
    return [map { split /: /, $_, 2 } split /\n/, $h];
}

sub zone {
    my ($name) = @_;
    my $res = $nginx->request(GET => '/status', headers => consumer_auth());
    my $status = eval { $json->decode($res->content) } or return {};
    my ($z) = grep { $_->{zone} eq $name } @{ $status->{zones} };
    return $z // {};
}

# ---- a resize carries what the zone remembers ----

my $short = signed();
my $long = signed();
is $nginx->request(GET => '/hw', headers => $short)->code, 200,
    'a nonce kept 3 s';
is $nginx->request(GET => '/hw-long', headers => $long)->code, 200,
    'a nonce kept 1 h';
is $nginx->request(POST => '/cdr', body => fee_push(tag => 'r', n => 5))->code,
    200, 'five records remembered by the dedup zone';
is zone('nonces')->{entries}, 2, 'the nonce zone holds 2';

my $log = length $nginx->error_log;
ok $nginx->reload(http => http_conf(
        nonces => 'provision_x_nonce_zone zone=nonces:2m;',
        dedup  => 'provision_x_dedup_zone zone=dedup:2m ttl=1h;')),
    'a reload doubles both zones';
my $reload_log = substr $nginx->error_log, $log;
like $reload_log,
    qr/nonce zone "nonces" resized to \d+ bytes; 2 entries carried over/,
    'the nonce zone says what it carried';
like $reload_log,
    qr/dedup zone "dedup" resized to \d+ bytes; 6 entries carried over/,
    'so does the dedup zone (5 keys and a body)';

my $z = zone('nonces');
cmp_ok $z->{capacity}, '>', 80000, 'the zone is the new, bigger one';
is $z->{entries}, 2, 'with both entries';

for (1 .. 4) {
    is $nginx->request(GET => '/hw-long', headers => $long)->code, 403,
        "a replay after the resize is refused ($_)";
}
is $nginx->request(POST => '/cdr', body => fee_push(tag => 'r', n => 5))->code,
    200, 'the same push again';
my $status = $json->decode(
    $nginx->request(GET => '/status', headers => consumer_auth())->content);
is $status->{queues}[0]{depth}, 5, 'is a duplicate: nothing more queued';

# ---- entries expire in the resized zone ----

sleep 4;
is zone('nonces')->{entries}, 1, 'the 3 s nonce expired in the new zone';
for (1 .. 6) {
    is $nginx->request(GET => '/hw', headers => signed())->code, 200,
        "traffic after it ($_)";
}
is $nginx->request(GET => '/hw-long', headers => $long)->code, 403,
    'the 1 h one is still refused';

# ---- refused reloads: a kind change, a shrink the entries do not fit ----

ok $nginx->reload_refused(
        http => http_conf(nonces => 'provision_x_dedup_zone zone=nonces:2m;'),
        server => '        location = /status { provision_x_status; }'),
    'a nonce zone redeclared as a dedup zone is refused';
like $nginx->error_log,
    qr/\[emerg\].*zone "nonces" is a dedup zone, while previously it was a nonce zone/,
    'saying why';
is $nginx->request(GET => '/hw-long', headers => $long)->code, 403,
    'the old zone still serves';

for my $tag (1 .. 30) {
    $nginx->request(POST => '/cdr', body => fee_push(tag => "fill$tag", n => 50));
}
cmp_ok zone('dedup')->{entries}, '>', 1500, 'the dedup zone holds 1500+ keys';

ok $nginx->reload_refused(
        http => http_conf(
            nonces => 'provision_x_nonce_zone zone=nonces:2m;',
            dedup  => 'provision_x_dedup_zone zone=dedup:32k ttl=1h;'),
        server => $server),
    'a shrink they cannot fit into is refused';
like $nginx->error_log,
    qr/\[emerg\].*dedup zone "dedup" holds \d+ live entries that do not fit its new size/,
    'saying why';
is $nginx->request(POST => '/cdr', body => fee_push(tag => 'r', n => 5))->code,
    200, 'the old dedup zone still serves';
$status = $json->decode(
    $nginx->request(GET => '/status', headers => consumer_auth())->content);
is $status->{queues}[0]{depth}, 5 + 1500, 'and still knows its keys';

# ---- a full zone warns, and one app cannot take it all ----

my $small = zone('small');
my $share = int($small->{capacity} / 2);
is $small->{max_share}, 50, 'the small zone gives each app half';

my ($count_a, $refused_a) = (0, undef);
for (1 .. $small->{capacity}) {
    my $res = $nginx->request(GET => '/hw-small', headers => signed());
    if ($res->code != 200) {
        $refused_a = $res;
        last;
    }
    $count_a++;
}
ok $refused_a, 'app A is refused at some point';
is $refused_a && $refused_a->code, 503, 'with 503';
is $refused_a && $refused_a->header('Retry-After'), '1', 'and Retry-After';
is $count_a, $share, 'after exactly its share';
like $nginx->error_log,
    qr/nonce_store_full \(app "appKeyA"\), app holds its share of zone "small"/,
    'the log says it is the share';

my ($count_c, $refused_c) = (0, undef);
for (1 .. $small->{capacity}) {
    my $res = $nginx->request(GET => '/hw-small',
                              headers => signed(app => 'appKeyC'));
    if ($res->code != 200) {
        $refused_c = $res;
        last;
    }
    $count_c++;
}
cmp_ok $count_c, '>=', int($share * 0.8), 'app C still had room';
like $nginx->error_log,
    qr/\[warn\].*nonce zone "small" is (8|9|10)\d% full \(\d+ of \d+ entries\)/,
    'the zone warned when it was 80 % full';
my @warnings = $nginx->error_log =~ /nonce zone "small" is \d+% full/g;
is scalar(@warnings), 1, 'once (a minute at most)';

$small = zone('small');
is_deeply [sort map { $_->{app} } @{ $small->{apps} }], ['appKeyA', 'appKeyC'],
    'the status page shows both apps in the zone';
cmp_ok $small->{fill}, '>=', 0.8, 'and its fill';
cmp_ok $small->{refused_share}, '>=', 1, 'and the refusals by share';

$nginx->stop;
unlike $nginx->error_log, qr/exited on signal|\[(alert|crit)\]/,
    'no worker died, no alert';

done_testing();
