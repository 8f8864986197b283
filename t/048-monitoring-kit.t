# The monitoring kit in monitoring/, against a live gateway:
#
#   - the alert rules pass `promtool check rules`, and their unit tests
#     (`promtool test rules`: each key alert fires, waits out its "for:",
#     and stays quiet below its threshold) pass;
#   - the Grafana dashboard is valid JSON, covers every area, and each
#     PromQL expression in it names only metrics the module exports (a
#     live /status?format=prometheus scrape); so do the rules;
#   - the scrape-config example passes `promtool check config` with the
#     status location's own key file as its bearer credentials_file, and
#     a real Prometheus run from it scrapes the gateway (up == 1, the
#     counters arrive), evaluates every rule without error and fires none
#     on healthy traffic, and answers every dashboard query.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Path qw(make_path);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use URI::Escape qw(uri_escape);

use PXEvents;
use PXFiles qw(spew);
use PXNginx;
use PXSign;

my $root = "$FindBin::Bin/..";
my $kit = "$root/monitoring";
my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

# --- the rules, by promtool ----------------------------------------------

my $out = `promtool check rules $kit/provision_x.rules.yml 2>&1`;
is $?, 0, 'promtool check rules' or diag $out;
my ($rules) = $out =~ /SUCCESS: (\d+) rules found/;
cmp_ok $rules // 0, '>=', 15, "$rules rules";

$out = `cd $kit && promtool test rules provision_x.rules.test.yml 2>&1`;
is $?, 0, 'promtool test rules: the key alerts fire, and stay quiet'
    or diag $out;

# --- a live gateway and what it exports ----------------------------------

my $nginx = PXNginx->new(name => 'monitoring-kit', workers => 2,
                         http => <<"_EOC_", server => <<'_EOC_');
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=seen:1m;
    provision_x_queue_zone zone=cdrq:1m;
    provision_x_api_key $secrets/api-a.key;
_EOC_
        provision_x_nonce nonces;
        location = /hw {
            provision_x_verify huawei;
            return 200 "ok\n";
        }
        location = /cdr { provision_x_cdr huawei queue=cdrq dedup=seen; }
        location = /numbers {
            provision_x_receive huawei types=numStatus queue=cdrq dedup=seen;
        }
        location = /px/status { provision_x_status; }
_EOC_
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my $numbers = 0;
sub traffic {
    my ($tag) = @_;
    my @h = map { split /: /, $_, 2 } split /\n/,
        huawei_headers(app => 'appKeyA', secret => 'secretA');
    $nginx->request(GET => '/hw', headers => \@h);
    $nginx->request(GET => '/hw');                          # refused
    $nginx->request(POST => '/cdr', body => fee_push(n => 2, tag => $tag));
    # an event type too: two numbers never seen before
    $nginx->request(POST => '/numbers', body => event_push('numStatus',
        map { event_record('numStatus', $tag, ++$numbers) } 1 .. 2));
}
traffic('m1');

my $scrape = $nginx->request(GET => '/px/status?format=prometheus',
                             headers => [Authorization =>
                                         'Bearer consumer-key-one-7f3a9c']);
is $scrape->code, 200, 'a scrape';
my $text = $scrape->content;
my %exported;
$exported{$1} = 1 while $text =~ /^(provision_x_\w+)[{ ]/mg;
$exported{$1} = 1 while $text =~ /^# TYPE (\w+) /mg;
cmp_ok scalar keys %exported, '>=', 30, scalar(keys %exported)
    . ' metric names exported';

# The metric names a PromQL expression reads: what is left once strings,
# label matchers, ranges, grouping clauses, function calls and keywords
# are taken out.
sub metric_names {
    my ($e) = @_;
    $e =~ s/"(?:[^"\\]|\\.)*"//g;
    $e =~ s/\{[^}]*\}//g;
    $e =~ s/\[[^\]]*\]//g;
    $e =~ s/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)//g;
    $e =~ s/\$\w+//g;
    my @names;
    while ($e =~ /([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g) {
        next if $2 || $1 =~ /^(?:and|or|unless|bool|offset|inf|nan|
                                  group_left|group_right)$/xi;
        push @names, $1;
    }
    return @names;
}

is_deeply [metric_names('histogram_quantile(0.99, sum by (sink, le) '
                        . '(rate(a_bucket{job=~"$job", x="}"}[$__rate_interval]'
                        . '))) / on (zone) group_left b > bool 0.5')],
    ['a_bucket', 'b'], 'the name extraction itself';

# --- the dashboard ---------------------------------------------------------

my $dashboard = do {
    local $/;
    open my $fh, '<', "$kit/grafana-dashboard.json" or die $!;
    <$fh>;
};
my $dash = eval { JSON::PP->new->decode($dashboard) };
ok $dash, 'grafana-dashboard.json is valid JSON' or diag $@;

my (@exprs, %ids, @bad);
for my $p (@{ $dash->{panels} }) {
    push @bad, "panel $p->{id}: id used twice" if $ids{ $p->{id} }++;
    push @bad, "panel $p->{id}: no gridPos"
        unless ref $p->{gridPos} eq 'HASH' && defined $p->{gridPos}{w};
    next if $p->{type} eq 'row';
    push @bad, "panel $p->{id}: no title" unless $p->{title};
    push @bad, "panel $p->{id}: no targets" unless @{ $p->{targets} // [] };
    for my $t (@{ $p->{targets} }) {
        push @bad, "panel $p->{id}: a target without refId or expr"
            unless $t->{refId} && $t->{expr};
        push @exprs, [$p->{title}, $t->{expr}];
    }
}
for my $v (@{ $dash->{templating}{list} }) {
    next unless $v->{type} eq 'query';
    my ($metric) = $v->{definition} =~ /^label_values\((\w+)/
        or push @bad, "variable $v->{name}: not label_values(metric, ...)";
    push @exprs, ["variable $v->{name}", $metric // ''];
}
ok !@bad, "the dashboard's panels are well formed" or diag join "\n", @bad;
cmp_ok scalar @exprs, '>=', 20, scalar(@exprs) . ' expressions';

my %used;
for (@exprs) {
    my ($where, $expr) = @$_;
    for my $name (metric_names($expr)) {
        $used{$name} = 1;
        push @bad, "$where: $name is not exported" unless $exported{$name};
    }
}
ok !@bad, 'every metric the dashboard reads is exported'
    or diag join "\n", @bad;

my @areas = qw(provision_x_rejected_total provision_x_cdr_pushes_total
    provision_x_cdr_records_total provision_x_cdr_hand_off_total
    provision_x_cdr_hand_off_duration_seconds_bucket
    provision_x_queue_depth provision_x_queue_oldest_age_seconds
    provision_x_zone_fill_ratio provision_x_zone_refused_full_total
    provision_x_call_control_total
    provision_x_call_control_duration_seconds_bucket provision_x_build_info
    provision_x_event_pushes_total provision_x_event_dead_lettered_total
    provision_x_event_hand_off_total provision_x_sms_control_total
    provision_x_sms_control_duration_seconds_bucket);
is_deeply [grep { !$used{$_} } @areas], [],
    'it covers refusals, pushes, records, hand-offs, queues, zones, call '
    . 'control, events by type, SMS control, the latencies and the build';

# --- the scrape config, and a real Prometheus run from it ------------------

my $work = $nginx->prefix . '/prometheus';
make_path("$work/data");
my $example = do {
    local $/;
    open my $fh, '<', "$kit/prometheus.yml" or die $!;
    <$fh>;
};
like $example, qr/authorization:\s+type: Bearer\s+credentials_file: /,
    'the example scrapes with a bearer credentials_file';

# the same file, with the status location's own key file
(my $config = $example)
    =~ s{credentials_file: \S+}{credentials_file: $secrets/api-a.key};
spew("$work/prometheus.yml", $config);
spew("$work/provision_x.rules.yml", do {
    local $/;
    open my $fh, '<', "$kit/provision_x.rules.yml" or die $!;
    <$fh>;
});

$out = `promtool check config $work/prometheus.yml 2>&1`;
is $?, 0, 'promtool check config (rules included)' or diag $out;

# ... and for a run: this gateway, every second
my $port = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                 LocalPort => 0)->sockport;
(my $live = $config) =~ s/(scrape|evaluation)_interval: \S+/$1_interval: 1s/g;
$live =~ s/targets:\n(?:\s+- \S+\n)+/targets: ['127.0.0.1:${\ $nginx->port }']\n/;
like $live, qr/targets: \['127\.0\.0\.1:\d+'\]/, 'the run scrapes this gateway';
spew("$work/live.yml", $live);

my $prom = fork // die "fork: $!";
if ($prom == 0) {
    open STDOUT, '>', "$work/prometheus.log";
    open STDERR, '>&', \*STDOUT;
    exec 'prometheus', "--config.file=$work/live.yml",
        "--storage.tsdb.path=$work/data",
        "--web.listen-address=127.0.0.1:$port", '--log.level=warn';
    exit 127;
}
END {
    if ($prom) {
        kill 'TERM', $prom;
        waitpid $prom, 0;
    }
}

my $http = HTTP::Tiny->new(timeout => 5);
sub query {
    my ($q) = @_;
    my $res = $http->get("http://127.0.0.1:$port/api/v1/query?query="
                         . uri_escape($q));
    return $res->{success} ? JSON::PP->new->decode($res->{content})
                           : {status => "HTTP $res->{status}",
                              error => $res->{content}};
}
sub wait_until {
    my ($test, $secs) = @_;
    my $until = time + $secs;
    while (time < $until) {
        my $v = eval { $test->() };
        return $v if $v;
        sleep 0.25;
    }
    return undef;
}

ok wait_until(sub {
    my $r = query('up{job="provision_x"}');
    return ($r->{data}{result}[0]{value}[1] // '') eq '1';
}, 60), 'Prometheus scrapes the gateway with the bearer key: up == 1'
    or diag `tail -5 $work/prometheus.log`;

traffic('m2');
ok wait_until(sub {
    my $r = query('sum(provision_x_cdr_records_total{job="provision_x"})');
    return ($r->{data}{result}[0]{value}[1] // '') eq '4';
}, 30), 'the counters arrive: 4 records';
ok wait_until(sub {
    my $r = query('sum(provision_x_event_records_total{job="provision_x",'
                  . 'type="numStatus"})');
    return ($r->{data}{result}[0]{value}[1] // '') eq '4';
}, 30), '... and 4 number-status entries';

# every rule evaluated at least once, without error, and none firing
my $groups;
ok wait_until(sub {
    my $r = JSON::PP->new->decode(
        $http->get("http://127.0.0.1:$port/api/v1/rules")->{content});
    $groups = $r->{data}{groups};
    my @r = map { @{ $_->{rules} } } @$groups;
    return @r == $rules
        && !grep { $_->{lastEvaluation} =~ /^0001-/ } @r;
}, 30), "Prometheus loaded and evaluated the $rules rules";
my @rules = map { @{ $_->{rules} } } @{ $groups // [] };
is_deeply [map { "$_->{name}: $_->{lastError}" }
           grep { $_->{health} ne 'ok' } @rules], [],
    'every rule evaluates without error';
is_deeply [map { $_->{name} } grep { $_->{state} ne 'inactive' } @rules], [],
    'none is pending or firing on healthy traffic';
my @unknown;
for my $r (@rules) {
    push @unknown, map { "$r->{name}: $_" }
        grep { !$exported{$_} && $_ ne 'up' } metric_names($r->{query});
}
is_deeply \@unknown, [],
    'every metric the rules read is exported (or is Prometheus\' up)';

# every dashboard query, as Grafana would send it
my @failed;
for (@exprs) {
    my ($where, $expr) = @$_;
    next if $where =~ /^variable/;
    (my $q = $expr) =~ s/\$__rate_interval/1m/g;
    $q =~ s/\$job/provision_x/g;
    $q =~ s/\$instance/.*/g;
    my $r = query($q);
    push @failed, "$where: $r->{status} " . ($r->{error} // '')
        if $r->{status} ne 'success';
    push @failed, "$where: no series for $q"
        if $r->{status} eq 'success' && !@{ $r->{data}{result} };
}
ok !@failed, 'Prometheus answers every dashboard query with data'
    or diag join "\n", @failed;

done_testing();
