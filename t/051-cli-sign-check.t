# provision-x sign and check, offline: round trips for every dialect and
# reading, tampered requests pinpointed to the step that differs, help,
# exit codes, and the secret never printed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Temp qw(tempdir);
use IPC::Run3 qw(run3);
use Test::More;

use PXSign;

my $Root = "$FindBin::Bin/..";
my $px = "$Root/build/provision-x";
plan skip_all => "$px not built (make)" unless -x $px;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";
my $hw_key = "$secrets/huawei-a.key"; # secretA
my $ali_key = "$secrets/aliyun.key";  # testSecret
my $dir = tempdir(CLEANUP => 1);

# run(args..., {stdin => ...}) -> (exit code, stdout, stderr)
sub run {
    my $opt = ref $_[-1] eq 'HASH' ? pop : {};
    my ($out, $err) = ('', '');
    my $in = $opt->{stdin};
    run3([$px, @_], \$in, \$out, \$err);
    return ($? >> 8, $out, $err);
}

sub write_file {
    my ($name, $data) = @_;
    open my $fh, '>:raw', "$dir/$name" or die $!;
    print $fh $data;
    close $fh;
    return "$dir/$name";
}

# ---- help and usage ----

for my $cmd (qw(sign check simulate)) {
    my ($rc, $out) = run($cmd, '--help');
    is $rc, 0, "$cmd --help exits 0";
    like $out, qr/^usage: provision-x $cmd/, "$cmd --help shows usage";
    like $out, qr/Exit: 0/, "$cmd --help documents exit codes";
}
my ($rc, $out, $err) = run();
is $rc, 2, 'no command: usage error';
($rc, $out, $err) = run('frobnicate');
is $rc, 2, 'unknown command: 2';
like $err, qr/unknown command "frobnicate"/, '... named';
($rc, $out, $err) = run('sign', '--dialect', 'huawei', '--bogus');
is $rc, 2, 'unknown option: 2';
like $err, qr/unknown option --bogus/, '... named';
($rc, $out, $err) = run('sign', '--dialect', 'sms', '--secret-file', $hw_key);
is $rc, 2, 'bad dialect: 2';
like $err, qr/--dialect must be one of/, '... explained';
($rc, $out, $err) = run('sign', '--dialect', 'huawei', '--app', 'a',
                        '--url', 'http://x/', '--secret-file', "$dir/none");
is $rc, 3, 'missing secret file: I/O error 3';
like $err, qr/cannot open/, '... explained';
($rc, $out, $err) = run('sign', '--dialect', 'huawei', '--app', 'a',
                        '--url', 'http://x/', '--secret-file',
                        "$secrets/empty.key");
is $rc, 2, 'empty secret file: 2';
($rc, $out, $err) = run('sign', '--dialect', 'huawei', '--app', 'a',
                        '--url', 'http://x/', '--secret-file', $hw_key,
                        '--nonce', 'not-a-nonce!');
is $rc, 2, 'a nonce the receiver would refuse: 2';

# ---- huawei: sign -> check ----

($rc, $out) = run('sign', '--dialect', 'huawei', '--app', 'appKeyA',
                  '--secret-file', $hw_key, '--url', 'http://127.0.0.1/fee',
                  '--body', q({"eventType":"fee","x":"it's"}));
is $rc, 0, 'huawei sign';
like $out, qr/^curl -sS -i --fail-with-body -X 'POST' 'http:\/\/127.0.0.1\/fee'/,
    'a curl command that fails on a refusal';
like $out, qr/X-AKSK: UsernameToken Username="appKeyA",PasswordDigest="/,
    'with the X-AKSK header';
like $out, qr/--data-binary '\{"eventType":"fee","x":"it'\\''s"\}'/,
    'the body shell-quoted';
unlike $out, qr/secretA/, 'no secret in the output';

# A fixed nonce and time: the digest of the spec's formula (PXSign).
($rc, $out) = run('sign', '--dialect', 'huawei', '--app', 'appKeyA',
                  '--secret-file', $hw_key, '--url', 'http://h/x',
                  '--nonce', 'abc123', '--timestamp', '2026-11-28T09:00:00Z',
                  '--format', 'headers');
my $want = huawei_headers(app => 'appKeyA', secret => 'secretA',
                          nonce => 'abc123',
                          created => '2026-11-28T09:00:00Z');
is $out, $want, 'headers equal the independent signer\'s';

($rc, $out) = run('sign', '--dialect', 'huawei', '--app', 'appKeyA',
                  '--secret-file', $hw_key, '--url', 'http://h/x',
                  '--body', '{}', '--format', 'http');
my $req = write_file('hw.http', $out);
($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--request-file', $req, '--app', 'appKeyA');
is $rc, 0, 'huawei check of a signed request: 0' or diag $out;
like $out, qr/^result: verifies$/m, '... verifies';
like $out, qr/^canonical string \(Nonce \+ Created\): [0-9a-f]{32}\d{4}-/m,
    '... shows the canonical string';
unlike $out, qr/secretA/, '... never the secret';
unlike $out, qr/expected PasswordDigest/, '... nor the digest by default';

($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--request-file', '-', '--show-digest',
                  {stdin => do { local @ARGV = $req; local $/; <> }});
is $rc, 0, 'request from stdin';
like $out, qr/^expected PasswordDigest: \S{44}$/m, '--show-digest';

my $raw = do { local @ARGV = $req; local $/; <> };

(my $t = $raw) =~ s/Nonce="(.)/'Nonce="' . ($1 eq 'a' ? 'b' : 'a')/e;
($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--request-file', write_file('t1', $t));
is $rc, 1, 'tampered nonce: 1';
like $out, qr/^digest: DIFFERS/m, '... the digest step differs';
like $out, qr/^result: does not verify \(digest\)$/m, '... and only it';

($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $ali_key,
                  '--request-file', $req);
is $rc, 1, 'another secret: 1';
like $out, qr/^result: does not verify \(digest\)$/m, '... digest';

($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--request-file', $req, '--now', '2030-01-01T00:00:00Z');
is $rc, 1, 'checked years later: 1';
like $out, qr/^clock: DIFFERS: timestamp too old/m, '... the clock step';
like $out, qr/^result: does not verify \(clock\)$/m, '... only the clock';

($t = $raw) =~ s/PasswordDigest="[^"]*"/PasswordDigest="abc%2B"/;
($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--request-file', write_file('t2', $t));
is $rc, 1, 'a URL-encoded digest: 1';
like $out, qr/^digest encoding: DIFFERS: .*looks URL-encoded/m,
    '... the encoding step, with a hint';

($t = $raw) =~ s/Nonce="[^"]*"/Nonce="0b6e-41"/;
($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--request-file', write_file('t4', $t));
is $rc, 1, 'a nonce with dashes: 1';
like $out, qr/^result: does not verify \(nonce form\)$/m, '... nonce form';

($t = $raw) =~ s/Created="([^"]*)Z"/Created="$1+08:00"/;
($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--request-file', write_file('t5', $t));
like $out, qr/^result: does not verify \(clock\)$/m,
    'a Created with an offset: the clock step';

($t = $raw) =~ s/^X-AKSK:.*\n//m;
($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--request-file', write_file('t3', $t));
is $rc, 1, 'no X-AKSK: 1';
like $out, qr/^username token: DIFFERS: X-AKSK is missing/m, '... named';

# Beijing time with a Z: accepted, and said so.
my @bj = gmtime(time + 8 * 3600);
my $bj = sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $bj[5] + 1900, $bj[4] + 1,
    @bj[3, 2, 1, 0];
($rc, $out) = run('check', '--dialect', 'huawei', '--secret-file', $hw_key,
                  '--url', '/fee', split /\n/, huawei_headers(
                      app => 'appKeyA', secret => 'secretA',
                      created => $bj) =~ s/^/--header\n/gmr);
is $rc, 0, 'a Beijing-time Created verifies' or diag $out;
like $out, qr/^clock: ok .*Beijing time/m, '... and is flagged';

# ---- aliyun: sign -> check, every reading ----

for my $enc (qw(java rfc3986)) {
    for my $key (qw(plain ampersand)) {
        for my $carrier (qw(query form)) {
            my $name = "aliyun $enc/$key/$carrier";
            ($rc, $out) = run('sign', '--dialect', 'aliyun',
                              '--secret-file', $ali_key,
                              '--url', 'http://127.0.0.1/ctl',
                              '--param', 'callNo=13800000001',
                              '--param', 'extension=a b*~+/',
                              '--param', 'callId=4361263371abcd01',
                              '--encoder', $enc, '--key', $key,
                              '--carrier', $carrier, '--format', 'http');
            is $rc, 0, "$name: sign";
            my $f = write_file("a-$enc-$key-$carrier", $out);
            ($rc, $out) = run('check', '--dialect', 'aliyun',
                              '--secret-file', $ali_key,
                              '--request-file', $f, '--encoder', $enc,
                              '--key', $key);
            is $rc, 0, "$name: verifies" or diag $out;
            ($rc, $out) = run('check', '--dialect', 'aliyun',
                              '--secret-file', $ali_key,
                              '--request-file', $f);
            if ($enc eq 'java' && $key eq 'plain') {
                is $rc, 0, "$name: the default reading";
            } else {
                is $rc, 1, "$name: checked with the default reading: 1";
                like $out, qr/^canonical string: DIFFERS: the signature matches another reading: --encoder $enc --key $key/m,
                    "$name: ... names the reading that matches";
            }
        }
    }
}

# The independent signer's query verifies.
my $q = aliyun_query(secret => 'testSecret',
                     params => {callNo => '13800000001', extension => ''});
($rc, $out) = run('check', '--dialect', 'aliyun', '--secret-file', $ali_key,
                  '--method', 'GET', '--url', "/ctl?$q");
is $rc, 0, 'PXSign aliyun_query verifies' or diag $out;
like $out, qr/^encryptStr: callNo=13800000001&format=JSON&/m,
    'encryptStr printed (empty values left out)';
like $out, qr/^string to sign: callNo%3D13800000001%26format%3DJSON/m,
    'string to sign printed';
unlike $out, qr/testSecret/, 'never the secret';

# Tampered value.
(my $bad = $q) =~ s/callNo=13800000001/callNo=13800000009/;
($rc, $out) = run('check', '--dialect', 'aliyun', '--secret-file', $ali_key,
                  '--method', 'GET', '--url', "/ctl?$bad");
is $rc, 1, 'tampered parameter: 1';
like $out, qr/^digest: DIFFERS: no reading matches/m, '... digest step';

# Signature not Base64.
($bad = $q) =~ s/signature=[^&]*/signature=%25%25zz/;
($rc, $out) = run('check', '--dialect', 'aliyun', '--secret-file', $ali_key,
                  '--method', 'GET', '--url', "/ctl?$bad");
is $rc, 1, 'garbage signature: 1';
like $out, qr/^signature encoding: DIFFERS/m, '... encoding step';

# Bad percent-encoding.
($rc, $out) = run('check', '--dialect', 'aliyun', '--secret-file', $ali_key,
                  '--method', 'GET', '--url', "/ctl?$q&x=%zz");
is $rc, 1, 'bad percent escape: 1';
like $out, qr/^parameter encoding: DIFFERS/m, '... encoding step';

# Missing nonce, stale timestamp.
$q = aliyun_query(secret => 'testSecret', offset => -3600,
                  params => {callNo => '1'});
($rc, $out) = run('check', '--dialect', 'aliyun', '--secret-file', $ali_key,
                  '--method', 'GET', '--url', "/ctl?$q");
is $rc, 1, 'an hour old: 1';
like $out, qr/^result: does not verify \(clock\)$/m, '... the clock step';
($bad = $q) =~ s/signatureNonce=[^&]*&?//;
($rc, $out) = run('check', '--dialect', 'aliyun', '--secret-file', $ali_key,
                  '--method', 'GET', '--url', "/ctl?$bad");
like $out, qr/^common parameters: DIFFERS: signatureNonce missing/m,
    'a missing nonce is named';

# ---- aliyun-pop: the published example (spec §7.1 vector) ----

($rc, $out) = run('sign', '--dialect', 'aliyun-pop', '--app', 'testid',
                  '--secret-file', $ali_key, '--param',
                  'Action=QueryRecordFileDownloadUrl', '--param',
                  'CallId=abc', '--format', 'query');
is $rc, 0, 'aliyun-pop sign';
like $out, qr/^AccessKeyId=testid&Action=QueryRecordFileDownloadUrl&CallId=abc&Format=JSON&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=[0-9a-f]{32}&SignatureVersion=1.0&Timestamp=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ&Version=2017-05-25&Signature=[A-Za-z0-9%]+$/,
    'the canonical query with the Signature last';
($rc, $out) = run('sign', '--dialect', 'aliyun-pop', '--app', 'testid',
                  '--secret-file', $ali_key, '--param', 'Action=X');
like $out, qr{^curl -sS -i --fail-with-body -X 'GET' 'https://dyplsapi\.aliyuncs\.com/\?},
    'curl against the Dyplsapi endpoint by default';

done_testing();
