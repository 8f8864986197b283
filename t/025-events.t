# The platforms' other pushes, every type of both dialects (spec §3.3,
# §3.5, §3.6, §2.6.2), through provision_x_receive and the forward sink:
# a valid push is handed off as NDJSON lines naming its type and keyed as
# the spec's fields say, and acknowledged in the type's own shape (Huawei
# events: 200 with an empty body; Aliyun receipts {"code":0,...}); its
# byte-identical retry and a later push repeating its records hand nothing
# off again; an invalid field costs only its record, which is
# dead-lettered; a push of a type the location does not take is refused
# in the dialect's shape; a Block-mode callin or SMS is dead-lettered with
# an error that says where it belongs; the counters per dialect and type
# add up.

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
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $aliyun_locations = join '', map { <<"_EOC_" } aliyun_event_types();
        location = /ali/$_ {
            provision_x_receive aliyun types=$_ forward=/_forward
                                dedup=unsigned;
            access_log logs/types.log types;
        }
_EOC_

my $nginx = PXNginx->new(name => 'events', workers => 2,
                         http => <<"_EOC_", server => <<'_EOC_' . $aliyun_locations);
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_dedup_zone zone=unsigned:1m ttl=1h;
    provision_x_dead_letter logs/dead.ndjson;
    provision_x_api_key $secrets/api-a.key;
    log_format received escape=none '\$request_body';
    log_format types '\$provision_x_push_type \$status';
_EOC_
        provision_x_nonce nonces;

        # the app's status URL: call events and number status (§3.1)
        location = /hw/status {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei
                types=callin,callout,alerting,answer,disconnect,numStatus
                forward=/_forward dedup=dedup;
            access_log logs/types.log types;
            error_log logs/error.log info;
            error_log logs/debug.log debug;
        }
        location = /hw/sms {
            provision_x_verify huawei app=appKeyA;
            provision_x_receive huawei types=smsEvent forward=/_forward
                                dedup=dedup;
            access_log logs/types.log types;
        }
        location = /_forward {
            internal;
            proxy_pass_request_headers off;
            proxy_set_header Content-Type application/x-ndjson;
            proxy_pass http://127.0.0.1:$server_port/backend;
        }
        location = /backend {
            client_body_buffer_size 1m;
            access_log logs/received.log received;
            proxy_pass http://127.0.0.1:$server_port/sink;
        }
        location = /sink { return 200 "stored\n"; }
        location = /status { provision_x_status; }
_EOC_
ok $nginx->start, 'nginx starts with a receiver for every type'
    or BAIL_OUT($nginx->error_log);

my $json = JSON::PP->new;
my %huawei = map { $_ => 1 } huawei_event_types();

sub slurp {
    my ($name) = @_;
    open my $fh, '<', $nginx->prefix . "/logs/$name" or return '';
    local $/;
    return <$fh> // '';
}

# The lines the customer's service has received so far, at least $want.
sub received { $nginx->log_lines('received.log', $_[0]) }

sub url { $huawei{ $_[0] } ? ($_[0] eq 'smsEvent' ? '/hw/sms' : '/hw/status')
                           : "/ali/$_[0]" }

sub push_event {
    my ($type, $body) = @_;
    my @h = $huawei{$type}
        ? map { split /: /, $_, 2 } split /\n/,
              huawei_headers(app => 'appKeyA', secret => 'secretA')
        : ();
    return $nginx->request(POST => url($type), body => $body,
                           headers => \@h);
}

sub is_ack {
    my ($res, $type, $what) = @_;
    is $res->code, 200, "$type: $what: 200";
    is $res->content, ack_of($type), "$type: ... acknowledged in its shape";
    is $res->header('Content-Type'),
        $huawei{$type} ? undef : 'application/json;charset=UTF-8',
        $huawei{$type} ? "$type: ... with no body and no content type"
                       : "$type: ... as JSON";
}

my $seen = 0;    # lines received so far
my %expect;      # type => counters expected at the end

for my $type (huawei_event_types(), aliyun_event_types()) {
    my $list = $type eq 'numStatus' || !$huawei{$type};
    my $tag = "v$type";
    my @ids = $list ? (1, 2) : (1);
    my $body = event_push($type, map { event_record($type, $tag, $_) } @ids);

    # --- valid ---------------------------------------------------------------
    is_ack(push_event($type, $body), $type, 'a valid push');
    my @lines = received($seen + @ids);
    my @new = @lines[$seen .. $#lines];
    is scalar(@new), scalar(@ids), "$type: its records handed off, one line "
        . 'each';
    for my $k (0 .. $#ids) {
        my $line = $json->decode($new[$k] // '{}');
        is $line->{type}, $type, "$type: the line names its type";
        is $line->{dialect}, $huawei{$type} ? 'huawei' : 'aliyun',
            "$type: and its dialect";
        is $line->{key}, event_key($type, $tag, $ids[$k]),
            "$type: keyed by the spec's fields";
        is $line->{app}, $huawei{$type} ? 'appKeyA'
            : $type eq 'NumberManagementReport' ? 'PK4000123456'
            : 'FC100000123',
            "$type: app: the verified app, or the receipt's tenant";
        is_deeply $line->{record},
            $json->decode(event_record($type, $tag, $ids[$k])),
            "$type: the record as the platform sent it";
    }
    $seen += @new;

    # --- the identical retry ---------------------------------------------------
    is_ack(push_event($type, $body), $type, 'its identical retry');
    is scalar(received($seen)), $seen, "$type: ... hands nothing off";

    # --- the same records again, in another push ------------------------------
    my $again = $list
        ? event_push($type, map { event_record($type, $tag, $_) } 2, 3)
        : event_push($type, event_record($type, $tag, 1)) =~ s/,/, /gr;
    is_ack(push_event($type, $again), $type, 'a push repeating its records');
    @lines = received($seen + ($list ? 1 : 0));
    is scalar(@lines), $seen + ($list ? 1 : 0),
        $list ? "$type: ... hands off only its new record"
              : "$type: ... hands nothing off";
    like $lines[-1], qr/"key":"\Q@{[event_key($type, $tag, 3)]}\E"/,
        "$type: ... the new one" if $list;
    $seen = @lines;

    # --- an invalid field --------------------------------------------------------
    my %bad = (
        numStatus => [status => undef],
        smsEvent => [smsIdentifier => 'x' x 65],
        NumberManagementReport => [status => 'active'],
        (map { $_ => [sessionId => undef] }
             qw(callin callout alerting answer disconnect)),
        (map { $_ => [sub_id => 'one'] }
             qw(SecretStartReport SecretRingReport SecretRecording)),
    );
    my $letters = () = slurp('dead.ndjson') =~ /\n/g;
    my $bad = event_record($type, $tag, 4, @{ $bad{$type} });
    is_ack(push_event($type, event_push($type, $list
               ? ($bad, event_record($type, $tag, 5)) : ($bad))),
           $type, 'a push with an invalid field');
    @lines = received($seen + ($list ? 1 : 0));
    is scalar(@lines), $seen + ($list ? 1 : 0),
        $list ? "$type: ... its good record is handed off"
              : "$type: ... nothing is handed off";
    $seen = @lines;
    my @dead = split /\n/, slurp('dead.ndjson');
    is scalar(@dead), $letters + 1, "$type: ... the bad one dead-lettered";
    my $letter = $json->decode($dead[-1]);
    is $letter->{type}, $type, "$type: ... the dead letter names its type";
    like $letter->{error}, qr/\Qfield "$bad{$type}[0]"\E/,
        "$type: ... and the field: $letter->{error}";

    $expect{$type} = {pushes => 3, retries => 1, refused => 0,
                      records => $list ? 4 : 1,
                      duplicates => 1, dead_lettered => 1,
                      hand_off => {'2xx' => $list ? 3 : 1, '3xx' => 0,
                                   '4xx' => 0, '5xx' => 0}};
}

like $nginx->error_log,
    qr/\[warn\].*dead-lettered huawei numStatus record 0: missing required field "status"/,
    'a dead letter is logged at warn with its type and reason';

# the handler's decisions, in the debug log
my $debug = slurp('debug.log');
like $debug, qr/\[debug\].*provision_x: huawei push of type numStatus: 2 records, 2 valid/,
    'debug: the type parsed, and the records';
like $debug, qr/\[debug\].*provision_x: the numStatus push was handed off before, acknowledged again/,
    'debug: an identical retry';
like $debug, qr/\[debug\].*provision_x: numStatus record 0 was handed off before/,
    'debug: a dedup hit';
like $debug, qr/\[debug\].*provision_x: numStatus push: 1 new, 1 duplicate, 0 invalid records; sink forward/,
    'debug: the sink chosen';

# --- types a location does not take ---------------------------------------

my $res = push_event('smsEvent', event_push('numStatus',
                                            event_record('numStatus', 'w', 1)));
is $res->code, 400, 'number status at the SMS URL: 400';
is_deeply $json->decode($res->content), {resultcode => '400', resultdesc =>
    '"eventType" is missing or names an event this location does not receive'},
    '... in Huawei\'s shape';
$res = push_event('callin', fee_push(n => 1, tag => 'w'));
is $res->code, 400, 'a CDR push at the status URL: 400';
$expect{smsEvent}{refused} = 1;
is scalar(received($seen)), $seen, 'neither was handed off';

# --- the counters ------------------------------------------------------------

my $status = $json->decode($nginx->request(GET => '/status',
                                           headers => consumer_auth())->content);
for my $type (sort keys %expect) {
    my $d = $huawei{$type} ? 'huawei' : 'aliyun';
    is_deeply $status->{events}{$d}{$type}, $expect{$type},
        "status: $d $type counted";
}
is $status->{events}{huawei}{unknown}{refused}, 1,
    'the refusal before a type was read is counted as unknown';
is $status->{cdr}{huawei}{pushes}, 0, 'no event was counted as a CDR';

my $text = $nginx->request(GET => '/status?format=prometheus',
                           headers => consumer_auth())->content;
like $text, qr/^provision_x_event_records_total\{dialect="huawei",type="numStatus"\} 4$/m,
    'Prometheus: records by dialect and type';
like $text, qr/^provision_x_event_hand_off_total\{dialect="aliyun",type="SecretRecording",class="2xx"\} 3$/m,
    'Prometheus: hand-offs by dialect, type and class';
like $text, qr/^provision_x_cdr_records_total\{dialect="huawei"\} 0$/m,
    'Prometheus: the CDR family keeps its name and labels';

my %logged = map { $_ => 1 } split /\n/, slurp('types.log');
is_deeply [grep { !$logged{"$_ 200"} } huawei_event_types(),
           aliyun_event_types()], [],
    '$provision_x_push_type names each type in the access log';

# --- Block mode at a receiver ----------------------------------------------

$res = push_event('callin', event_push('callin',
    event_record('callin', 'b', 1, notifyMode => 'Block')));
is $res->code, 200, 'a Block-mode callin at the status URL is acknowledged';
like $nginx->error_log,
    qr/\[error\].*dead-lettered huawei callin record 0: field "notifyMode" must be "Notify"; Block-mode callin belongs to a location with provision_x_call_control/,
    '... dead-lettered with an error saying where it belongs';
$res = push_event('smsEvent', event_push('smsEvent',
    event_record('smsEvent', 'b', 1, notificationMode => 'Block')));
is $res->code, 200, 'a Block-mode SMS at the SMS URL is acknowledged';
like $nginx->error_log,
    qr/\[error\].*dead-lettered huawei smsEvent record 0: field "notificationMode" must be "Notify"; Block-mode SMS belong to a location with provision_x_sms_control/,
    '... dead-lettered, pointing at provision_x_sms_control';
is scalar(received($seen)), $seen, 'neither was handed off';

# --- another app's SMS -------------------------------------------------------

$res = push_event('smsEvent', event_push('smsEvent',
    event_record('smsEvent', 'o', 1)) =~ s/"appKey":"appKeyA"/"appKey":"appKeyB"/r);
is $res->code, 200, 'an SMS of another app, signed by appKeyA, is answered';
like slurp('dead.ndjson'),
    qr/"type":"smsEvent".*"error":"field \\"appKey\\" is not the app that signed the push"/,
    '... and dead-lettered: one app cannot write another\'s';
is scalar(received($seen)), $seen, '... not handed off';

$nginx->stop;

done_testing();
