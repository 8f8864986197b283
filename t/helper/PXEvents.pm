package PXEvents;

# The platforms' pushes other than CDRs, for the tests, written from the
# specification (not from the module's C++), so a test fails when the two
# disagree:
#
#   Huawei  call events (§3.3): {"eventType":T,"statusInfo":{...}}, one
#           record; number status (§3.5): {"eventType":"numStatus",
#           "numInfo":[...]}; SMS notifications (§3.6): {"appKey":...,
#           "smsEvent":{...}}.
#   Aliyun  SecretStartReport, SecretRingReport, SecretRecording,
#           NumberManagementReport (§2.6.2): JSON arrays of receipts.
#
# Records are made from a tag and an index, so the same (tag, i) is the
# same event (the same dedup key) and another tag another one; extra
# fields replace or add members (undef drops one).

use strict;
use warnings;

use Exporter 'import';

use PXSign qw(huawei_headers);

our @EXPORT = qw(huawei_event_types aliyun_event_types event_record
                 event_push event_key ack_of refusal_of event_dialect
                 takes_list post_event);

# Every event type of each dialect, by the line's "type".
sub huawei_event_types {
    qw(callin callout alerting answer disconnect numStatus smsEvent)
}
sub aliyun_event_types {
    qw(SecretStartReport SecretRingReport SecretRecording
       NumberManagementReport)
}

# The dialect of the platform pushing $type, as the line names it.
sub event_dialect {
    my ($type) = @_;
    return (grep { $_ eq $type } huawei_event_types()) ? 'huawei' : 'aliyun';
}

# A push of $type carries a list of records (number status and every
# Aliyun receipt type); a call event or an SMS notification is one record.
sub takes_list {
    my ($type) = @_;
    return $type eq 'numStatus' || event_dialect($type) eq 'aliyun';
}

# Fields whose values are JSON numbers (the others are strings; Huawei's
# numInfo status is a string, Aliyun's NumberManagementReport status a
# Number).
my %Number = map { $_ => 1 }
    qw(stateCode sub_id subs_id call_type Vendor);

sub _object {
    my ($type, @pairs) = @_;
    my @out;
    while (my ($k, $v) = splice @pairs, 0, 2) {
        next unless defined $v;
        my $num = ($Number{$k} || ($k eq 'status' && $type ne 'numStatus'))
            && $v =~ /^-?\d+$/
            || ($k eq 'call_time' && $v =~ /^\d+$/);
        push @out, "\"$k\":" . ($num ? $v : "\"$v\"");
    }
    return '{' . join(',', @out) . '}';
}

# Replaces members of @base by %extra (keeping the order), appends new ones.
sub _merge {
    my ($base, $extra) = @_;
    my %e = %$extra;
    my @out;
    my @b = @$base;
    while (my ($k, $v) = splice @b, 0, 2) {
        push @out, $k, exists $e{$k} ? delete $e{$k} : $v;
    }
    push @out, map { ($_, $e{$_}) } sort keys %e;
    return @out;
}

# One record of $type: a statusInfo, a numInfo entry, an smsEvent or an
# Aliyun receipt.
sub event_record {
    my ($type, $tag, $i, %extra) = @_;
    my @f;
    if ($type =~ /^(callin|callout|alerting|answer|disconnect)$/) {
        # §3.3.1, §3.3.3: X mode carries userData, no subscriptionId
        @f = (timestamp => sprintf('2026-11-28 09:%02d:%02d', $i / 60 % 60,
                                   $i % 60),
              userData => "order-$tag-$i",
              sessionId => "1200_$tag\_$i\@callenabler.example",
              caller => '+8613800000001', called => '+8617100001000');
        push @f, notifyMode => 'Notify' if $type eq 'callin';
        push @f, stateCode => 0, stateDesc => 'normal' if $type eq 'disconnect';
    } elsif ($type eq 'numStatus') {
        # §3.5: the X number, its status, a cause when unavailable
        @f = (number => sprintf('+86170%08d', $i), status => '10',
              cause => '2');
    } elsif ($type eq 'smsEvent') {
        @f = (smsIdentifier => "sms-$tag-$i", notificationMode => 'Notify',
              calling => '+8613800000001', called => '+8613900000002',
              virtualNumber => '+8617100001000', event => 'TextSMS',
              timeStamp => '2026-11-28T09:06:16.450Z',
              smsContent => "短信$i");
    } elsif ($type eq 'SecretStartReport') {
        @f = (pool_key => 'FC100000123', sub_id => $i,
              call_id => "call-$tag-$i", phone_no => '13800000001',
              secret_no => '17000000002', peer_no => '13900000003',
              called_display_no => '17000000002', call_type => 0,
              call_time => '2026-11-28 09:00:00', out_id => "order-$i",
              control_msg => 'OK');
    } elsif ($type eq 'SecretRingReport') {
        @f = (phone_no => '13800000001', secret_no => '17000000002',
              peer_no => '13900000003', call_type => 0,
              call_id => "call-$tag-$i", call_time => '2026-11-28 09:00:00',
              pool_key => 'FC100000123', ring_time => '2026-11-28 09:00:05',
              sub_id => $i, city => '杭州', out_id => "order-$i");
    } elsif ($type eq 'SecretRecording') {
        # call_time in epoch milliseconds here (§2.6.2)
        @f = (pool_key => 'FC100000123', sub_id => $i,
              call_id => "call-$tag-$i", call_time => 1629893489000 + $i,
              out_id => "order-$i");
    } elsif ($type eq 'NumberManagementReport') {
        @f = (secret_no => sprintf('170%08d', $i), city => '杭州',
              partner_key => 'PK4000123456',
              operating_time => '2026-11-28 09:00:00', status => 1,
              Vendor => 3);
    } else {
        die "no event type $type\n";
    }
    return _object($type, _merge(\@f, \%extra));
}

# The push of $type carrying @records (event_record's), in its envelope.
sub event_push {
    my ($type, @records) = @_;
    my $list = join ',', @records;
    return "[$list]" if grep { $_ eq $type } aliyun_event_types();
    return "{\"eventType\":\"numStatus\",\"numInfo\":[$list]}"
        if $type eq 'numStatus';
    return "{\"appKey\":\"appKeyA\",\"smsEvent\":$list}"
        if $type eq 'smsEvent';
    die "one statusInfo per push\n" if @records != 1;
    return "{\"eventType\":\"$type\",\"statusInfo\":$list}";
}

# The printable dedup key of event_record($type, $tag, $i), as the spec's
# key reasoning gives it (components percent-encoded but for
# A-Z a-z 0-9 - . _ ~ @ : +).
sub event_key {
    my ($type, $tag, $i) = @_;
    my $enc = sub {
        my ($s) = @_;
        utf8::encode($s) if utf8::is_utf8($s);
        $s =~ s/([^A-Za-z0-9\-._~\@:+])/sprintf('%%%02X', ord $1)/ge;
        return $s;
    };
    my %r = (event_record($type, $tag, $i) =~ /"(\w+)":"?([^",}]*)"?/g);
    if ($type =~ /^(callin|callout|alerting|answer|disconnect)$/) {
        return "huawei.$type/" . join '/', map { $enc->($r{$_}) }
            qw(sessionId timestamp);
    }
    return 'huawei.numStatus/' . join '/', map { $enc->($r{$_}) }
        qw(number status cause) if $type eq 'numStatus';
    return 'huawei.smsEvent/appKeyA/' . join '/', map { $enc->($r{$_}) }
        qw(smsIdentifier event timeStamp) if $type eq 'smsEvent';
    return 'aliyun.NumberManagementReport/partner_key/PK4000123456/'
        . join '/', map { $enc->($r{$_}) } qw(secret_no status operating_time)
        if $type eq 'NumberManagementReport';
    my $time = $type eq 'SecretRingReport' ? 'ring_time' : 'call_time';
    return "aliyun.$type/pool_key/FC100000123/"
        . join '/', map { $enc->($r{$_}) } 'call_id', $time;
}

# The acknowledgement a push of $type gets (§3.3, §3.5, §3.6, §2.6).
sub ack_of {
    my ($type) = @_;
    return '{"code":0,"msg":"接收成功"}'
        if grep { $_ eq $type } aliyun_event_types();
    return '';
}

# The body, decoded, of a refusal of a push of $type with $status (the
# dialect's error shape, §6.3): Huawei {"resultcode":"502",...}, Aliyun
# {"code":502,...}.
sub refusal_of {
    my ($type, $status, $message) = @_;
    return event_dialect($type) eq 'huawei'
        ? { resultcode => "$status", resultdesc => $message }
        : { code => $status, msg => $message };
}

# POSTs a push of $type to $url as the platform does: Huawei's signed with
# the X-AKSK header of appKeyA, Aliyun's unsigned.
sub post_event {
    my ($nginx, $url, $type, $body) = @_;
    my @headers = event_dialect($type) eq 'huawei'
        ? map { split /: /, $_, 2 } split /\n/,
              huawei_headers(app => 'appKeyA', secret => 'secretA')
        : ();
    return $nginx->request(POST => $url, body => $body,
                           headers => \@headers);
}

1;
