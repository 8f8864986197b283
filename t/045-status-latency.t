# Latency histograms: the CDR hand-off per dialect and sink (from the
# start of the hand-off to the sink's answer) and call control per
# dialect (from the query's arrival to the answer, relayed or fallback).
# A queue answers within the event-loop turn (the 1 ms bucket); a sink
# that takes 600 ms never lands at or below 0.5 s; a call-control
# deadline of 300 ms lands in (0.25, 0.5]; a failed hand-off is timed
# too.  Prometheus and JSON say the same; promtool accepts them; two
# workers count into one zone, which a reload keeps.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Temp qw(tempfile);
use IO::Socket::INET;
use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep);

use PXNginx;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

# the slow sink (and binding service): a child that answers each request
# 200 after 600 ms
my $listen = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                   LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
my $sink_port = $listen->sockport;
my $sink = fork // die "fork: $!";
if ($sink == 0) {
    while (my $c = $listen->accept) {
        my $head = '';
        while (defined(my $line = <$c>)) {
            $head .= $line;
            last if $line eq "\r\n";
        }
        my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
        read $c, my $body, $len // 0;
        sleep 0.6;
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
            . "Connection: close\r\n\r\n";
        close $c;
    }
    exit 0;
}
close $listen;
END { kill 'KILL', $sink if $sink }

my $http = <<"_EOC_";
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=seen:1m;
    provision_x_queue_zone zone=cdrq:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_

my $server = <<"_EOC_";
        provision_x_nonce nonces;

        location = /cdr/queue { provision_x_cdr huawei queue=cdrq dedup=seen; }
        location = /cdr/slow { provision_x_cdr huawei forward=/sink/slow; }
        location = /cdr/fail { provision_x_cdr huawei forward=/sink/fail; }
        location = /sink/slow {
            internal;
            proxy_pass http://127.0.0.1:$sink_port;
        }
        location = /sink/fail { internal; return 502; }

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
        location = /svc/slow { proxy_pass http://127.0.0.1:$sink_port; }

        location = /status { provision_x_status; }
_EOC_

my $nginx = PXNginx->new(name => 'status-latency', workers => 2,
                         http => $http, server => $server);
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);
$nginx->expect_in_log(qr/CDR forward answered 502/);

my @auth = (Authorization => 'Bearer consumer-key-one-7f3a9c');
my $tag = 0;

sub push_to {
    my ($uri) = @_;
    $tag++;
    return $nginx->request(POST => $uri,
                           body => fee_push(n => 2, tag => "l$tag"))->code;
}

sub call_control {
    my ($scenario) = @_;
    my $h = [(map { split /: /, $_, 2 } split /\n/,
              huawei_headers(app => 'appKeyA', secret => 'secretA')),
             'X-Scenario' => $scenario];
    my $body = '{"eventType":"callin","statusInfo":{"sessionId":"s-1",'
        . '"timestamp":"2024-01-02 03:04:05","caller":"+8613800000001",'
        . '"called":"+8617000000002","notifyMode":"Block"}}';
    return $nginx->request(POST => '/cc', headers => $h, body => $body);
}

# {series => value} of the Prometheus text, for the histogram lines
sub scrape {
    my $text = $nginx->request(GET => '/status?format=prometheus',
                               headers => \@auth)->content;
    my %v;
    $v{$1} = $2
        while $text =~ /^(provision_x_\w+_duration_seconds_\w+(?:\{[^}]*\})?)
                        \x20(\S+)$/mgx;
    return ($text, \%v);
}

sub bucket {
    my ($v, $name, $labels, $le) = @_;
    return $v->{"provision_x_${name}_duration_seconds_bucket"
                . "{$labels,le=\"$le\"}"};
}

is push_to('/cdr/queue'), 200, "a push into the queue" for 1 .. 3;
is push_to('/cdr/slow'), 200, 'a push through a sink that takes 600 ms';
is push_to('/cdr/fail'), 502, 'a push whose sink fails';

my $res = call_control('ok');
is $res->code, 200, 'call control relayed';
like $res->content, qr/"operation":"connect"/, 'the service decided';
$res = call_control('slow');
like $res->content, qr/"operation":"close"/,
    'call control answered the fallback at the deadline';

my ($text, $v) = scrape();

my ($fh, $file) = tempfile(UNLINK => 1);
print $fh $text;
close $fh;
my $out = `promtool check metrics < $file 2>&1`;
is $?, 0, 'promtool check metrics accepts the histograms' or diag $out;

my $queue = 'dialect="huawei",sink="queue"';
my $forward = 'dialect="huawei",sink="forward"';
my $cc = 'dialect="huawei"';

is bucket($v, 'cdr_hand_off', $queue, '0.001'), 3,
    'three queue hand-offs within the event loop turn (le 1 ms)';
is $v->{"provision_x_cdr_hand_off_duration_seconds_sum{$queue}"}, '0.000',
    'and their sum is 0';
is $v->{"provision_x_cdr_hand_off_duration_seconds_count{$queue}"}, 3,
    'count 3';

is $v->{"provision_x_cdr_hand_off_duration_seconds_count{$forward}"}, 2,
    'two forward hand-offs, the failed one too';
is bucket($v, 'cdr_hand_off', $forward, '0.5'), 1,
    'only the failed one answered within 0.5 s';
is bucket($v, 'cdr_hand_off', $forward, '+Inf'), 2, '+Inf holds both';
cmp_ok $v->{"provision_x_cdr_hand_off_duration_seconds_sum{$forward}"}, '>=',
    0.6, 'the sum holds the 600 ms sink';
is bucket($v, 'cdr_hand_off', 'dialect="aliyun",sink="redis"', '+Inf'), 0,
    'nothing else counted';

is $v->{"provision_x_call_control_duration_seconds_count{$cc}"}, 2,
    'two call-control answers';
is bucket($v, 'call_control', $cc, '0.25'), 1,
    'the relayed one within 0.25 s';
is bucket($v, 'call_control', $cc, '0.5'), 2,
    'the fallback at the 300 ms deadline within 0.5 s';
is bucket($v, 'call_control', 'dialect="aliyun"', '+Inf'), 0,
    'none for the other dialect';
cmp_ok $v->{"provision_x_call_control_duration_seconds_sum{$cc}"}, '>=', 0.3,
    'the sum holds the deadline';

# the JSON has the same numbers
my $json = JSON::PP->new->decode(
    $nginx->request(GET => '/status', headers => \@auth)->content);
my $lat = $json->{latency};
is_deeply $lat->{le}, [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    'JSON: the bounds';

my $same = 1;
for my $d (qw(aliyun huawei)) {
    my @h = ((map { ['cdr_hand_off', "dialect=\"$d\",sink=\"$_\"",
                     $lat->{hand_off}{$d}{$_}] } qw(queue forward redis)),
             ['call_control', "dialect=\"$d\"", $lat->{call_control}{$d}]);
    for (@h) {
        my ($name, $labels, $j) = @$_;
        my @le = map { 0 + $_ } @{ $lat->{le} };
        for my $i (0 .. $#le) {
            $same &&= $j->{buckets}[$i] == bucket($v, $name, $labels, $le[$i]);
        }
        $same &&= $j->{count}
            == $v->{"provision_x_${name}_duration_seconds_count{$labels}"};
        $same &&= abs($j->{sum}
            - $v->{"provision_x_${name}_duration_seconds_sum{$labels}"}) < 1e-9;
    }
}
ok $same, 'JSON: every bucket, count and sum as in the exposition';

ok $nginx->reload(server => "$server        location = /new { return 204; }\n"),
    'nginx -s reload';
is push_to('/cdr/queue'), 200, 'one more queue push after it';
(undef, $v) = scrape();
is $v->{"provision_x_cdr_hand_off_duration_seconds_count{$queue}"}, 4,
    'the histogram carried on across the reload';
is $v->{"provision_x_call_control_duration_seconds_count{$cc}"}, 2,
    'call control too';

done_testing();
