# A Huawei nonce accepted as Beijing time is remembered across its whole
# life, 8 hours and more, with two workers and a window of 3 s.  Its
# header ("Created" is Beijing wall-clock time, 8 h ahead of UTC) passes
# read as UTC+8 now, and the very same header is fresh read as UTC from
# 8 h - future to 8 h + past later: the zone keeps the nonce until its UTC
# reading is stale (Created read as UTC + past + 1), so a replay in those
# seconds is still refused as replayed_nonce, and the entry is gone right
# after.  That is the README's sizing of provision_x_nonce_zone: past +
# future + 1 seconds at most, 8 hours longer for a Beijing-time nonce
# (this one, stamped at the moment it is accepted, is kept 8 h + past +
# 1 s).  With the fault-injection build (make test-faults) the module's
# clock for verification and for the zones' expiry is ngx_time() plus the
# seconds in the file that PROVISION_X_CLOCK_OFFSET_FILE names; this test
# moves it across those 8 hours.  Skipped with an ordinary build.

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

plan skip_all => 'not a fault-injection build (make test-faults)'
    unless PXNginx::fault_build();

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my ($past, $future) = (3, 3);
my $beijing_offset = 8 * 3600;

my $nginx = PXNginx->new(
    name    => 'beijing-clock',
    port    => $ENV{TEST_NGINX_PORT},
    workers => 2,
    http    => <<"_EOC_",
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app appKeyC secret=$secrets/huawei-c.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<"_EOC_",
        location = /hw {
            provision_x_verify huawei;
            provision_x_nonce nonces;
            provision_x_clock past=${past}s future=${future}s;
            provision_x_huawei_beijing_time on;
            add_header X-Worker \$pid always;
            add_header X-Created \$provision_x_created always;
            return 200 "ok\\n";
        }
        location = /status { provision_x_status; }
_EOC_
);

my $clock_file = $nginx->prefix . '/clock_offset';

ok $nginx->start(main => "env PROVISION_X_CLOCK_OFFSET_FILE=$clock_file;\n"),
    'nginx starts with two workers' or BAIL_OUT($nginx->error_log);

my $json = JSON::PP->new;

# The offset of nginx's clock from the real one, in seconds.
my $offset = 0;

# Moves nginx's clock so that it reads `target` now.  Starts in the first
# half of a second, so the requests that follow see `target` or a second
# or two later, never earlier: every target below keeps that margin.
sub move_clock {
    my ($target) = @_;
    sleep 1 - (time - int time) if time - int(time) > 0.5;
    $offset = $target - int(time);
    open my $fh, '>', "$clock_file.new" or die "$clock_file.new: $!";
    print $fh "$offset\n";
    close $fh;
    rename "$clock_file.new", $clock_file or die "$clock_file: $!";
}

# The `yyyy-MM-ddTHH:mm:ssZ` form of a unix time.
sub stamp_at {
    my ($epoch) = @_;
    my @t = gmtime $epoch;
    return sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ',
        $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0];
}

sub signed {
    my (%a) = @_;
    my ($app, $secret) = $a{app} && $a{app} eq 'appKeyC'
        ? ('appKeyC', 's3cr3t/+=&~') : ('appKeyA', 'secretA');
    my $h = huawei_headers(app => $app, secret => $secret,
                           created => $a{created}
                               // stamp_at(int(time) + $offset));
    return [map { split /: /, $_, 2 } split /\n/, $h];
}

sub callback { $nginx->request(GET => '/hw', headers => $_[0]) }

# Live entries of the nonce zone held by one app (the status page counts
# live slots exactly).
sub entries_of {
    my ($app) = @_;
    my $res = $nginx->request(GET => '/status', headers => consumer_auth());
    my $status = eval { $json->decode($res->content) } or return -1;
    my ($z) = grep { $_->{zone} eq 'nonces' } @{ $status->{zones} };
    my ($a) = grep { $_->{app} eq $app } @{ $z->{apps} // [] };
    return $a ? $a->{entries} : 0;
}

# The same request on new connections until both workers answered it:
# every answer must have `code` and a body that matches `body`.
sub on_both_workers {
    my ($what, $headers, $code, $body) = @_;
    my (%workers, @bad);
    my $n = 0;
    for (1 .. 40) {
        my $res = callback(ref $headers eq 'CODE' ? $headers->() : $headers);
        $n++;
        push @bad, $res->code . ' ' . $res->content
            unless $res->code == $code && $res->content =~ $body;
        $workers{ $res->header('X-Worker') // '' }++;
        last if $n >= 4 && keys %workers == 2;
    }
    is_deeply \@bad, [], "$what: $code, every time";
    is scalar(keys %workers), 2, "$what: on both workers";
}

# Fresh callbacks, signed at nginx's (moved) now, pass on both workers.
sub traffic {
    my ($what) = @_;
    on_both_workers("$what: fresh callbacks of appKeyC",
                    sub { signed(app => 'appKeyC') }, 200, qr/^ok$/);
}

# The error log from here on.
my $mark = 0;
sub log_since_mark {
    my $log = $nginx->error_log;
    my $new = substr $log, $mark;
    $mark = length $log;
    return $new;
}

# the platform's codes: nonce used, timestamp out of the window
my $replayed = qr/^\{"resultcode":"1010002","resultdesc":"The nonce has been used already\."\}$/;
my $out_of_window = qr/"resultcode":"1010013"/;

# ---- 1. now: a Beijing-time header passes, its replay is refused ----

# on the real clock (no offset file yet)
my $t0 = int time;

# "Created" is Beijing wall-clock time: read as UTC it is 8 h ahead.
my $stamp = $t0 + $beijing_offset;
my $beijing = signed(created => stamp_at($stamp));
my $utc = signed(created => stamp_at($t0));

my $res = callback($beijing);
is $res->code, 200, 'a Beijing-time callback passes';
is $res->header('X-Created'), 'beijing', '... read as Beijing time';
$res = callback($utc);
is $res->code, 200, 'a UTC callback of the same moment passes';
is $res->header('X-Created'), 'utc', '... read as UTC';

log_since_mark();
on_both_workers('the Beijing-time replay', $beijing, 403, $replayed);
like log_since_mark(),
    qr/rejected huawei callback: replayed_nonce \(app "appKeyA"\), created=beijing/,
    '... logged as a replayed nonce read as Beijing time';
on_both_workers('the UTC replay', $utc, 403, $replayed);

is entries_of('appKeyA'), 2, 'the zone holds both nonces';

# ---- 2. past the UTC retention (past + 1 s) ----

move_clock($t0 + $past + 2);
is entries_of('appKeyA'), 1,
    'past + 2 s: the UTC nonce is forgotten, the Beijing-time one is kept';

log_since_mark();
on_both_workers('the UTC header now', $utc, 403, $out_of_window);
on_both_workers('the Beijing-time header now', $beijing, 403, $out_of_window);
my $log = log_since_mark();
like $log, qr/stale_timestamp \(app "appKeyA"\), timestamp \d+ s old, limit $past s/,
    '... the UTC header is stale';
like $log, qr/future_timestamp \(app "appKeyA"\), timestamp \d+ s ahead, limit $future s/,
    '... the Beijing-time header is stale read as Beijing time and early '
    . 'read as UTC: refused by the clock, as the UTC reading';
unlike $log, qr/replayed_nonce|rejected huawei callback: [a-z_]+ \(app "appKeyA"\).*created=/,
    '... neither reading is fresh, the nonce is not consulted';

traffic('past + 2 s');

# ---- 3. 8 h later: the same header passes the clock read as UTC ----

move_clock($stamp - $future - 3);
on_both_workers('8 h - future - 3 s: the Beijing-time header', $beijing, 403,
                $out_of_window);
like log_since_mark(), qr/future_timestamp \(app "appKeyA"\)/,
    '... still early read as UTC';

# From stamp - future on, read as UTC, the header is fresh: only the
# remembered nonce refuses it.
move_clock($stamp - $future);
is entries_of('appKeyA'), 1, '8 h - future: the nonce is still remembered';
on_both_workers('8 h - future: the Beijing-time header, fresh as UTC',
                $beijing, 403, $replayed);
$log = log_since_mark();
like $log, qr/rejected huawei callback: replayed_nonce \(app "appKeyA"\), created=utc/,
    '... refused as a replayed nonce, read as UTC';
unlike $log, qr/_timestamp/, '... and never by the clock';

# The last seconds it is fresh as UTC: stamp + past.
move_clock($stamp + $past - 2);
on_both_workers('8 h + past - 2 s: the Beijing-time header', $beijing, 403,
                $replayed);
like log_since_mark(),
    qr/rejected huawei callback: replayed_nonce \(app "appKeyA"\), created=utc/,
    '... still a replayed nonce';
is entries_of('appKeyA'), 1, '... still remembered';

traffic('8 h');

# ---- 4. past the Beijing-time retention ----

move_clock($stamp + $past + 2);
is entries_of('appKeyA'), 0, '8 h + past + 2 s: the nonce is forgotten';
on_both_workers('the Beijing-time header now', $beijing, 403, $out_of_window);
$log = log_since_mark();
like $log, qr/stale_timestamp \(app "appKeyA"\), timestamp \d+ s old, limit $past s/,
    '... is stale read either way: the clock refuses it for good';
unlike $log, qr/replayed_nonce/, '... not the forgotten nonce';

traffic('8 h + past + 2 s');

# The store goes on working at the moved clock: a new Beijing-time header
# and a new UTC one pass once, and their replays are refused.
my $now = int(time) + $offset;
my $beijing2 = signed(created => stamp_at($now + $beijing_offset));
$res = callback($beijing2);
is $res->code, 200, 'a new Beijing-time callback passes';
is $res->header('X-Created'), 'beijing', '... read as Beijing time';
on_both_workers('its replay', $beijing2, 403, $replayed);
my $utc2 = signed(created => stamp_at($now));
is callback($utc2)->code, 200, 'a new UTC callback passes';
on_both_workers('its replay', $utc2, 403, $replayed);
is entries_of('appKeyA'), 2, 'the zone holds the two new nonces';

like $nginx->error_log, qr/fault injection build, clock moved by \d+ s/,
    'the workers logged the moved clock';

$nginx->stop;

done_testing();
