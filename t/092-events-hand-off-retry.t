# A failed hand-off is retried into exactly one delivery, for every event
# type of both dialects (11) on every sink (3), two workers:
#
#   forward=  the customer's service down, then up but answering 502,
#             then well;
#   queue=    the queue full (of other records), then drained by a
#             consumer;
#   redis=    Redis stopped, then started (empty: nothing written before
#             can hide a record that was lost).
#
# For each type, during the fault: the push and its identical retry are
# answered the dialect's 5xx shape (so the platform retries) and nothing
# reaches the sink; after recovery: the platform's retry is acknowledged
# in the type's own shape and each of its records delivered once; a
# further identical retry, and the same records in other bytes, deliver
# nothing.  Marking a record or the body seen before the sink confirmed it
# loses the record after recovery; a sink that acknowledges without
# delivering loses it too; forgetting what was delivered delivers twice.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

use PXEvents;
use PXNginx;
use PXQueue;
use PXRedis;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $json = JSON::PP->new;
my @types = (huawei_event_types(), aliyun_event_types());
my $port = $ENV{TEST_NGINX_PORT};

my $redis = PXRedis->new(name => 'events-retry');
$redis->start;
my $rport = $redis->port;

# The customer's service, started only later; it answers 502 while
# html/fail exists, and logs the bodies it answered 200.
my $service = PXNginx->new(name => 'events-retry-service',
                           port => $port && $port + 1, server => <<'_EOC_');
        location = /ingest {
            if (-f $document_root/fail) { return 502; }
            client_body_buffer_size 1m;
            access_log logs/received.log received if=$stored;
            proxy_pass http://127.0.0.1:$server_port/stored;
        }
        location = /stored { return 200; }
_EOC_
$service->write_config(http => <<'_EOC_');
    log_format received escape=none '$request_body';
    map $status $stored { 200 1; default 0; }
_EOC_
my $sport = $service->port;
my $fail_flag = $service->prefix . '/html/fail';

# the Huawei receivers verify, the Aliyun ones cannot: a queue each
my %sink_of = (forward => 'forward=/_service', queue => 'queue=q',
               redis => 'redis=/_redis');
my %aliyun_sink_of = (%sink_of, queue => 'queue=qa');
my $huawei_types = join ',', huawei_event_types();
my $locations = '';
for my $sink (sort keys %sink_of) {
    $locations .= <<"_EOC_";
        location = /hw/$sink {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=$huawei_types
                                $sink_of{$sink} dedup=dedup;
            add_header X-Worker \$pid always;
        }
_EOC_
    $locations .= <<"_EOC_" for aliyun_event_types();
        location = /ali/$sink/$_ {
            provision_x_receive aliyun types=$_ $aliyun_sink_of{$sink}
                                dedup=unsigned;
            add_header X-Worker \$pid always;
        }
_EOC_
}

my $nginx = PXNginx->new(name => 'events-retry', port => $port, workers => 2,
                         http => <<"_EOC_", server => <<"_EOC_" . $locations);
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_dedup_zone zone=unsigned:1m ttl=1h;
    provision_x_queue_zone zone=q:64k;
    provision_x_queue_zone zone=qa:64k;
    provision_x_api_key $secrets/api-a.key;
    provision_x_dead_letter logs/dead.ndjson;
    upstream px_redis {
        server 127.0.0.1:$rport;
        keepalive 2;
    }
    provision_x_redis_stream px:events;
_EOC_
        provision_x_nonce nonces;

        location = /_service {
            internal;
            proxy_pass_request_headers off;
            proxy_set_header Content-Type application/x-ndjson;
            proxy_pass http://127.0.0.1:$sport/ingest;
        }
        location = /_redis {
            internal;
            provision_x_redis_read_timeout 1s;
            provision_x_redis_pass px_redis;
        }
        location /queue { provision_x_queue_consume q max=1000; }
        location /queue-aliyun { provision_x_queue_consume qa max=1000; }
        location = /status { provision_x_status; }
_EOC_
ok $nginx->start, 'nginx starts with two workers'
    or BAIL_OUT($nginx->error_log);

my %workers;

# hand-offs per type and class (2xx, 5xx), for the status page
my %hand_offs;

sub post {
    my ($sink, $type, $body) = @_;
    my $url = event_dialect($type) eq 'aliyun'
        ? "/ali/$sink/$type" : "/hw/$sink";
    my $res = post_event($nginx, $url, $type, $body);
    $workers{ $res->header('X-Worker') // '' }++;
    return $res;
}

# The records of a sink's push of $type: three of a list, one event.  A
# number's and a managed number's records are told apart by their index
# only, and the dedup zones are shared by the sinks: each sink its own
# indexes.
my %base = (forward => 0, queue => 10, redis => 20);

sub indexes {
    my ($sink, $type) = @_;
    return map { $base{$sink} + $_ } 1 .. (takes_list($type) ? 3 : 1);
}

sub matrix_push {
    my ($sink, $type, $spaced) = @_;
    my $body = event_push($type,
        map { event_record($type, $sink, $_) } indexes($sink, $type));
    return $spaced ? $body =~ s/,/, /gr : $body;
}

sub expected_keys {
    my ($sink) = @_;
    return { map { my $t = $_; map { event_key($t, $sink, $_) => 1 }
                   indexes($sink, $t) } @types };
}

# What each sink delivered since it was last asked, as NDJSON lines.
my %delivered_so_far = (forward => 0, redis => 0);

my %deliveries = (
    forward => sub {
        my ($want) = @_;
        my @lines = $service->log_lines('received.log',
                                        $delivered_so_far{forward} + $want);
        my @new = @lines[$delivered_so_far{forward} .. $#lines];
        $delivered_so_far{forward} = @lines;
        return @new;
    },
    queue => sub { map { lease_all($nginx, $_) } '/queue', '/queue-aliyun' },
    redis => sub {
        my @e = $redis->entries('px:events');
        my @new = map { $_->[1]{line} } @e[$delivered_so_far{redis} .. $#e];
        $delivered_so_far{redis} = @e;
        return @new;
    },
);

# The (type, key) of each line, counted.
sub tally {
    my %count;
    for (@_) {
        my $line = $json->decode($_);
        $count{"$line->{type} $line->{key}"}++;
    }
    return \%count;
}

# --- one sink: attempts during each fault, recovery, retries -------------

sub during_fault {
    my ($sink, $fault, $status, $message) = @_;
    for my $type (@types) {
        my $body = matrix_push($sink, $type);
        for my $try ('the push', 'its identical retry') {
            my $res = post($sink, $type, $body);
            $hand_offs{$type}{'5xx'}++;
            is $res->code, $status, "$sink, $fault: $type, $try: $status";
            my $got = eval { $json->decode($res->content) };
            is_deeply $got, refusal_of($type, $status, $message),
                "$sink, $fault: $type, $try: in the dialect's shape";
            like $res->content, event_dialect($type) eq 'huawei'
                ? qr/"resultcode":"$status"/ : qr/"code":$status[,}]/,
                "$sink, $fault: $type, $try: its code a "
                . (event_dialect($type) eq 'huawei' ? 'string' : 'number');
            is $res->header('Retry-After'), 60,
                "$sink, $fault: $type, $try: Retry-After"
                if $status == 503;
        }
    }
}

sub after_recovery {
    my ($sink) = @_;
    my $expected = expected_keys($sink);
    for my $type (@types) {
        my $res = post($sink, $type, matrix_push($sink, $type));
        $hand_offs{$type}{'2xx'}++;
        is $res->code, 200, "$sink, recovered: $type, the platform's retry";
        is $res->content, ack_of($type), "$sink: $type: its acknowledgement";
    }
    my $got = tally($deliveries{$sink}->(scalar keys %$expected));
    for my $type (@types) {
        is_deeply { map { /^\Q$type\E (.*)/ ? ($1 => $got->{$_}) : () }
                    keys %$got },
            { map { event_key($type, $sink, $_) => 1 }
                  indexes($sink, $type) },
            "$sink: $type: each record delivered once, named by its type";
    }
    is scalar(keys %$got), scalar(keys %$expected),
        "$sink: nothing else delivered";

    for my $type (@types) {
        for my $spaced (0, 1) {
            my $res = post($sink, $type, matrix_push($sink, $type, $spaced));
            is $res->code, 200, "$sink: $type, "
                . ($spaced ? 'its records in other bytes' : 'a further retry')
                . ': acknowledged';
        }
    }
    is_deeply [$deliveries{$sink}->(0)], [],
        "$sink: the further retries delivered nothing";
}

# --- forward: the service down, then answering 502, then well ------------

during_fault('forward', 'the service down', 502, 'hand-off failed');
open my $flag, '>', $fail_flag or die "$fail_flag: $!";
close $flag;
ok $service->start, 'the service comes up, answering 502'
    or BAIL_OUT($service->error_log);
during_fault('forward', 'the service answering 502', 502, 'hand-off failed');
is_deeply [$deliveries{forward}->(0)], [],
    'forward: the service stored nothing';
unlink $fail_flag;
after_recovery('forward');

# --- queue: both full of other records, then drained ---------------------

# Fillers are no larger than the matrix's records of their type (a shorter
# tag, one more digit), so once each type's filler is refused, so is its
# matrix push.
my ($filler, @filled) = (100);

sub fill {
    my ($type, $per_push) = @_;
    for (1 .. 500) {
        my @i = map { $filler++ } 1 .. $per_push;
        my $res = post('queue', $type,
            event_push($type, map { event_record($type, 'f', $_) } @i));
        $hand_offs{$type}{ $res->code == 200 ? '2xx' : '5xx' }++;
        return if $res->code == 503;
        die "filling the queue: " . $res->code . "\n" if $res->code != 200;
        push @filled, map { event_key($type, 'f', $_) } @i;
    }
    die "the queue never filled\n";
}

fill($_, 20) for 'numStatus', 'SecretRecording';
fill($_, 1) for @types;
cmp_ok $filler, '<', 1000, 'the queues full of ' . scalar(@filled)
    . ' fillers: no filler index as short as a matrix one';
during_fault('queue', 'the queue full', 503, 'queue full, retry later');
my $drained = tally($deliveries{queue}->());
is_deeply [sort map { s/^\S+ //r } keys %$drained], [sort @filled],
    'a consumer drains the fillers, and only them: nothing refused was '
    . 'queued';
after_recovery('queue');

# --- redis: stopped, then started ------------------------------------------

$redis->stop;
during_fault('redis', 'Redis stopped', 502, 'hand-off failed');
$redis->start;
after_recovery('redis');

# --- all the while ----------------------------------------------------------

cmp_ok scalar(grep { length } keys %workers), '==', 2,
    'both workers took pushes';

my $status = $json->decode($nginx->request(GET => '/status',
                                           headers => consumer_auth())
                           ->content)->{events};
for my $type (@types) {
    my $c = $status->{ event_dialect($type) }{$type}{hand_off};
    is_deeply { map { $_ => $c->{$_} } qw(2xx 5xx) }, $hand_offs{$type},
        "status: $type: $hand_offs{$type}{'2xx'} hand-offs, "
        . "$hand_offs{$type}{'5xx'} failed; the further retries none";
}

# every failed forward (4 per type) and Redis write (2) logged by type
my $log = $nginx->error_log;
for my $type (@types) {
    my $records = takes_list($type) ? 3 : 1;
    my @logged = map {
        my $line = "provision_x: $type $_ answered 502, $records records "
            . 'not acknowledged';
        scalar(() = $log =~ /\[error\].* \Q$line\E/g);
    } qw(forward redis);
    is_deeply \@logged, [4, 2],
        "the log: $type, each failed hand-off, with its records";
}

$nginx->stop;
$service->stop;

done_testing();
