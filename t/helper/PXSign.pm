package PXSign;

# An independent signer for the test suite, written from the spec (not from
# the module's C++), so a test fails when the module and the spec disagree.
# Fresh timestamps and nonces per call: the module rejects stale or reused
# ones, which is the point.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_base64 sha256_hex);
use Exporter 'import';

our @EXPORT = qw(utc_stamp fresh_nonce huawei_headers aliyun_query
                 java_encode fee_record fee_push report_push);

sub utc_stamp {
    my ($offset) = @_;
    my @t = gmtime(time + ($offset // 0));
    return sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ',
        $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0];
}

my $counter = 0;

sub fresh_nonce {
    $counter++;
    return substr(sha256_hex("$$-" . time . "-$counter-" . rand), 0, 32);
}

sub pad64 {
    my ($s) = @_;
    $s .= '=' while length($s) % 4;
    return $s;
}

# java.net.URLEncoder: ' ' -> '+', keeps [A-Za-z0-9.*_-], encodes the rest.
sub java_encode {
    my ($s) = @_;
    utf8::encode($s) if utf8::is_utf8($s);
    $s =~ s/([^A-Za-z0-9.*_\- ])/sprintf('%%%02X', ord $1)/ge;
    $s =~ tr/ /+/;
    return $s;
}

# Header lines for more_headers: Authorization and X-AKSK.
sub huawei_headers {
    my (%a) = @_;
    my $nonce   = $a{nonce}   // fresh_nonce();
    my $created = $a{created} // utc_stamp($a{offset});
    my $digest  = pad64(hmac_sha256_base64($nonce . $created, $a{secret}));
    my $sep     = $a{separator} // ',';
    $digest = $a{digest} if defined $a{digest};

    return "Authorization: AKSK realm=\"SDP\",profile=\"UsernameToken\","
        . "type=\"Appkey\"\n"
        . "X-AKSK: UsernameToken Username=\"$a{app}\"${sep}"
        . "PasswordDigest=\"$digest\"${sep}Nonce=\"$nonce\"${sep}"
        . "Created=\"$created\"\n";
}

# A signed Aliyun X-mode parameter string (reading P of the spec): the
# signature parameter carries URLEncoder(Base64) and is encoded once more
# on the wire like every other value.
sub aliyun_query {
    my (%a) = @_;
    my %p = (
        signatureMethod  => 'HMAC-SHA1',
        signatureVersion => '1.0',
        format           => 'JSON',
        signatureNonce   => $a{nonce} // fresh_nonce(),
        timestamp        => $a{timestamp} // utc_stamp($a{offset}),
        %{ $a{params} // {} },
    );
    my $encrypt = join '&', map { java_encode($_) . '=' . java_encode($p{$_}) }
        grep { length $p{$_} } sort keys %p;
    my $b64 = pad64(hmac_sha1_base64(java_encode($encrypt), $a{secret}));
    $p{signature} = $a{signature} // java_encode($b64);

    return join '&', map { java_encode($_) . '=' . java_encode($p{$_}) }
        sort keys %p;
}

# One Huawei FeeInfo record; $tag/$i make its sessionId unique.
sub fee_record {
    my ($tag, $i, %extra) = @_;
    my %r = (
        direction => 0, spId => 'sp_test', appKey => 'appKeyA',
        icid => "icid-$tag-$i", bindNum => '+8617100001000',
        sessionId => "1200_$tag\_$i\@callenabler.example",
        callerNum => '+8613800000001', calleeNum => '+8617100001000',
        fwdDstNum => '+8613900000002', callInTime => '2026-11-28 09:00:00',
        callEndTime => '2026-11-28 09:03:00', recordFlag => 0,
        userData => "用户$i",
        %extra,
    );
    return '{' . CORE::join(',', map {
        my $v = $r{$_};
        defined $v && $v =~ /^-?\d+$/ && $_ !~ /Num$|Id$|icid|Time$/
            ? "\"$_\":$v" : "\"$_\":\"$v\""
    } sort keys %r) . '}';
}

# A Huawei fee push of $n records (or of the records given).
sub fee_push {
    my (%a) = @_;
    my @records = @{ $a{records} // [] };
    @records = map { fee_record($a{tag} // 't', $_) } 1 .. $a{n}
        unless @records;
    return '{"eventType":"' . ($a{event} // 'fee') . '","feeLst":['
        . CORE::join(',', @records) . ']}';
}

# An Aliyun SecretReport batch (a JSON array) of $n receipts.
sub report_push {
    my (%a) = @_;
    my $tag = $a{tag} // 't';
    return '[' . CORE::join(',', map {
        "{\"id\":$_,\"pool_key\":\"FC100000123\",\"sub_id\":$_,"
        . "\"call_id\":\"call-$tag-$_\",\"phone_no\":\"13800000001\","
        . "\"secret_no\":\"17000000002\",\"peer_no\":\"13900000003\","
        . "\"call_type\":0,\"call_time\":\"2026-11-28 09:00:00\","
        . "\"start_time\":\"2026-11-28 09:00:10\","
        . "\"release_time\":\"2026-11-28 09:02:00\",\"release_dir\":1,"
        . "\"control_type\":\"CONTINUE\",\"control_msg\":\"OK\"}"
    } 1 .. $a{n}) . ']';
}

1;
