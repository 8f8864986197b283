# provision-x simulate over TLS: the platforms push to an https:// listener,
# so the simulator does too.  A private nginx with a self-signed
# certificate made here by openssl: trusted with --cacert, refused without
# it (the system's CAs do not know it), accepted unverified with --insecure.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use File::Temp qw(tempdir);
use IPC::Run3 qw(run3);
use Test::More;

use PXNginx;
use PXQueue;

my $Root = "$FindBin::Bin/..";
my $px = "$Root/build/provision-x";
plan skip_all => "$px not built (make)" unless -x $px;
plan skip_all => 'openssl not installed'
    unless grep { -x "$_/openssl" } split /:/, $ENV{PATH};

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $dir = tempdir(CLEANUP => 1);
my $cert = "$dir/gateway.pem";
my $key = "$dir/gateway.key";
run3(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
      'ec_paramgen_curve:prime256v1', '-nodes', '-days', 2, '-subj',
      '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
      '-keyout', $key, '-out', $cert], \undef, \my $o, \my $e);
is $?, 0, 'a self-signed certificate for localhost' or diag $e;

my $tls_port = PXNginx::free_port();
my $nginx = PXNginx->new(name => 'cli-tls', http => <<"_EOC_",
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_nonce_zone zone=nonces:1m;
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    provision_x_queue_zone zone=q:4m;
    provision_x_api_key $secrets/api-a.key;

    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        client_body_buffer_size 1m;

        location = /fee {
            provision_x_verify huawei app=appKeyA;
            provision_x_nonce nonces;
            provision_x_cdr huawei queue=q dedup=dedup;
        }
    }
_EOC_
    server => <<'_EOC_');
        location /queue { provision_x_queue_consume q max=1000; }
_EOC_
ok $nginx->start, 'nginx with an https listener starts'
    or BAIL_OUT($nginx->error_log);

my $url = "https://localhost:$tls_port/fee";

sub simulate {
    my ($out, $err) = ('', '');
    run3([$px, 'simulate', '--dialect', 'huawei', '--app', 'appKeyA',
          '--secret-file', "$secrets/huawei-a.key", '--time-scale', 6000,
          '--max-seconds', 20, @_], \undef, \$out, \$err);
    return ($? >> 8, $out . $err);
}

my ($rc, $out) = simulate('--url', $url, '--cacert', $cert,
                          '--records', 120, '--seed', 5);
is $rc, 0, '--cacert: every record acknowledged over TLS' or diag $out;
like $out, qr/^acknowledged: 120$/m, '120 acknowledged';
my @lines = lease_all($nginx, '/queue', max => 1000);
is scalar(@lines), 120, '120 records in the queue, signatures verified';

($rc, $out) = simulate('--url', $url, '--records', 3, '--schedule', 'none',
                       '--seed', 6);
is $rc, 1, 'without --cacert the certificate is not trusted: exit 1';
like $out, qr/^failed attempts: \d+ x TLS: .*certificate/m,
    '... and the summary says why' or diag $out;
like $out, qr/^acknowledged: 0$/m, 'nothing delivered';

($rc, $out) = simulate('--url', $url, '--insecure', '--records', 10,
                       '--seed', 7);
is $rc, 0, '--insecure: delivered without verification' or diag $out;
@lines = lease_all($nginx, '/queue', max => 1000);
is scalar(@lines), 10, '10 more records in the queue';

($rc, $out) = simulate('--url', "https://127.0.0.1:$tls_port/fee",
                       '--cacert', $cert, '--records', 1,
                       '--schedule', 'none', '--seed', 8);
is $rc, 1, 'a name the certificate does not carry is refused';
like $out, qr/^failed attempts: 1 x TLS: /m, '... as a TLS failure'
    or diag $out;

my $plain = 'http://127.0.0.1:' . $nginx->port . '/fee';
($rc, $out) = simulate('--url', $plain, '--insecure', '--records', 1);
is $rc, 2, '--insecure on an http:// URL is a usage error';
like $out, qr/--insecure and --cacert are for https:\/\/ URLs/, '... named';
($rc, $out) = simulate('--url', $url, '--insecure', '--cacert', $cert,
                       '--records', 1);
is $rc, 2, '--insecure with --cacert is a usage error';
($rc, $out) = simulate('--url', "https://192.0.2.1:$tls_port/fee",
                       '--records', 1);
is $rc, 2, 'a non-loopback https target is refused';
like $out, qr/not a loopback address; pass --allow-remote/, '... explained';

unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert';

done_testing();
