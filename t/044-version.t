# Which build serves: the version in VERSION reaches the status JSON, the
# provision_x_build_info metric and one notice per start or reload from
# the master; "nginx -t" and "nginx -s reload" add no notice of their own.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXNginx;

my $Root = "$FindBin::Bin/..";
my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $version = do { local @ARGV = "$Root/VERSION"; local $/; <> };
chomp $version;
like $version, qr/^\d+\.\d+\.\d+$/, "VERSION holds $version";

my $nginx = PXNginx->new(name => 'version', workers => 2, http => <<"_EOC_",
    provision_x_api_key $secrets/api-a.key;
_EOC_
    server => <<'_EOC_');
        location = /status { provision_x_status; }
_EOC_

my ($binary) = $nginx->command;
my ($running) = `$binary -v 2>&1` =~ m{nginx/(\d+\.\d+\.\d+)};
ok $running, "the binary is nginx $running";

my $notice = qr/\[notice\] \d+#\d+: provision_x \Q$version\E \(built with nginx (\S+), running nginx (\S+)\)$/m;

sub notices {
    my @n = $nginx->error_log =~ /$notice/g;
    return @n / 2;
}

ok $nginx->start, 'nginx starts' or BAIL_OUT($nginx->error_log);
ok $nginx->wait_log($notice, 5), 'the start is logged';
my ($built, $runs) = $nginx->error_log =~ $notice;
is $built, $running, 'built with the running nginx';
is $runs, $running, '... and says which one runs';
is notices(), 1, 'once, by the master';

my @auth = (Authorization => 'Bearer consumer-key-one-7f3a9c');
my $res = $nginx->request(GET => '/status', headers => \@auth);
is $res->code, 200, 'status JSON';
like $res->content,
    qr/^\{"version":"\Q$version\E","nginx_version":"\Q$running\E",/,
    'starts with the version and the nginx version';

$res = $nginx->request(GET => '/status?format=prometheus', headers => \@auth);
like $res->content, qr/^# TYPE provision_x_build_info gauge$/m,
    'build_info is a gauge';
like $res->content,
    qr/^provision_x_build_info\{version="\Q$version\E",nginx="\Q$running\E"\} 1$/m,
    'build_info names the version and the nginx';

my ($rc, $out) = $nginx->test_config;
is $rc, 0, 'nginx -t passes';
is notices(), 1, 'nginx -t logs no notice';

ok $nginx->reload, 'reload';
ok $nginx->wait_log(qr/(?:$notice.*){2}/s, 5), 'the reload is logged';

$nginx->write_config;
is system($nginx->command('-s', 'reload')), 0, 'nginx -s reload';
ok $nginx->wait_version, 'the new configuration serves';
ok $nginx->wait_log(qr/(?:$notice.*){3}/s, 5), 'that reload is logged';
sleep 1;
is notices(), 3, 'one notice per start or reload, none from the signaller';

unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert';

done_testing();
