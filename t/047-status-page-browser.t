# The status page in a real browser: headless Chromium (t/helper/
# PXBrowser.pm, the DevTools protocol on a pipe) loads provision_x_status
# from a live gateway with two workers and traffic of every kind the page
# draws, with the key in the URL fragment and a poll every second.
#
#   - after the first poll, and again after three rounds of traffic (each
#     followed by a poll), every number the page rendered equals the JSON
#     the test reads itself: totals exactly, the oldest age within the
#     seconds between the two reads;
#   - each rate chart drew what the counters moved: the sum of its values
#     times the seconds each covers equals the increase between the two
#     snapshots, which is the traffic the test sent;
#   - the call-control p99 of an interval with a 300 ms deadline fallback
#     lies between the 250 and 500 ms bounds;
#   - no script error, console error or CSP violation; the key left the
#     URL; a wrong key brings up the form, the right one typed in works.
#
# A screenshot goes to the instance's prefix (PX_SCREENSHOT=docs/
# status-page.png copies it there: how the one in docs/ is made).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Copy qw(copy);
use IO::Socket::INET;
use JSON::PP ();
use List::Util qw(sum0);
use Test::More;
use Time::HiRes qw(sleep time);

use PXBrowser;
use PXNginx;
use PXSign;

my $started = time;
my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

ok PXBrowser::available(), 'Chromium is installed (make deps installs it)'
    or BAIL_OUT('no ' . PXBrowser::binary());

# the binding service for the deadline: answers after 500 ms
my $listen = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                   LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
my $slow_port = $listen->sockport;
my $slow = fork // die "fork: $!";
if ($slow == 0) {
    while (my $c = $listen->accept) {
        while (defined(my $line = <$c>)) {
            last if $line eq "\r\n";
        }
        sleep 0.5;
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
            . "Connection: close\r\n\r\n{}";
        close $c;
    }
    exit 0;
}
close $listen;
END { kill 'KILL', $slow if $slow }

my $nginx = PXNginx->new(name => 'status-browser', workers => 2,
                         http => <<"_EOC_", server => <<"_EOC_");
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=seen:1m;
    provision_x_queue_zone zone=cdrq:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
        provision_x_nonce nonces;

        location = /hw {
            provision_x_verify huawei;
            return 200 "ok\\n";
        }
        location = /cdr { provision_x_cdr huawei queue=cdrq dedup=seen; }
        location = /cdr/fail { provision_x_cdr huawei forward=/sink/fail; }
        location = /sink/fail { internal; return 503; }

        location = /cc {
            provision_x_verify huawei app=appKeyA;
            provision_x_call_control huawei pass=/binding timeout=300ms;
        }
        location = /binding {
            internal;
            proxy_pass http://127.0.0.1:\$server_port/svc/\$http_x_scenario;
        }
        location = /svc/ok {
            return 200 '{"operation":"connect","connectInfo":{"displayCalleeNum":"+8617000000002","calleeNum":"+8613800000009","maxDuration":60,"recordFlag":"true"}}';
        }
        location = /svc/slow { proxy_pass http://127.0.0.1:$slow_port; }

        location = /px/status { provision_x_status; }
_EOC_
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);
$nginx->expect_in_log(qr/CDR forward answered 503/);

my $key = 'consumer-key-one-7f3a9c';
my $tag = 0;

sub signed {
    my ($secret) = @_;
    return map { split /: /, $_, 2 } split /\n/,
        huawei_headers(app => 'appKeyA', secret => $secret);
}

# One round: a callback verified and one replayed, two unsigned, three
# with a bad signature, $n pushes of 3 records into the queue, a push
# whose sink fails, two call-control answers relayed and one at the
# deadline.
sub round {
    my ($n) = @_;
    my @h = signed('secretA');
    $nginx->request(GET => '/hw', headers => \@h);
    $nginx->request(GET => '/hw', headers => \@h);              # replayed
    $nginx->request(GET => '/hw') for 1 .. 2;                   # unsigned
    $nginx->request(GET => '/hw', headers => [signed('wrong')]) for 1 .. 3;
    for (1 .. $n) {
        $tag++;
        $nginx->request(POST => '/cdr',
                        body => fee_push(n => 3, tag => "b$tag"));
    }
    $tag++;
    $nginx->request(POST => '/cdr/fail',
                    body => fee_push(n => 1, tag => "b$tag"));
    my $callin = '{"eventType":"callin","statusInfo":{"sessionId":"s-1",'
        . '"timestamp":"2024-01-02 03:04:05","caller":"+8613800000001",'
        . '"called":"+8617000000002","notifyMode":"Block"}}';
    for my $scenario (qw(ok ok slow)) {
        $nginx->request(POST => '/cc', body => $callin,
                        headers => [signed('secretA'),
                                    'X-Scenario' => $scenario]);
    }
}

# The JSON, and its counters summed as the page names them.
sub status {
    my $j = JSON::PP->new->decode(
        $nginx->request(GET => '/px/status',
                        headers => [Authorization => "Bearer $key"])
              ->content);
    my %t;
    $t{"rejected.$_->{reason}"} += $_->{count} for @{ $j->{rejected} };
    for my $c (values %{ $j->{cdr} }) {
        $t{"cdr.$_"} += $c->{$_}
            for qw(pushes records retries duplicates dead_lettered refused);
        $t{"hand_off.$_"} += $c->{hand_off}{$_} for keys %{ $c->{hand_off} };
    }
    for my $c (values %{ $j->{call_control} }) {
        $t{"call_control.$_"} += $c->{$_} for keys %$c;
    }
    return ($j, \%t);
}

my $browser = PXBrowser->new(dir => $nginx->prefix . '/browser');
ok $browser, 'Chromium starts' or BAIL_OUT('see ' . $nginx->prefix
                                           . '/browser/chromium.log');

my $polls = sub { $browser->evaluate('Number(document.body.dataset.polls)') };
my $wait_polls = sub {
    my ($n) = @_;
    return $browser->wait_for("Number(document.body.dataset.polls) >= $n", 15);
};
my $rendered = sub {
    $browser->evaluate('Object.fromEntries([...document.querySelectorAll('
                       . '"[data-metric]")].map(e => [e.dataset.metric, '
                       . 'e.textContent]))');
};

round(1);

my $base = 'http://127.0.0.1:' . $nginx->port . '/px/status';
$browser->open_page("$base#key=$key&every=1");
ok $wait_polls->(1), 'the page polled';
my $first = $rendered->();
my (undef, $t1) = status();

is_deeply { map { $_ => $first->{$_} } keys %$t1 },
    { map { $_ => "$t1->{$_}" } keys %$t1 },
    'after the first poll every total on the page is the JSON\'s';

for my $n (1 .. 3) {
    round($n);
    my $p = $polls->();
    ok $wait_polls->($p + ($n == 3 ? 2 : 1)),    # the last: one after it
        "round $n of traffic, then a poll";
}

my $last = $rendered->();
my ($json, $t) = status();
my $page_polls = $polls->();
cmp_ok $page_polls, '>=', 5, "$page_polls polls";

is_deeply { map { $_ => $last->{$_} } keys %$t },
    { map { $_ => "$t->{$_}" } keys %$t },
    'after three rounds of traffic every total on the page is the JSON\'s';

my ($q) = @{ $json->{queues} };
is $last->{"queue.cdrq.depth"}, $q->{depth}, "queue depth $q->{depth}";
is $last->{"queue.cdrq.leased"}, $q->{leased}, 'leased';
cmp_ok $q->{oldest_age} - $last->{"queue.cdrq.oldest_age"}, '<=', 3,
    "oldest age $last->{'queue.cdrq.oldest_age'} s (JSON: $q->{oldest_age})";
cmp_ok $q->{oldest_age}, '>=', $last->{"queue.cdrq.oldest_age"},
    'not ahead of the JSON';
for my $z (@{ $json->{zones} }) {
    is $last->{"zone.$z->{zone}.fill"}, sprintf('%.1f', 100 * $z->{fill}),
        "zone $z->{zone}: fill";
    is $last->{"zone.$z->{zone}.entries"}, $z->{entries},
        "zone $z->{zone}: $z->{entries} entries";
}

# the rate charts: what they drew adds up to what the counters moved
my $charts = $browser->evaluate(<<'_JS_');
Object.fromEntries([...document.querySelectorAll('svg[data-chart]')].map(
    (s) => [s.dataset.chart, {
        dts: s.dataset.dts ? s.dataset.dts.split(',').map(Number) : [],
        series: Object.fromEntries([...s.querySelectorAll('polyline')].map(
            (p) => [p.dataset.series, {
                values: p.dataset.values.split(','),
                points: p.getAttribute('points').split(' ').filter(Boolean)
                         .length}]))}]))
_JS_

my %sent = ('cdr.pushes' => 6, 'cdr.records' => 18, 'hand_off.2xx' => 6,
            'hand_off.5xx' => 3, 'rejected.replayed_nonce' => 3,
            'rejected.missing_auth' => 6, 'rejected.bad_signature' => 9,
            'call_control.relayed' => 6, 'call_control.fallback_timeout' => 3);
for my $k (sort keys %sent) {
    is $t->{$k} - $t1->{$k}, $sent{$k}, "$k: $sent{$k} sent after poll 1";
}

my ($checked, @wrong) = (0);
for my $id (qw(refusals cdr handoff callcontrol)) {
    my $c = $charts->{$id};
    for my $k (sort keys %{ $c->{series} }) {
        my $s = $c->{series}{$k};
        my @v = @{ $s->{values} };
        push @wrong, "$k: " . @v . ' values, ' . @{ $c->{dts} } . ' intervals'
            if @v != @{ $c->{dts} } || $s->{points} != @v;
        my $drawn = sum0(map { $v[$_] * $c->{dts}[$_] } 0 .. $#v);
        my $moved = $t->{$k} - ($t1->{$k} // 0);
        push @wrong, "$k: drew $drawn, counters moved $moved"
            if abs($drawn - $moved) > 1e-6 * ($moved || 1);
        $checked++;
    }
}
is $checked, 15, 'every rate series checked';
ok !@wrong, 'every rate drawn times its interval adds up to the counter'
    or diag join "\n", @wrong;
is scalar @{ $charts->{cdr}{dts} }, $page_polls - 1,
    'a rate per poll after the first';

# an interval holding a fallback at the 300 ms deadline has its p99 in
# that bucket; one that holds relayed answers only (a poll may split a
# round) lower; none above
my @p99 = grep { length } @{ $charts->{latency}{series}{'p99.call_control'}
                             {values} };
ok +(grep { $_ >= 250 && $_ <= 500 } @p99),
    'a call-control p99 between the 250 and 500 ms bounds' or diag "@p99";
ok !(grep { $_ > 500 } @p99), 'none beyond them' or diag "@p99";

# one more round for the picture, so that its charts end on traffic
round(2);
my $p = $polls->();
ok $wait_polls->($p + 1), 'another round, another poll';

my $shot = $nginx->prefix . '/status-page.png';
ok $browser->screenshot($shot, 1280) > 10_000, 'a screenshot';
if (my $to = $ENV{PX_SCREENSHOT}) {
    copy($shot, $to) or die "$to: $!";
    diag "screenshot copied to $to";
}

is $browser->evaluate('location.hash'), '#every=1', 'the key left the URL';
is $browser->evaluate("sessionStorage.getItem('provision_x_status_key')"),
    $key, 'it is kept in the tab\'s sessionStorage';
is_deeply [$browser->problems], [], 'no script error or CSP violation';

# a wrong key: the form; the right key typed into it: the numbers
$browser->evaluate('sessionStorage.clear()');
$browser->call('Page.navigate', {url => 'about:blank'});
$browser->call('Page.navigate', {url => "$base#key=not-the-key&every=1"});
ok $browser->wait_for("document.body.dataset.state === 'key'", 10),
    'a wrong key: the page asks for one';
like $browser->evaluate("document.getElementById('login-error').textContent"),
    qr/refused/, 'and says the key was refused';
$browser->evaluate("document.getElementById('key').value = '$key';"
                   . "document.getElementById('login-form').requestSubmit()");
ok $wait_polls->(1), 'the key typed in: it polls';
my (undef, $now) = status();
is $rendered->()->{'cdr.records'}, $now->{'cdr.records'},
    'and shows the numbers';
my @problems = $browser->problems;
ok +(grep { /status of 401/ } @problems), 'the browser saw the 401';
is_deeply [grep { !/status of 401/ } @problems], [],
    'and no script error or CSP violation';

$browser->quit;

my $access = do {
    local $/;
    open my $fh, '<', $nginx->prefix . '/logs/access.log' or die $!;
    <$fh>;
};
unlike $access, qr/\Q$key\E|not-the-key/, 'no key in the access log';
like $access, qr{GET /px/status\?format=json }, 'the page polled the JSON';

diag sprintf 'browser test: %.1f s', time - $started;

done_testing();
