package PXPlatform;

# A fake privacy-number platform for the interface tests: a small HTTP
# server (one forked process per connection) that checks every call the
# way the platforms document it, written from the spec and not from the
# module's C++:
#
#   GET|POST /            Aliyun POP RPC v1 (spec §2.8): the common
#                         parameters, the 15-minute clock, the nonce, and
#                         the signature recomputed over the sorted,
#                         percent-encoded parameters with secret + "&".
#   * /rest/...           Huawei X-AKSK (§3.2): the exact Authorization,
#                         the X-AKSK attributes, the clock, the nonce and
#                         PasswordDigest = Base64(HMAC-SHA256(secret,
#                         Nonce + Created)); Content-Type JSON.
#
# It answers in the platform's own shapes, and writes one JSON line per
# call it received (method, path, query, headers, body, verdict) so that a
# test can assert what reached the platform and what never did.
#
#   my $p = PXPlatform->new(dir => ..., aliyun => {testId => 'testSecret'},
#                           huawei => {appKeyA => 'secretA'});
#   $p->start; ... $p->received; $p->stop (or when it goes away)
#
# Scenarios ride in the business parameters, so the gateway's request is
# not touched: CallId/fileName "slow" (or "slow.wav") answers after 2 s,
# CallId "gone" and fileName "missing.wav" are the platform's refusals.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_base64);
use Fcntl qw(:flock);
use File::Path qw(make_path);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

my $Json = JSON::PP->new->canonical;

# TEST_NGINX_PORT + n when the suite is given a port range, else any free
# port.
sub port_for {
    my ($n) = @_;
    return $ENV{TEST_NGINX_PORT} + $n if $ENV{TEST_NGINX_PORT};
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub new {
    my ($class, %a) = @_;
    my $self = bless {
        port   => $a{port} // port_for(1),
        dir    => $a{dir},
        aliyun => $a{aliyun} // {},
        huawei => $a{huawei} // {},
        slow   => $a{slow} // 2,
    }, $class;
    make_path($self->{dir});
    unlink "$self->{dir}/received.ndjson", "$self->{dir}/nonces";
    return $self;
}

sub port { $_[0]{port} }

sub start {
    my ($self) = @_;
    my $listen = IO::Socket::INET->new(
        Listen => 64, LocalAddr => '127.0.0.1', LocalPort => $self->{port},
        ReuseAddr => 1) or die "platform: listen on $self->{port}: $!";

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        $SIG{CHLD} = 'IGNORE';
        # never run the test's END blocks or destructors here
        while (1) {
            my $c = $listen->accept or next;
            my $child = fork;
            if (defined $child && $child == 0) {
                close $listen;
                eval { $self->serve($c) };
                POSIX::_exit(0);
            }
            close $c;
        }
    }

    close $listen;
    $self->{pid} = $pid;

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $self->{port});
        if ($s) {
            close $s;
            return 1;
        }
        sleep 0.05;
    }
    return 0;
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', -$pid;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

sub DESTROY {
    local $?;
    $_[0]->stop;
}

# Every call received so far, oldest first.
sub received {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/received.ndjson" or return ();
    my @calls = map { $Json->decode($_) } grep { length } <$fh>;
    close $fh;
    return @calls;
}

# ---- one connection ------------------------------------------------------

sub serve {
    my ($self, $c) = @_;
    my $sel = IO::Select->new($c);
    my $raw = '';
    my $until = time + 5;

    while ($raw !~ /\r\n\r\n/ && time < $until) {
        next unless $sel->can_read(0.5);
        my $n = sysread($c, $raw, 65536, length $raw);
        return unless $n;
    }

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $target) = split / /, $line;
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = $v;
    }

    my $len = $h{'content-length'} // 0;
    while (length $body < $len && time < $until) {
        last unless $sel->can_read(0.5);
        my $n = sysread($c, $body, $len - length $body, length $body);
        last unless $n;
    }

    my ($path, $query) = split /\?/, $target, 2;
    $query //= '';

    my $call = {method => $method, path => $path, query => $query,
                headers => \%h, body => $body};
    my ($status, $answer, @extra) =
          $path eq '/'           ? $self->aliyun($call)
        : $path =~ m{^/rest/}    ? $self->huawei($call)
        :                          (404, '{"error":"no such API"}');

    $self->record($call);

    my $text = ref $answer ? $Json->encode($answer) : $answer;
    my $reason = {200 => 'OK', 301 => 'Moved Permanently',
                  400 => 'Bad Request', 403 => 'Forbidden',
                  404 => 'Not Found', 503 => 'Service Unavailable'}
                 ->{$status} // 'Status';
    print $c "HTTP/1.1 $status $reason\r\n"
        . "Content-Type: application/json;charset=UTF-8\r\n"
        . 'Content-Length: ' . length($text) . "\r\n"
        . join('', map { "$_\r\n" } @extra)
        . "Connection: close\r\n\r\n$text";
    close $c;
}

sub locked_append {
    my ($file, $text) = @_;
    open my $fh, '>>', $file or die "$file: $!";
    flock $fh, LOCK_EX;
    print $fh $text;
    close $fh;
}

sub record {
    my ($self, $call) = @_;
    locked_append("$self->{dir}/received.ndjson", $Json->encode($call) . "\n");
}

# True the first time a nonce is seen (across all connections).
sub fresh_nonce {
    my ($self, $dialect, $nonce) = @_;
    my $file = "$self->{dir}/nonces";
    open my $fh, '+>>', $file or die "$file: $!";
    flock $fh, LOCK_EX;
    seek $fh, 0, 0;
    my $seen = grep { $_ eq "$dialect $nonce\n" } <$fh>;
    print $fh "$dialect $nonce\n" unless $seen;
    close $fh;
    return !$seen;
}

sub epoch_of {
    my ($stamp) = @_;
    my @t = $stamp =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/
        or return undef;
    return timegm($t[5], $t[4], $t[3], $t[2], $t[1] - 1, $t[0]);
}

sub request_id { sprintf 'R-%d-%d', $$, int(time * 1000) % 1000000 }

# ---- Aliyun POP RPC v1, §2.8 --------------------------------------------

sub pct {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub form_decode {
    my ($s) = @_;
    $s =~ tr/+/ /;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

sub pop_error {
    my ($status, $code, $message) = @_;
    return ($status, {RequestId => request_id(), Code => $code,
                      Message => $message});
}

sub aliyun {
    my ($self, $call) = @_;
    my $raw = $call->{method} eq 'POST' ? $call->{body} : $call->{query};
    my %p;

    if ($call->{method} eq 'POST'
        && ($call->{headers}{'content-type'} // '')
           !~ m{^application/x-www-form-urlencoded}) {
        $call->{verdict} = 'bad content type';
        return pop_error(400, 'InvalidParameter', 'form body expected');
    }

    for (split /&/, $raw) {
        my ($k, $v) = split /=/, $_, 2;
        $p{form_decode($k)} = form_decode($v // '');
    }

    for my $k (qw(AccessKeyId Action Format RegionId SignatureMethod
                  SignatureNonce SignatureVersion Timestamp Version
                  Signature)) {
        next if defined $p{$k};
        $call->{verdict} = "missing $k";
        return pop_error(400, "MissingParameter.$k",
                         "$k is mandatory for this action.");
    }

    my $secret = $self->{aliyun}{ $p{AccessKeyId} };
    unless (defined $secret) {
        $call->{verdict} = 'unknown AccessKeyId';
        return pop_error(404, 'InvalidAccessKeyId.NotFound',
                         'Specified access key is not found.');
    }

    if ($p{SignatureMethod} ne 'HMAC-SHA1' || $p{SignatureVersion} ne '1.0'
        || $p{Format} ne 'JSON') {
        $call->{verdict} = 'bad common parameter';
        return pop_error(400, 'InvalidParameter', 'bad common parameter');
    }

    my $when = epoch_of($p{Timestamp});
    unless (defined $when) {
        $call->{verdict} = 'bad Timestamp';
        return pop_error(400, 'InvalidTimeStamp.Format',
                         'Specified time stamp or date value is not well '
                         . 'formatted.');
    }
    if (abs(time - $when) > 900) {
        $call->{verdict} = 'stale Timestamp';
        return pop_error(400, 'InvalidTimeStamp.Expired',
                         'Specified time stamp or date value is expired.');
    }

    my $signature = delete $p{Signature};
    my $canon = join '&', map { pct($_) . '=' . pct($p{$_}) } sort keys %p;
    my $sts = "$call->{method}&%2F&" . pct($canon);
    my $want = hmac_sha1_base64($sts, "$secret&") . '=';

    $call->{signature} = $signature;
    if ($signature ne $want) {
        $call->{verdict} = 'bad signature';
        return pop_error(400, 'SignatureDoesNotMatch',
                         'Specified signature is not matched with our '
                         . 'calculation.');
    }

    unless ($self->fresh_nonce(aliyun => $p{SignatureNonce})) {
        $call->{verdict} = 'nonce used';
        return pop_error(400, 'SignatureNonceUsed',
                         'Specified signature nonce was used already.');
    }

    $call->{verdict} = 'verified';
    $call->{params} = \%p;

    my $id = $p{CallId} // '';
    sleep $self->{slow} if $id eq 'slow';

    if ($p{Action} eq 'QueryRecordFileDownloadUrl') {
        return pop_error(200, 'isv.CALL_RECORD_NOT_EXIST',
                         'the call record does not exist')
            if $id eq 'gone';
        return (200, {Code => 'OK', Message => 'OK',
                      RequestId => request_id(),
                      DownloadUrl => "https://record.example.com/$id.mp3"
                                     . '?Expires=7200'});
    }

    if ($p{Action} eq 'BindAxb') {
        return (200, {Code => 'OK', Message => 'OK',
                      RequestId => request_id(),
                      SecretBindDTO => {SubsId => '1000000001',
                                        SecretNo => '17000000001',
                                        Extension => ''},
                      Echo => {PhoneNoA => $p{PhoneNoA} // '',
                               OutId => $p{OutId} // ''}});
    }

    return pop_error(404, 'InvalidAction.NotFound',
                     'Specified api is not found, please check your url '
                     . 'and method.');
}

# ---- Huawei X-AKSK, §3.2 -------------------------------------------------

sub hw_error {
    my ($status, $code, $desc) = @_;
    return ($status, {resultcode => $code, resultdesc => $desc});
}

sub huawei {
    my ($self, $call) = @_;
    my $h = $call->{headers};

    if (($h->{authorization} // '')
        ne 'AKSK realm="SDP",profile="UsernameToken",type="Appkey"') {
        $call->{verdict} = 'bad Authorization';
        return hw_error(400, '1023006',
                        'Authorization not contained in the HTTP header.');
    }

    my %a;
    my $token = $h->{'x-aksk'} // '';
    if ($token =~ s/^UsernameToken //) {
        for (split /,\s*/, $token) {
            my ($k, $v) = /^(\w+)="([^"]*)"$/ or next;
            $a{$k} = $v;
        }
    }
    for my $k (qw(Username PasswordDigest Nonce Created)) {
        next if defined $a{$k};
        $call->{verdict} = "missing $k";
        return hw_error(400, '1023033', 'HTTP header not found X-AKSK field.');
    }

    if (($h->{'content-type'} // '') ne 'application/json;charset=UTF-8') {
        $call->{verdict} = 'bad Content-Type';
        return hw_error(400, '1010002', 'Invalid request.');
    }

    my $secret = $self->{huawei}{ $a{Username} };
    unless (defined $secret) {
        $call->{verdict} = 'unknown app_key';
        return hw_error(403, '1010003', 'Invalid app_key.');
    }

    my $when = epoch_of($a{Created});
    if (!defined $when || abs(time - $when) > 900) {
        $call->{verdict} = 'stale Created';
        return hw_error(403, '1010013', 'Time out limit.');
    }

    my $want = hmac_sha256_base64($a{Nonce} . $a{Created}, $secret) . '=';
    $call->{signature} = $a{PasswordDigest};
    if ($a{PasswordDigest} ne $want) {
        $call->{verdict} = 'bad digest';
        return hw_error(403, '1010002', 'Invalid request.');
    }

    unless ($self->fresh_nonce(huawei => $a{Nonce})) {
        $call->{verdict} = 'nonce used';
        return hw_error(403, '1010002', 'Invalid request.');
    }

    $call->{verdict} = 'verified';

    my %q = map { form_decode($_) } map { split /=/, $_, 2 }
        split /&/, $call->{query};

    if ($call->{method} eq 'GET'
        && $call->{path} eq '/rest/provision/voice/record/v1.0') {
        my $file = $q{fileName} // '';
        sleep $self->{slow} if $file eq 'slow.wav';
        return hw_error(404, '1012007', 'The record does not exist')
            if $file eq 'missing.wav';
        return (301, '',
                "Location: https://obs.example.com/rec/$file?domain="
                . ($q{recordDomain} // ''));
    }

    if ($call->{method} eq 'POST'
        && $call->{path} eq '/rest/caas/relationnumber/partners/v1.0') {
        my $req = eval { $Json->decode($call->{body}) };
        return hw_error(400, '1010002', 'Invalid request.') unless $req;
        return (200, {resultcode => '0', resultdesc => 'Success',
                      relationNum => $req->{relationNum},
                      subscriptionId => 'sub-1', received => $req});
    }

    return hw_error(404, '1010002', 'Invalid request.');
}

1;
