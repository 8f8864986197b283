# The interface endpoint in live mode, against a fake platform that checks
# every signature it receives with its own signers written from the spec
# (t/helper/PXPlatform.pm): both dialects, the platform's refusals, a
# wrong secret, a platform that misses the deadline (crossed with a short
# value, two workers, traffic continuing after) and one that cannot be
# reached.  Debug calls and refusals never reach the platform, the
# caller's API key never does, and no log line, at debug level either,
# holds a secret, a key, a signature or a phone number.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use HTTP::Response;
use IPC::Run3 qw(run3);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);

use PXNginx;
use PXPlatform;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $platform = PXPlatform->new(
    dir    => "$FindBin::Bin/servroot-interface-platform",
    aliyun => {testId => 'testSecret'},
    # the gateway's appKeyW signs with other.key: the platform refuses it
    huawei => {appKeyA => 'secretA', appKeyW => 'secretA'});
ok $platform->start, 'the fake platform listens';

my $port = $platform->port;
my $closed = PXPlatform::port_for(3); # nothing listens there

my $gw = PXNginx->new(
    name => 'interface-live', workers => 2,
    port => $ENV{TEST_NGINX_PORT} ? $ENV{TEST_NGINX_PORT} + 2 : undef,
    http => <<"_EOC_",
    error_log logs/error.log info;
    error_log logs/debug.log debug;

    provision_x_app testId secret=$secrets/pop-test.key;
    provision_x_app wrongId secret=$secrets/other.key;
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app appKeyW secret=$secrets/other.key;
    provision_x_api_key $secrets/api-a.key;

    provision_x_interface_target ali id=1 dialect=aliyun app=testId
        pass=/_px/aliyun method=GET timeout=500ms
        operations=QueryRecordFileDownloadUrl,BindAxb;
    provision_x_interface_target ali-post id=2 dialect=aliyun app=testId
        pass=/_px/aliyun timeout=500ms operations=BindAxb;
    provision_x_interface_target ali-wrong id=3 dialect=aliyun app=wrongId
        access_key_id=testId pass=/_px/aliyun
        operations=QueryRecordFileDownloadUrl;
    provision_x_interface_target hw id=4 dialect=huawei app=appKeyA
        pass=/_px/huawei timeout=500ms
        operations=/rest/provision/voice/record/v1.0,/rest/caas/relationnumber/partners/v1.0;
    provision_x_interface_target hw-wrong id=5 dialect=huawei app=appKeyW
        pass=/_px/huawei operations=/rest/provision/voice/record/v1.0;
    provision_x_interface_target down id=6 dialect=huawei app=appKeyA
        pass=/_px/down operations=/rest/provision/voice/record/v1.0;
    provision_x_interface_target ali-small id=7 dialect=aliyun app=testId
        pass=/_px/aliyun-small operations=BindAxb;

    log_format px '\$provision_x_interface_user_id '
                  '\$provision_x_interface_target '
                  '\$provision_x_interface_operation '
                  '\$provision_x_interface_outcome \$status';
_EOC_
    server => <<"_EOC_");
        location = /provision_x {
            provision_x_interface target=ali target=ali-post target=ali-wrong
                                  target=hw target=hw-wrong target=down
                                  target=ali-small;
            access_log logs/px.log px;
        }

        location = /_px/aliyun {
            internal;
            proxy_read_timeout 5s;
            proxy_pass http://127.0.0.1:$port/;
        }

        location /_px/huawei/ {
            internal;
            proxy_pass http://127.0.0.1:$port/;
        }

        location = /_px/aliyun-small {
            internal;
            subrequest_output_buffer_size 64;
            proxy_pass http://127.0.0.1:$port/;
        }

        location /_px/down/ {
            internal;
            proxy_pass http://127.0.0.1:$closed/;
        }

        location = /status { provision_x_status; }
_EOC_
ok $gw->start, 'the gateway starts with two workers'
    or BAIL_OUT($gw->error_log);
$gw->expect_in_log(qr/connect\(\) failed .*\/_px\/down/);

my $json = JSON::PP->new->canonical->utf8;
my $key = 'consumer-key-one-7f3a9c';
my %counted; # target => outcome => calls, as the status page must say

# One call on its own connection; the answer is complete when its
# Content-Length is in, whatever the connection does afterwards (a late
# platform answer keeps it open until it comes).
sub call {
    my ($envelope, %a) = @_;
    my $body = ref $envelope ? $json->encode($envelope) : $envelope;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $gw->port, Timeout => 5)
        or return (HTTP::Response->new(0, "connect: $!"), {});
    print $sock "POST /provision_x HTTP/1.1\r\nHost: localhost\r\n"
        . 'Authorization: ' . ($a{auth} // "Bearer $key") . "\r\n"
        . "Content-Type: application/json\r\n"
        . 'Content-Length: ' . length($body) . "\r\n\r\n$body";

    my $raw = '';
    my $sel = IO::Select->new($sock);
    my $until = time + 10;
    while (time < $until) {
        if ($raw =~ /\r\n\r\n/ && $raw =~ /^Content-Length: (\d+)\r$/mi) {
            my $want = $1 + index($raw, "\r\n\r\n") + 4;
            last if length $raw >= $want;
        }
        next unless $sel->can_read(0.1);
        last unless sysread($sock, $raw, 65536, length $raw);
    }
    close $sock;

    my $res = HTTP::Response->parse($raw);
    my $answer = eval { $json->decode($res->content) } // {};
    return ($res, $answer);
}

sub count { $counted{ $_[0] }{ $_[1] }++ }

sub received { scalar(my @c = $platform->received) }

my $stamp = '2026-11-28 09:00:00';

# ---- Aliyun, GET: the platform's answer, parsed -------------------------

{
    my ($res, $a) = call({
        mode => 'live', user_id => 'svc-record',
        payload => {Action => 'QueryRecordFileDownloadUrl',
                    PoolKey => 'FC123456', CallId => 'c-1',
                    CallTime => $stamp}});
    count(ali => 'ok');

    is $res->code, 200, 'Aliyun live: 200';
    is $res->header('Content-Type'), 'application/json', '... JSON';
    is $a->{status_code}, 200, '... status_code 200';
    is $a->{message}, 'Success', '... message Success';
    is $a->{data}{Code}, 'OK', "... data is the platform's answer";
    is $a->{data}{DownloadUrl},
        'https://record.example.com/c-1.mp3?Expires=7200', '... DownloadUrl';
    ok exists $a->{error} && !defined $a->{error}, '... error null';

    my ($got) = reverse $platform->received;
    is $got->{verdict}, 'verified', 'the platform verified the POP signature';
    is $got->{method}, 'GET', '... a GET, as the target says';
    is $got->{params}{AccessKeyId}, 'testId', '... AccessKeyId = the app';
    is $got->{params}{CallTime}, $stamp, '... the parameters intact';
    ok !grep({ /bearer|consumer-key/i } values %{ $got->{headers} }),
        "the caller's API key never reaches the platform";
    ok !exists $got->{headers}{'x-aksk'}, '... nor any X-AKSK';
}

# ---- Aliyun, POST: a form body, nothing in the URL -----------------------

{
    my ($res, $a) = call({
        mode => 'live', config_id => 2, user_id => 'svc-bind',
        payload => {Action => 'BindAxb', PoolKey => 'FC123456',
                    PhoneNoA => '+8613800000001', PhoneNoB => '13900000002',
                    Expiration => '2026-11-29 17:15:30',
                    OutId => 'order#42 x'}});
    count('ali-post' => 'ok');

    is $res->code, 200, 'Aliyun POST: 200';
    is $a->{data}{SecretBindDTO}{SubsId}, '1000000001', '... the binding';
    is $a->{data}{Echo}{PhoneNoA}, '+8613800000001',
        "... '+' arrived as '+'";
    is $a->{data}{Echo}{OutId}, 'order#42 x', "... '#' and ' ' too";

    my ($got) = reverse $platform->received;
    is $got->{verdict}, 'verified', 'the platform verified the POST';
    is $got->{method}, 'POST', '... a POST';
    is $got->{query}, '', '... with nothing in the URL';
    like $got->{headers}{'content-type'},
        qr{^application/x-www-form-urlencoded}, '... and a form body';
}

# ---- Huawei: the record's 301, a binding's JSON body ---------------------

{
    my ($res, $a) = call({
        mode => 'live', config_id => 4, user_id => 'svc-record',
        payload => {path => '/rest/provision/voice/record/v1.0',
                    query => {fileName => 'r1.wav',
                              recordDomain => 'd.example.com'}}});
    count(hw => 'ok');

    is $res->code, 200, 'Huawei record download: 200';
    is_deeply $a->{data},
        {location => 'https://obs.example.com/rec/r1.wav?domain=d.example.com'},
        "... data.location is the platform's Location";

    my ($got) = reverse $platform->received;
    is $got->{verdict}, 'verified', 'the platform verified the X-AKSK';
    is $got->{method}, 'GET', '... a GET';
    is $got->{headers}{'content-type'}, 'application/json;charset=UTF-8',
        '... with the documented Content-Type';

    my $body = {relationNum => '+8617000000001',
                callerNum => '+8613800000001', name => "\x{7528}\x{6237}",
                maxDuration => 60};
    ($res, $a) = call({mode => 'live', config_id => 4, user_id => 'svc-bind',
                       payload => {path => '/rest/caas/relationnumber/'
                                           . 'partners/v1.0',
                                   body => $body}});
    count(hw => 'ok');

    is $res->code, 200, 'Huawei bind: 200';
    is $a->{data}{resultcode}, '0', '... resultcode 0';
    is_deeply $a->{data}{received}, $body,
        '... the body reached the platform intact (UTF-8 included)';
    ($got) = reverse $platform->received;
    is $got->{method}, 'POST', '... as a POST';
}

# ---- the platform refuses --------------------------------------------------

{
    my ($res, $a) = call({
        mode => 'live', user_id => 'svc-record',
        payload => {Action => 'QueryRecordFileDownloadUrl', PoolKey => 'FC1',
                    CallId => 'gone', CallTime => $stamp}});
    count(ali => 'platform_error');

    is $res->code, 422, 'a refusal in a 200: 422';
    is $a->{status_code}, 422, '... status_code 422';
    is $a->{error}{code}, 'platform_error', '... platform_error';
    is $a->{error}{platform_code}, 'isv.CALL_RECORD_NOT_EXIST',
        "... with the platform's code";
    is $a->{error}{message}, 'the call record does not exist',
        "... and its message";
    ok $a->{data}{RequestId}, "... and its RequestId in data";

    ($res, $a) = call({
        mode => 'live', config_id => 4, user_id => 'svc-record',
        payload => {path => '/rest/provision/voice/record/v1.0',
                    query => {fileName => 'missing.wav',
                              recordDomain => 'd'}}});
    count(hw => 'platform_error');

    is $res->code, 404, "Huawei's 404: 404";
    is $a->{error}{platform_code}, '1012007', '... resultcode 1012007';
    is $a->{message}, 'The record does not exist', '... resultdesc';
}

# ---- a wrong secret: the platform says so --------------------------------

{
    my ($res, $a) = call({
        mode => 'live', config_id => 3, user_id => 'svc-record',
        payload => {Action => 'QueryRecordFileDownloadUrl', PoolKey => 'FC1',
                    CallId => 'c-2', CallTime => $stamp}});
    count('ali-wrong' => 'platform_error');

    is $res->code, 400, 'Aliyun, wrong secret: 400';
    is $a->{error}{code}, 'platform_error', '... platform_error';
    is $a->{error}{platform_code}, 'SignatureDoesNotMatch',
        '... SignatureDoesNotMatch';
    my ($got) = reverse $platform->received;
    is $got->{verdict}, 'bad signature', 'the platform found it wrong';

    ($res, $a) = call({
        mode => 'live', config_id => 5, user_id => 'svc-record',
        payload => {path => '/rest/provision/voice/record/v1.0',
                    query => {fileName => 'r2.wav', recordDomain => 'd'}}});
    count('hw-wrong' => 'platform_error');

    is $res->code, 403, 'Huawei, wrong secret: 403';
    is $a->{error}{code}, 'platform_error', '... platform_error';
    is $a->{error}{platform_code}, '1010002', '... 1010002';
    ($got) = reverse $platform->received;
    is $got->{verdict}, 'bad digest', 'the platform found it wrong';
}

# ---- the deadline: 500 ms, a platform that takes 2 s ---------------------

for my $case (
    [ali => {Action => 'QueryRecordFileDownloadUrl', PoolKey => 'FC1',
             CallId => 'slow', CallTime => $stamp}, 1],
    [hw => {path => '/rest/provision/voice/record/v1.0',
            query => {fileName => 'slow.wav', recordDomain => 'd'}}, 4])
{
    my ($target, $payload, $id) = @$case;
    my $t0 = time;
    my ($res, $a) = call({mode => 'live', config_id => $id,
                          user_id => 'svc-slow', payload => $payload});
    my $took = time - $t0;
    count($target => 'platform_timeout');

    is $res->code, 504, "$target, slow platform: 504";
    is $a->{error}{code}, 'platform_timeout', '... platform_timeout';
    is $a->{status_code}, 504, '... status_code 504';
    cmp_ok $took, '>=', 0.45, '... not before the deadline';
    cmp_ok $took, '<', 1.5, '... but at it, not when the platform answers';
}

ok $gw->wait_log(qr/target "ali" did not answer within 500 ms/),
    'the missed deadline is logged';
ok $gw->wait_log(qr/interface answer after the deadline ignored/, 10),
    "the platform's late answer is dropped when it comes";

# ---- a platform that cannot be reached ----------------------------------

{
    my ($res, $a) = call({
        mode => 'live', config_id => 6, user_id => 'svc-record',
        payload => {path => '/rest/provision/voice/record/v1.0',
                    query => {fileName => 'r3.wav', recordDomain => 'd'}}});
    count(down => 'platform_error');

    is $res->code, 502, 'unreachable: 502';
    is $a->{error}{code}, 'platform_error', '... platform_error';
    is $a->{error}{message}, 'the platform could not be reached',
        '... could not be reached';
}

# ---- an answer larger than the pass location's buffer ------------------

{
    my ($res, $a) = call({
        mode => 'live', config_id => 7, user_id => 'svc-bind',
        payload => {Action => 'BindAxb', PoolKey => 'FC1'}});
    count('ali-small' => 'platform_error');

    is $res->code, 502, 'an answer too big to read: 502';
    is $a->{error}{code}, 'platform_error', '... platform_error';
    ok $gw->wait_log(qr/the platform's answer \(status 200\) was not read whole: is it larger than subrequest_output_buffer_size\?/),
        '... and the log says why';
}

# ---- traffic goes on, on both workers ------------------------------------

{
    my $ok = 0;
    for my $n (1 .. 12) {
        my ($res, $a) = $n % 2
            ? call({mode => 'live', user_id => "after-$n",
                    payload => {Action => 'QueryRecordFileDownloadUrl',
                                PoolKey => 'FC1', CallId => "n-$n",
                                CallTime => $stamp}})
            : call({mode => 'live', config_id => 4, user_id => "after-$n",
                    payload => {path => '/rest/provision/voice/record/v1.0',
                                query => {fileName => "n-$n.wav",
                                          recordDomain => 'd'}}});
        count(($n % 2 ? 'ali' : 'hw') => 'ok');
        $ok++ if $res->code == 200 && $a->{status_code} == 200;
    }
    is $ok, 12, 'after the deadlines, every call of both dialects passes';
}

# ---- debug calls and refusals reach nothing -----------------------------

{
    my $before = received();

    my ($res, $a) = call({
        mode => 'debug', user_id => 'onboarding',
        payload => {Action => 'QueryRecordFileDownloadUrl',
                    PoolKey => 'FC1', CallId => 'd-1', CallTime => $stamp}});
    count(ali => 'debug');
    is $res->code, 200, 'debug, Aliyun: 200';
    ok $a->{data}{ready}, '... ready';
    like $a->{data}{signing}{string_to_sign}, qr/^GET&%2F&AccessKeyId%3DtestId%26/,
        '... the string to sign';
    like $a->{data}{request}{query}, qr/&Signature=[^&]+$/,
        '... the query with its signature';
    unlike $res->content, qr/testSecret/, '... never the secret';

    ($res, $a) = call({
        mode => 'debug', config_id => 4, user_id => 'onboarding',
        payload => {path => '/rest/provision/voice/record/v1.0',
                    query => {fileName => 'd.wav', recordDomain => 'd'}}});
    count(hw => 'debug');
    is $res->code, 200, 'debug, Huawei: 200';
    like $a->{data}{request}{headers}{'X-AKSK'},
        qr/^UsernameToken Username="appKeyA",PasswordDigest="/,
        '... the X-AKSK header';
    unlike $res->content, qr/secretA/, '... never the secret';

    my @refusals = (
        [401, 'unauthorized', '', {mode => 'live', user_id => 'u',
                                   payload => {}}, 'Bearer wrong-key'],
        [400, 'bad_request', '', {mode => 'live', payload => {}}],
        [404, 'unknown_config', '', {mode => 'live', config_id => 99,
                                     user_id => 'u', payload => {}}],
        [403, 'operation_not_allowed', 'ali',
         {mode => 'live', user_id => 'u',
          payload => {Action => 'UnbindSubscription'}}],
        [400, 'bad_request', 'ali',
         {mode => 'live', user_id => 'u',
          payload => {Action => 'QueryRecordFileDownloadUrl',
                      Timestamp => '2026-01-01T00:00:00Z'}}],
    );

    for my $r (@refusals) {
        my ($code, $error, $target, $envelope, $auth) = @$r;
        ($res, $a) = call($envelope, auth => $auth);
        count($target => $error);
        is $res->code, $code, "refused: $code $error";
        is $a->{error}{code}, $error, "... $error";
    }

    is received(), $before, 'no debug call and no refusal reached the platform';
}

# ---- the same through provision-x interface -----------------------------

SKIP: {
    my $px = "$FindBin::Bin/../build/provision-x";
    skip "$px not built (make)", 7 unless -x $px;

    my @common = ('--url', 'http://127.0.0.1:' . $gw->port . '/provision_x',
                  '--api-key-file', "$secrets/api-a.key",
                  '--user-id', 'cli');
    my ($out, $err);

    run3([$px, 'interface', @common, '--mode', 'live', '--config-id', 4,
          '--payload', '{"path":"/rest/provision/voice/record/v1.0",'
          . '"query":{"fileName":"cli.wav","recordDomain":"d"}}'],
         \undef, \$out, \$err);
    count(hw => 'ok');
    is $? >> 8, 0, 'provision-x interface, live: exit 0';
    is_deeply eval { $json->decode($out) }->{data},
        {location => 'https://obs.example.com/rec/cli.wav?domain=d'},
        "... the platform's answer";

    my $payload = "$FindBin::Bin/servroot-interface-live/payload.json";
    open my $fh, '>', $payload or die $!;
    print $fh '{"Action":"QueryRecordFileDownloadUrl","PoolKey":"FC1",'
        . '"CallId":"cli","CallTime":"2026-11-28 09:00:00"}';
    close $fh;
    my $before = received();
    run3([$px, 'interface', @common, '--payload', "\@$payload"],
         \undef, \$out, \$err);
    count(ali => 'debug');
    is $? >> 8, 0, '... debug (its default), the payload from a file: exit 0';
    like $out, qr/"mode":"debug","sent":false,"ready":true/, '... explained';
    is received(), $before, '... and not sent';

    run3([$px, 'interface', @common, '--mode', 'live',
          '--payload', '{"Action":"UnbindSubscription"}'],
         \undef, \$out, \$err);
    count(ali => 'operation_not_allowed');
    is $? >> 8, 1, '... a refusal: exit 1';
    like $out, qr/"code":"operation_not_allowed"/, '... with the envelope';
}

# ---- one line per call; the variables ------------------------------------

like $gw->error_log,
    qr/\[info\].*interface call: user "svc-record" target "ali" operation "QueryRecordFileDownloadUrl": ok 200 \(platform 200, \d+ ms\)/,
    'one line per call: user, target, operation, outcome';
like $gw->error_log,
    qr/interface call: user "svc-slow" target "hw" operation "\/rest\/provision\/voice\/record\/v1.0": platform_timeout 504 \(platform 0/,
    '... the timeouts too';

{
    open my $fh, '<', $gw->prefix . '/logs/px.log' or die;
    my @lines = <$fh>;
    close $fh;
    ok grep({ $_ eq "svc-bind hw /rest/caas/relationnumber/partners/v1.0 ok 200\n" } @lines),
        'the access log has user_id, target, operation and outcome';
    ok grep({ $_ eq "- - - unauthorized 401\n" } @lines),
        '... and the refusals\' outcome';
}

# ---- the counters ----------------------------------------------------------

{
    my $res = $gw->request(GET => '/status?format=prometheus',
                           headers => [Authorization => "Bearer $key"]);
    is $res->code, 200, 'the status page answers';

    my $text = $res->content;
    my $all = 1;
    for my $target (sort keys %counted) {
        for my $outcome (sort keys %{ $counted{$target} }) {
            my $n = $counted{$target}{$outcome};
            $all &&= like $text,
                qr/^provision_x_interface_calls_total\{target="\Q$target\E",outcome="$outcome"\} $n$/m,
                "counted: target \"$target\" $outcome $n";
        }
    }
    like $text,
        qr/^provision_x_interface_calls_total\{target="down",outcome="ok"\} 0$/m,
        '... zeros included';

    $res = $gw->request(GET => '/status',
                        headers => [Authorization => "Bearer $key"]);
    my ($hw) = grep { $_->{target} eq 'hw' }
        @{ $json->decode($res->content)->{interface} };
    is $hw->{ok}, $counted{hw}{ok}, 'the same in the JSON status';
    is $hw->{platform_timeout}, 1, '... by outcome';
}

# ---- log hygiene: nothing secret, at any level ---------------------------

{
    my @signatures = grep { defined && length } map { $_->{signature} }
        $platform->received;
    cmp_ok scalar(@signatures), '>', 10, 'the platform saw the signatures';

    my $logs = '';
    for my $f (qw(error.log debug.log)) {
        open my $fh, '<', $gw->prefix . "/logs/$f" or die "$f: $!";
        local $/;
        $logs .= <$fh>;
    }

    like $logs, qr/\[debug\]/, 'the debug log is written';
    for my $never ('testSecret', 'secretA', 'other-secret', $key,
                   '8613800000001', '13900000002', '8617000000001') {
        unlike $logs, qr/\Q$never\E/, "no log line holds \"$never\"";
    }

    my @leaked = grep {
        my $s = $_;
        my $pct = $s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ger;
        index($logs, $s) >= 0 || index($logs, $pct) >= 0
    } @signatures;
    is scalar(@leaked), 0, 'no log line holds a signature or digest sent'
        or diag "leaked: @leaked[0 .. 2]";
}

$gw->stop;
$platform->stop;

done_testing;
