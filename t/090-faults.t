# What the gateway itself fails at answers 5xx, so the platform retries,
# and marks nothing seen: with the fault-injection build (make
# test-faults), each point is made to fail in turn (nginx's "env
# PROVISION_X_FAULT=point", then a reload), the request gets 5xx, and the
# very same request after a reload without the fault passes: the nonce
# was not recorded, the push's records and body were not marked, nothing
# was handed off twice.  Skipped with an ordinary build.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::More;

use PXEvents;
use PXNginx;
use PXQueue;
use PXSign;

plan skip_all => 'not a fault-injection build (make test-faults)'
    unless PXNginx::fault_build();

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $http = <<"_EOC_";
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app ali secret=$secrets/aliyun.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:1m;
    provision_x_api_key $secrets/api-a.key;
    provision_x_app testId secret=$secrets/pop-test.key;
    provision_x_interface_target ali id=1 dialect=aliyun app=testId
        pass=/_px operations=BindAxb;
_EOC_

my $server = <<'_EOC_';
        provision_x_nonce nonces;

        location = /hw {
            provision_x_verify huawei;
            return 200 "ok\n";
        }
        location = /ali {
            provision_x_verify aliyun;
            return 200 "ok\n";
        }
        location = /cdr {
            provision_x_verify huawei;
            provision_x_cdr huawei queue=q dedup=dedup;
            provision_x_dead_letter logs/dead.ndjson;
        }
        location = /events {
            provision_x_verify huawei;
            provision_x_receive huawei types=answer,numStatus queue=q
                                dedup=dedup;
            provision_x_dead_letter logs/dead.ndjson;
        }
        location = /sms {
            provision_x_verify huawei;
            provision_x_sms_control huawei pass=/_sms;
            add_header X-SMS-Control $provision_x_call_control always;
        }
        location = /_sms {
            internal;
            proxy_pass http://127.0.0.1:$server_port/sms-service;
        }
        location = /sms-service {
            return 200 '{"actions":[{"operation":"DiscardMessage"}]}';
        }
        location = /cdr-forward {
            provision_x_cdr huawei forward=/_sink dedup=dedup;
            provision_x_dead_letter logs/dead.ndjson;
        }
        location = /_sink {
            internal;
            proxy_pass http://127.0.0.1:$server_port/stored;
        }
        location = /stored { return 200; }
        location = /provision_x { provision_x_interface target=ali; }
        location = /_px {
            internal;
            proxy_pass http://127.0.0.1:$server_port/platform;
        }
        location = /platform {
            return 200 '{"Code":"OK","Message":"OK","RequestId":"f"}';
        }
        location = /status { provision_x_status; }
_EOC_

my $nginx = PXNginx->new(name => 'faults', workers => 2, http => $http,
                         server => $server);
ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);

my $json = JSON::PP->new;

sub faults {
    my ($points) = @_;
    return $nginx->reload(main => "env PROVISION_X_FAULT=$points;\n");
}

sub headers { [map { split /: /, $_, 2 } split /\n/, $_[0]] }

sub huawei { headers(huawei_headers(app => 'appKeyA', secret => 'secretA')) }

sub depth {
    my $res = $nginx->request(GET => '/status', headers => consumer_auth());
    return $json->decode($res->content)->{queues}[0]{depth};
}

# Huawei hand-offs (CDRs and events) the sink did not confirm, and those
# the histogram timed
sub failed_hand_offs {
    my $s = $json->decode(
        $nginx->request(GET => '/status', headers => consumer_auth())->content);
    my ($timed, $failed) = (0, $s->{cdr}{huawei}{hand_off}{'5xx'});
    $timed += $_->{count} for values %{ $s->{latency}{hand_off}{huawei} };
    $failed += $_->{hand_off}{'5xx'} for values %{ $s->{events}{huawei} };
    return ($failed, $timed);
}

my $pushes = 0;

# Each case: a request (code that sends it the same way every time), the
# status the fault must give, and what it gives once the fault is gone;
# then the records it hands off, and whether its failure is a hand-off's
# (counted as a 5xx hand-off and timed).
my @cases = (
    ['verify_body', 'an Aliyun form body that cannot be read', 500, 200,
     do {
         my $q = aliyun_query(secret => 'testSecret', params => {callId => 'f1'});
         sub {
             $nginx->request(POST => '/ali', body => $q, headers =>
                 ['Content-Type' => 'application/x-www-form-urlencoded']);
         };
     }],
    ['verify_alloc', 'no memory for the parameters', 500, 200,
     do {
         my $q = aliyun_query(secret => 'testSecret', params => {callId => 'f2'});
         sub { $nginx->request(GET => "/ali?$q") };
     }],
    ['hmac', 'OpenSSL failing under a Huawei signature', 500, 200,
     do { my $h = huawei(); sub { $nginx->request(GET => '/hw', headers => $h) } }],
    ['hmac', 'OpenSSL failing under an Aliyun signature', 500, 200,
     do {
         my $q = aliyun_query(secret => 'testSecret', params => {callId => 'f3'});
         sub { $nginx->request(GET => "/ali?$q") };
     }],
    ['nonce_digest', 'the nonce digest failing', 500, 200,
     do { my $h = huawei(); sub { $nginx->request(GET => '/hw', headers => $h) } }],
    ['reject_alloc', 'no memory for a refusal\'s body', 500, 403,
     do {
         my $h = headers(huawei_headers(app => 'appKeyA', secret => 'wrong'));
         sub { $nginx->request(GET => '/hw', headers => $h) };
     }],
);

for my $point (qw(cdr_body cdr_parse cdr_lines queue_push dead_letter)) {
    my $push = fee_push(tag => $point, records => [
        fee_record($point, 1), fee_record($point, 2),
        ($point eq 'dead_letter' ? fee_record($point, 3, spId => '') : ())]);
    my $h = huawei();
    push @cases, [$point, "a push, $point failing",
                  $point eq 'dead_letter' ? 503 : 500, 200,
                  sub {
                      # a fresh signature each time: the nonce is not the point
                      $nginx->request(POST => '/cdr', body => $push,
                                      headers => huawei());
                  }, 2, $point eq 'queue_push'];
}

# the same points under an event push: numStatus, two good entries (and
# one bad one for the dead letter), numbers of their own
my $number = 0;
for my $point (qw(cdr_body cdr_parse cdr_lines queue_push dead_letter)) {
    $number += 10;
    my $push = event_push('numStatus',
        event_record('numStatus', $point, $number + 1),
        event_record('numStatus', $point, $number + 2),
        ($point eq 'dead_letter'
             ? event_record('numStatus', $point, $number + 3, number => undef)
             : ()));
    push @cases, [$point, "an event push, $point failing",
                  $point eq 'dead_letter' ? 503 : 500, 200,
                  sub {
                      $nginx->request(POST => '/events', body => $push,
                                      headers => huawei());
                  }, 2, $point eq 'queue_push'];
}

push @cases, ['forward', 'a forward subrequest that cannot be made', 500, 200,
              do {
                  my $push = fee_push(tag => 'fw', n => 2);
                  sub { $nginx->request(POST => '/cdr-forward', body => $push) };
              }, 0, 1];

# calls that reached the platform stand-in (its requests' access log lines)
sub platform_calls {
    open my $fh, '<', $nginx->prefix . '/logs/access.log' or return 0;
    return scalar grep { m{"POST /platform } } <$fh>;
}

for my $point (qw(interface_sign interface_subrequest)) {
    push @cases, [$point, "an interface call, $point failing", 500, 200,
                  sub {
                      $nginx->request(POST => '/provision_x', headers =>
                          [Authorization => 'Bearer consumer-key-one-7f3a9c'],
                          body => '{"mode":"live","user_id":"u","payload":'
                                  . '{"Action":"BindAxb","PoolKey":"FC1"}}');
                  }, undef, 0, \&platform_calls];
}

for my $case (@cases) {
    my ($point, $what, $faulty, $fine, $send, $records, $hand_off, $sent)
        = @$case;

    ok faults($point), "reload failing \"$point\"";
    my $before = depth();
    my @failed = failed_hand_offs();
    my $sent_before = $sent ? $sent->() : 0;

    for my $try (1 .. 2) {
        is $send->()->code, $faulty, "$what: $faulty ($try)";
    }
    is depth(), $before, '... nothing was handed off';
    my @now = failed_hand_offs();
    is_deeply [$now[0] - $failed[0], $now[1] - $failed[1]],
        $hand_off ? [2, 2] : [0, 0],
        $hand_off ? '... two failed hand-offs, counted 5xx and timed'
                  : '... and no hand-off counted';
    is $sent->(), $sent_before, '... nothing was sent to the platform'
        if $sent;

    ok faults(''), 'reload without faults';
    is $send->()->code, $fine, "the same request now: $fine";
    if ($sent) {
        # the stand-in's worker may log its request a moment after answering
        for (1 .. 40) {
            last if $sent->() > $sent_before;
            select undef, undef, undef, 0.05;
        }
        is $sent->(), $sent_before + 1, '... and it reached the platform';
    }
    is depth(), $before + ($records // 0),
        '... its records handed off once: none had been marked seen'
        if $records;
}

# SMS control that cannot ask the service answers its fallback (a 5xx
# would leave the message undecided), and asks again once it can
sub sms_service_calls {
    open my $fh, '<', $nginx->prefix . '/logs/access.log' or return 0;
    return scalar grep { m{"POST /sms-service } } <$fh>;
}

ok faults('control_subrequest'), 'reload failing "control_subrequest"';
my $sms = event_push('smsEvent',
    event_record('smsEvent', 'f', 1, notificationMode => 'Block'));
my $calls = sms_service_calls();
my $res = $nginx->request(POST => '/sms', body => $sms, headers => huawei());
is $res->code, 200, 'SMS control without a subrequest: 200';
is $res->content, '{"actions":[{"operation":"DiscardMessage"}]}',
    '... the fallback';
is $res->header('X-SMS-Control'), 'fallback_error', '... fallback_error';
is sms_service_calls(), $calls, '... the service was not asked';
ok faults(''), 'reload without faults';
$res = $nginx->request(POST => '/sms', body => $sms, headers => huawei());
is $res->header('X-SMS-Control'), 'relayed', 'the same push now: relayed';

like $nginx->error_log, qr/rejected huawei callback: internal_error \(app "appKeyA"\), OpenSSL failed/,
    'the refusal line names the failure as the gateway\'s';

$nginx->stop;

# shared memory that cannot be had at start: nginx refuses to start
{
    local $ENV{PROVISION_X_FAULT} = 'shm_init';
    my $broken = PXNginx->new(name => 'faults-shm', http => $http,
                              server => $server);
    ok !$broken->start, 'a zone that cannot get its memory: nginx does not start';
    like $broken->error_log, qr/\[emerg\].*zone "(nonces|dedup)" is too small/,
        'and says which zone';
    $broken->expect_in_log(qr/\[emerg\]/);
}

done_testing();
