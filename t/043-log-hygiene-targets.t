# Log hygiene in every log target: with two main error logs and one after
# the http block, a location's own error log and a syslog listener, all at
# debug level (nginx then logs every request and upstream header), no
# secret, API key, X-AKSK digest or signature reaches any of them, in any
# spelling the gateway accepts: Bearer with two blanks or a tab,
# %73ignature=, a POP "Signature" on the way upstream; and the access
# log's $request, also for a request answered at the server level, before
# any location (which once logged the signature whole).  (Before, the
# masking writer shortened nginx's shared buffer in place, so the second
# log of a chain got the unmasked tail; syslog and an error_log after
# http{} were never masked.)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Digest::SHA qw(hmac_sha256_base64);
use IO::Socket::INET;
use Test::More;

use PXNginx;
use PXSign;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'log-targets', workers => 1);
my $p = $nginx->prefix;

# the syslog server: a child that keeps every datagram in a file
my $syslog = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1',
                                   LocalPort => 0) or die "udp: $!";
my $udp = $syslog->sockport;
my $listener = fork // die "fork: $!";
if ($listener == 0) {
    open my $out, '>', "$p/logs/syslog.log" or die $!;
    $out->autoflush(1);
    while (1) {
        $syslog->recv(my $datagram, 65536) // next;
        print $out "$datagram\n";
    }
}
close $syslog;
END { kill 'KILL', $listener if $listener }

ok $nginx->start(
    main => <<"_EOC_",
error_log $p/logs/main1.log debug;
error_log $p/logs/main2.log debug;
error_log syslog:server=127.0.0.1:$udp,nohostname debug;
_EOC_
    after => "error_log $p/logs/after.log debug;\n",
    http => <<"_EOC_",
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_app ali secret=$secrets/aliyun.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_api_key $secrets/api-a.key;
    log_format px_request '\$request';
    access_log logs/access.log px_request;
_EOC_
    server => <<'_EOC_'), 'nginx starts' or BAIL_OUT($nginx->error_log);
        provision_x_nonce nonces;

        if ($arg_early) {
            return 200 "early\n";
        }

        location = /hw {
            error_log logs/location.log debug;
            provision_x_verify huawei;
            proxy_pass http://127.0.0.1:$server_port/ok;
        }
        location = /ali {
            provision_x_verify aliyun;
            proxy_pass http://127.0.0.1:$server_port/ok;
        }
        location = /pop {
            proxy_pass http://127.0.0.1:$server_port/ok?Action=Q&Signature=P0PS1GN4TUR3xyz;
        }
        location = /ok { return 200 "ok\n"; }
        location = /status { provision_x_status; }
_EOC_

my $nonce = fresh_nonce();
my $created = utc_stamp();
my $digest = hmac_sha256_base64($nonce . $created, 'secretA') . '=';
my @huawei = map { split /: /, $_, 2 } split /\n/,
    huawei_headers(app => 'appKeyA', secret => 'secretA', nonce => $nonce,
                   created => $created);

my $query = aliyun_query(secret => 'testSecret', params => {callId => 'tg'});
my ($sig) = $query =~ /signature=([^&]+)/;
(my $spelled = $query) =~ s/signature=/%73ignature=/;

is $nginx->request(GET => '/hw', headers => \@huawei)->code, 200,
    'a signed Huawei callback';
is $nginx->request(GET => '/hw', headers => \@huawei)->code, 403,
    'its replay';
is $nginx->request(GET => "/ali?$spelled")->code, 200,
    'an Aliyun callback signed as %73ignature=';
is $nginx->request(GET => "/ali?$query")->code, 403, 'its replay';
is $nginx->request(GET => '/status',
                   headers => [Authorization => 'Bearer  consumer-key-one-7f3a9c'])
    ->code, 200, 'the status page with two blanks after Bearer';
is $nginx->request(GET => '/status',
                   headers => [Authorization => "Bearer\tconsumer-key-one-7f3a9c"])
    ->code, 401, 'a tab is no separator (RFC 7235), yet it is masked';
is $nginx->request(GET => '/pop')->code, 200, 'a POP-signed upstream request';

my $early = aliyun_query(secret => 'testSecret', params => {callId => 'early'});
my ($early_sig) = $early =~ /signature=([^&]+)/;
is $nginx->request(GET => "/ali?early=1&$early")->content, "early\n",
    'a signed query answered by a server-level return';

$nginx->stop;

my %logs;
for my $name (qw(error main1 main2 after location access)) {
    open my $fh, '<', "$p/logs/$name.log" or die "$name.log: $!";
    local $/;
    $logs{"$name.log"} = <$fh> // '';
}
sleep 1;
kill 'KILL', $listener;
waitpid $listener, 0;
$listener = 0;
{
    open my $fh, '<', "$p/logs/syslog.log" or die "syslog.log: $!";
    local $/;
    $logs{syslog} = <$fh> // '';
}

my @never = ('secretA', 'testSecret', 'consumer-key-one-7f3a9c', $digest,
             $sig, java_encode($sig), 'P0PS1GN4TUR3xyz', $early_sig);

for my $name (sort keys %logs) {
    my $log = $logs{$name};
    cmp_ok length($log), '>', 400, "$name was written";
    for my $secret (@never) {
        ok index($log, $secret) < 0, "$name holds no \"" . substr($secret, 0, 6)
            . '..."';
    }
}

for my $name ('main1.log', 'main2.log', 'after.log', 'syslog') {
    like $logs{$name}, qr/X-AKSK: \.\.\./, "$name masks the X-AKSK header";
    like $logs{$name}, qr/%73ignature=\.\.\./, "$name masks %73ignature";
    like $logs{$name}, qr/Authorization: Bearer  \.\.\./,
        "$name masks a Bearer key after two blanks";
    like $logs{$name}, qr/Signature=\.\.\./,
        "$name masks the upstream request's Signature";
    like $logs{$name}, qr/Authorization: Bearer\t\.\.\./,
        "$name masks a Bearer key after a tab";
}
like $logs{'location.log'}, qr/X-AKSK: \.\.\./,
    "the location's own log masks it too";
like $logs{'access.log'}, qr/^GET \/ali\?early=1&.*&signature=\.\.\.&/m,
    "the access log's \$request is masked, at the server level too";

done_testing();
