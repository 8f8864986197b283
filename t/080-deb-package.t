# The Debian packages (make deb), installed the Debian way on this machine:
# dpkg installs them, the postinst that dh_nginx wrote enables the module
# in /etc/nginx/modules-enabled, the stock /etc/nginx/nginx.conf passes
# "nginx -t" with it, and a copy of that configuration plus one conf.d
# server answers signed and unsigned callbacks on a free loopback port (the
# machine's own nginx and its port 80 are left alone).  Packages that were
# not installed before the test are purged after it, and stock "nginx -t"
# passes again.
#
# Needs root, Debian's nginx and the packages in build/deb/ (make prove
# and make test build them first; a package older than its sources fails
# the test).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Cwd qw(abs_path);
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IPC::Run3 qw(run3);
use Test::More;
use Time::HiRes qw(sleep time);

use PXNginx;
use PXSign;

my $Root = abs_path("$FindBin::Bin/..");
my $Nginx = '/usr/sbin/nginx';
my $binary = $ENV{TEST_NGINX_BINARY} // $Nginx;

plan skip_all => "the package is for the distribution's nginx, not $binary"
    unless abs_path($binary) eq $Nginx;
plan skip_all => 'installing a package needs root' if $>;
plan skip_all => 'no Debian nginx-dev here'
    unless -f '/usr/share/nginx/src/debian/libnginx-mod.abisubstvars';

my $version = do { local @ARGV = "$Root/VERSION"; local $/; <> };
chomp $version;
my %deb = (
    module => (glob "$Root/build/deb/libnginx-mod-http-provision-x_$version-*.deb")[0],
    cli    => (glob "$Root/build/deb/provision-x_$version-*.deb")[0],
);
plan skip_all => "no packages of $version in build/deb (make deb)"
    unless $deb{module} && -f $deb{module} && $deb{cli} && -f $deb{cli};

my @packages = qw(libnginx-mod-http-provision-x provision-x);
my $conf_available = '/usr/share/nginx/modules-available/mod-http-provision-x.conf';
my $conf_enabled = '/etc/nginx/modules-enabled/50-mod-http-provision-x.conf';
my $so = '/usr/lib/nginx/modules/ngx_http_provision_x_module.so';

# ---- the packages are those of these sources ----

my $built = (stat $deb{module})[9];
my @sources = grep { -f } (
    map({ "$Root/$_" } qw(config config.make VERSION docs/provision-x.1)),
    glob("$Root/src/*.[ch]pp $Root/src/core/*.[ch]pp"),
    glob("$Root/tools/provision-x/*.[ch]pp $Root/debian/* $Root/debian/*/*"));
my @newer = grep { (stat $_)[9] > $built } @sources;
unless (is "@newer", '', 'the packages are newer than their sources') {
    diag 'stale packages in build/deb: make deb';
    done_testing();
    exit;
}

# ---- one test at a time on this machine: dpkg state is shared ----

my $lock_dir = -d '/run/lock' ? '/run/lock' : '/tmp';
open my $lock, '>>', "$lock_dir/provision-x-package-test.lock" or die $!;
flock $lock, LOCK_EX or die "flock: $!";

sub installed {
    my $status = `dpkg-query -W -f='\${Status}' $_[0] 2>/dev/null`;
    return $status =~ /install ok installed/ ? 1 : 0;
}

sub run_cmd {
    my ($out, $err) = ('', '');
    run3([@_], \undef, \$out, \$err);
    return ($? >> 8, $out . $err);
}

# dpkg refuses while apt or another dpkg holds its lock: wait for it.
sub dpkg {
    my @args = @_;
    my ($rc, $out);
    my $until = time + 300;
    do {
        ($rc, $out) = run_cmd('dpkg', @args);
        return ($rc, $out) unless $rc && $out =~ /lock/ && time < $until;
        sleep 1;
    } while (1);
}

my %before = map { $_ => installed($_) } @packages;
my $tmp = tempdir(CLEANUP => 1);
my $pid_file = "$tmp/nginx.pid";

sub stop_private_nginx {
    open my $fh, '<', $pid_file or return;
    my ($pid) = <$fh> =~ /(\d+)/;
    close $fh;
    return unless $pid && kill 0, $pid;
    kill 'QUIT', $pid;
    for (1 .. 200) {
        last unless kill 0, $pid;
        sleep 0.05;
    }
}

my $cleaned;
sub clean_up {
    return if $cleaned++;
    stop_private_nginx();
    my @ours = grep { !$before{$_} } @packages;
    dpkg('--purge', @ours) if @ours;
}
END { local $?; clean_up() }

# ---- install, enable ----

my ($rc, $out) = dpkg('-i', $deb{module}, $deb{cli});
is $rc, 0, 'dpkg -i installs both packages' or diag $out;
ok installed($_), "$_ is installed" for @packages;

my $status = `dpkg-query -W -f='\${Version}|\${Depends}' libnginx-mod-http-provision-x`;
my ($deb_version, $depends) = split /\|/, $status, 2;
like $deb_version, qr/^\Q$version\E-\d+$/, "version $deb_version";
my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[\w.+~-]+)/;
ok $abi, "the installed nginx provides $abi";
like $depends, qr/(?:^|, )\Q$abi\E(?:,|$)/,
    "the module depends on exactly that ABI ($depends)";

ok -f $so, "$so installed";
is readlink($conf_enabled), $conf_available,
    "the postinst enabled it: $conf_enabled";
my $load = do { local @ARGV = $conf_available; local $/; <> } // '';
is $load, "load_module $so;\n", 'modules-available holds the load_module line';

($rc, $out) = run_cmd('/usr/bin/provision-x', '--version');
like $out, qr/^provision-x \Q$version\E /, '/usr/bin/provision-x --version';
my ($man) = glob '/usr/share/man/man1/provision-x.1*';
ok $man && -f $man, 'its man page is installed';

# ---- the stock configuration with the module enabled ----

($rc, $out) = run_cmd($Nginx, '-t');
is $rc, 0, 'stock Debian nginx -t passes with the module enabled'
    or diag $out;
($rc, $out) = run_cmd($Nginx, '-T');
like $out, qr/^\Q$load\E/m, '... and it did load the module';

# ---- a copy of it, plus one server of ours, answers ----

system('cp', '-a', '/etc/nginx', "$tmp/etc") == 0 or die 'cp /etc/nginx';
mkdir "$tmp/logs" or die $!;
my $conf = do { local @ARGV = "$tmp/etc/nginx.conf"; local $/; <> };
$conf =~ s{/etc/nginx/}{$tmp/etc/}g;
$conf =~ s{/var/log/nginx/}{$tmp/logs/}g;
$conf =~ s{^(\s*)pid\s+[^;]+;}{${1}pid $pid_file;}m;
$conf =~ s{^(\s*)error_log\s+[^;]+;}{${1}error_log $tmp/logs/error.log notice;}m;
$conf =~ s{^\s*include\s+\Q$tmp\E/etc/sites-enabled/\*;\n}{}m;  # port 80
like $conf, qr{include \Q$tmp\E/etc/modules-enabled/\*\.conf;},
    'the copy includes the enabled modules';
open my $fh, '>', "$tmp/etc/nginx.conf" or die $!;
print $fh $conf;
close $fh;

for my $key (qw(huawei-a api-a)) {
    system('cp', "$FindBin::Bin/secrets/$key.key", "$tmp/$key.key") == 0
        or die "cp $key";
    chmod 0600, "$tmp/$key.key";
}
my $port = PXNginx::free_port();
my $temp = join '', map { "${_}_temp_path $tmp/${_}_temp;\n" }
    qw(client_body proxy fastcgi uwsgi scgi);
open $fh, '>', "$tmp/etc/conf.d/provision-x.conf" or die $!;
print $fh <<"_EOC_";
$temp
provision_x_app appKeyA secret=$tmp/huawei-a.key;
provision_x_nonce_zone zone=package_test_nonces:1m;
provision_x_api_key $tmp/api-a.key;

server {
    listen 127.0.0.1:$port;

    location = /px/huawei/event {
        provision_x_verify huawei app=appKeyA;
        provision_x_nonce package_test_nonces;
        return 200 "verified \$provision_x_app\\n";
    }

    location = /px/status { provision_x_status; }
}
_EOC_
close $fh;

my @private = ($Nginx, '-c', "$tmp/etc/nginx.conf", '-e', "$tmp/logs/error.log");
($rc, $out) = run_cmd(@private, '-t');
is $rc, 0, 'the copy with a provision_x server passes nginx -t' or diag $out;
($rc, $out) = run_cmd(@private);
is $rc, 0, 'and starts' or diag $out;

my $http = HTTP::Tiny->new(timeout => 5);
my $base = "http://127.0.0.1:$port";
my $res;
for (1 .. 100) {
    $res = $http->get("$base/px/huawei/event");
    last if $res->{status} != 599;
    sleep 0.05;
}
is $res->{status}, 401, 'an unsigned callback: 401';
like $res->{content}, qr/"resultcode"|missing/i, '... in the dialect\'s shape'
    or diag $res->{content};

my %signed = map { split /: /, $_, 2 } split /\n/,
    huawei_headers(app => 'appKeyA', secret => 'secretA');
$res = $http->get("$base/px/huawei/event", { headers => \%signed });
is $res->{status}, 200, 'a signed one: 200';
is $res->{content}, "verified appKeyA\n", '... verified as appKeyA';

# The installed CLI, as README shows it: sign | sh, then the replay.
($rc, $out) = run_cmd('/usr/bin/provision-x', 'sign', '--dialect', 'huawei',
                      '--app', 'appKeyA', '--secret-file', "$tmp/huawei-a.key",
                      '--url', "$base/px/huawei/event", '--body', '{}');
is $rc, 0, 'provision-x sign';
my ($sh_out, $sh_err) = ('', '');
run3(['sh'], \$out, \$sh_out, \$sh_err);
is $? >> 8, 0, 'provision-x sign ... | sh succeeds';
like $sh_out, qr{^HTTP/1\.1 200}m, '... with 200';
run3(['sh'], \$out, \$sh_out, \$sh_err);
isnt $? >> 8, 0, 'the same request again (a replay) fails the pipeline';

$res = $http->get("$base/px/status",
                  { headers => { Authorization => 'Bearer consumer-key-one-7f3a9c' } });
like $res->{content}, qr/^\{"version":"\Q$version\E","nginx_version":"/,
    'the status names the installed version';

stop_private_nginx();
my $log = do { local @ARGV = "$tmp/logs/error.log"; local $/; <> } // '';
like $log, qr/provision_x \Q$version\E \(built with nginx [\d.]+, running nginx [\d.]+\)/,
    'the start notice names the version';
unlike $log, qr/\[(alert|crit|emerg)\]/, 'no alert in the private error log';

# ---- removal ----

SKIP: {
    my @ours = grep { !$before{$_} } @packages;
    skip 'the packages were installed before the test; left installed', 5
        unless @ours == @packages;
    ($rc, $out) = dpkg('--purge', @packages);
    is $rc, 0, 'dpkg --purge removes both' or diag $out;
    ok !-e $conf_enabled && !-l $conf_enabled, 'the module is disabled';
    ok !-e $so, 'the .so is gone';
    ok !-e '/usr/bin/provision-x', 'the CLI is gone';
    ($rc, $out) = run_cmd($Nginx, '-t');
    is $rc, 0, 'stock nginx -t passes without it' or diag $out;
    $cleaned = 1;
}

done_testing();
