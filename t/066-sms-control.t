# Huawei SMS Block mode (§3.6) through provision_x_sms_control: the gateway
# verifies the push, passes it as it came to the customer's SMS service
# and relays a valid {"actions":[...]} answer; when the service fails,
# answers something the spec does not allow, or misses the deadline, the
# gateway answers its configured fallback itself (DiscardMessage, or
# vNumberRoute to a configured number), in Huawei's exact format, in time.
# The deadline is crossed with short values on two workers, and traffic
# goes on after it; every outcome is counted and timed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use HTTP::Response;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time);

use PXEvents;
use PXNginx;
use PXQueue;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'sms-control', workers => 2,
                         http => <<"_EOC_", server => <<'_EOC_');
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_api_key $secrets/api-a.key;
    log_format sms '\$provision_x_call_control';
_EOC_
        provision_x_nonce nonces;

        location = /sms/block {
            provision_x_verify huawei app=appKeyA;
            provision_x_sms_control huawei pass=/_sms timeout=300ms;
            add_header X-SMS-Control $provision_x_call_control always;
            add_header X-Worker $pid always;
            access_log logs/sms.log sms;
        }
        location = /sms/route {
            provision_x_verify huawei app=appKeyA;
            provision_x_sms_control huawei pass=/_sms timeout=300ms
                fallback=vNumberRoute called=+8613900000009
                calling=+8617100001000;
            add_header X-SMS-Control $provision_x_call_control always;
        }
        location = /_sms {
            internal;
            proxy_read_timeout 2s;
            proxy_pass http://127.0.0.1:$server_port/svc/$http_x_scenario;
        }

        location = /svc/route {
            return 200 '{"actions":[{"operation":"vNumberRoute","message":{"called":"+8613900000001","calling":"+8617100001000"}}],"seen":"$request_method|$http_content_length"}';
        }
        location = /svc/discard {
            return 200 '{"actions":[{"operation":"DiscardMessage"}]}';
        }
        location = /svc/empty { return 200 '{"actions":[]}'; }
        location = /svc/national {
            return 200 '{"actions":[{"operation":"vNumberRoute","message":{"called":"13900000001"}}]}';
        }
        location = /svc/forward {
            return 200 '{"actions":[{"operation":"Forward"}]}';
        }
        location = /svc/nojson { return 200 '{"actions":'; }
        location = /svc/fail { return 503; }
        location = /svc/slow {
            # headers go out, the body trickles: the deadline passes first
            limit_rate 1;
            return 200 '{"actions":[{"operation":"DiscardMessage"}]}';
        }
        location = /status { provision_x_status; }
_EOC_
ok $nginx->start, 'nginx starts with two workers'
    or BAIL_OUT($nginx->error_log);

my $json = JSON::PP->new;
my $sms = event_push('smsEvent',
    event_record('smsEvent', 'blk', 1, notificationMode => 'Block'));
my $discard = '{"actions":[{"operation":"DiscardMessage"}]}';
my $route = '{"actions":[{"operation":"vNumberRoute","message":'
    . '{"called":"+8613900000009","calling":"+8617100001000"}}]}';

sub ask {
    my ($uri, $scenario, %a) = @_;
    my @h = $a{unsigned} ? () : map { split /: /, $_, 2 } split /\n/,
        huawei_headers(app => 'appKeyA', secret => 'secretA');
    return $nginx->request(POST => $uri, body => $sms,
                           headers => [@h, 'X-Scenario' => $scenario]);
}

my %count;

sub answers {
    my ($uri, $scenario, $outcome, $body, $what) = @_;
    my $res = ask($uri, $scenario);
    is $res->code, 200, "$what: 200";
    is $res->content, $body, "$what: answered";
    is $res->header('Content-Type'), 'application/json;charset=UTF-8',
        "$what: as Huawei's JSON";
    is $res->header('X-SMS-Control'), $outcome, "$what: $outcome";
    $count{$outcome}++;
    return $res;
}

answers('/sms/block', 'route', 'relayed',
        '{"actions":[{"operation":"vNumberRoute","message":{"called":'
        . '"+8613900000001","calling":"+8617100001000"}}],"seen":"POST|'
        . length($sms) . '"}',
        'a valid vNumberRoute answer is relayed, the push passed on whole');
answers('/sms/block', 'discard', 'relayed', $discard,
        'a valid DiscardMessage answer is relayed');

my $log = length $nginx->error_log;
answers('/sms/block', 'fail', 'fallback_status', $discard,
        'the service fails: the default fallback, DiscardMessage');
like substr($nginx->error_log, $log),
    qr/\[warn\].*provision_x: SMS control fallback "\{"actions":\[\{"operation":"DiscardMessage"\}\]\}" \(fallback_status: binding service failed, binding status 503\)/,
    '... logged at warn with why';

for my $case (['empty', 'actions missing, empty or not objects'],
              ['national', 'field out of the spec\'s range'],
              ['forward', 'operation not allowed'],
              ['nojson', 'not a JSON object']) {
    my ($scenario, $why) = @$case;
    $log = length $nginx->error_log;
    answers('/sms/block', $scenario, 'fallback_invalid', $discard,
            "an answer the spec does not allow ($scenario)");
    like substr($nginx->error_log, $log), qr/fallback_invalid: \Q$why\E/,
        "... logged: $why";
}

my $res = ask('/sms/route', 'fail');
is $res->content, $route, 'a configured vNumberRoute fallback, exactly';
is $res->header('X-SMS-Control'), 'fallback_status', '... fallback_status';
$count{fallback_status}++;

$res = ask('/sms/block', 'route', unsigned => 1);
is $res->code, 401, 'an unsigned push is refused';
unlike $res->content, qr/actions/, '... and never reaches the service';

# --- the deadline, on both workers ------------------------------------------

# Sends $n pushes at once; returns, for each, the seconds until its whole
# answer was in, by its Content-Length (what the platform waits: the
# connection itself closes only once the service's late answer ended),
# and the raw answer.
sub answer_times {
    my ($scenario, $n) = @_;
    my @socks = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $nginx->port) or die $!
    } 1 .. $n;
    my $start = time;
    for my $sock (@socks) {
        my $head = huawei_headers(app => 'appKeyA', secret => 'secretA')
            =~ s/\n/\r\n/gr;
        print $sock "POST /sms/block HTTP/1.1\r\nHost: localhost\r\n$head"
            . "X-Scenario: $scenario\r\nContent-Length: " . length($sms)
            . "\r\n\r\n$sms";
    }
    my @out;
    for my $sock (@socks) {
        my $raw = '';
        while (sysread $sock, my $buf, 4096) {
            $raw .= $buf;
            my ($len) = $raw =~ /\r\nContent-Length: (\d+)\r\n/i;
            my $at = index $raw, "\r\n\r\n";
            last if defined $len && $at >= 0
                && length($raw) >= $at + 4 + $len;
        }
        push @out, [time - $start, $raw];
        close $sock;
    }
    return @out;
}

my %workers;
for my $round (1 .. 5) {
    for my $answer (answer_times('slow', 4)) {
        my ($took, $raw) = @$answer;
        like $raw, qr/\AHTTP\/1\.1 200 .*\r\nX-SMS-Control: fallback_timeout\r\n.*\r\n\r\n\Q$discard\E\z/s,
            "the deadline passes (round $round): the fallback";
        $count{fallback_timeout}++;
        cmp_ok $took, '>=', 0.29, '... not before the 300 ms deadline';
        # the service would take 2 s: a bound well below it, with room
        # for a loaded machine
        cmp_ok $took, '<', 1.0, sprintf('... but right after it (%.3f s)',
                                        $took);
        $workers{ HTTP::Response->parse($raw)->header('X-Worker') }++;
    }
    last if keys %workers == 2;
}
is scalar(keys %workers), 2, 'both workers crossed the deadline';
ok $nginx->wait_log(qr/\[info\].*SMS control answer after the deadline ignored/),
    'the late answer is logged and dropped';

for my $try (1 .. 4) {
    answers('/sms/block', 'discard', 'relayed', $discard,
            "traffic goes on after the deadline ($try)");
}

# --- counted and timed ----------------------------------------------------

my $text = $nginx->request(GET => '/status?format=prometheus',
                           headers => consumer_auth())->content;
for my $outcome (qw(relayed fallback_status fallback_invalid fallback_timeout
                    fallback_error)) {
    my $n = $count{$outcome} // 0;
    like $text, qr/^provision_x_sms_control_total\{dialect="huawei",outcome="$outcome"\} $n$/m,
        "counted: $outcome $n";
}
unlike $text, qr/provision_x_sms_control_total\{[^}]*landline/,
    'no landline outcome for SMS';
my $total = 0;
$total += $_ for values %count;
like $text, qr/^provision_x_sms_control_duration_seconds_count\{dialect="huawei"\} $total$/m,
    "every answer timed ($total)";
my ($fast) = $text =~ /^provision_x_sms_control_duration_seconds_bucket\{dialect="huawei",le="0.25"\} (\d+)$/m;
cmp_ok $fast, '<=', $total - $count{fallback_timeout},
    'no deadline answer is timed under 250 ms';
like $text, qr/^provision_x_call_control_total\{dialect="huawei",outcome="relayed"\} 0$/m,
    'none counted as call control';

my $status = $json->decode($nginx->request(GET => '/status',
                                           headers => consumer_auth())->content);
is $status->{sms_control}{huawei}{relayed}, $count{relayed},
    'the JSON status has them too';

$nginx->stop;

done_testing();
