# The Debian packages (make deb), installed on this machine the way the
# README shows: its install block runs, the postinst that dh_nginx wrote
# enables the module in /etc/nginx/modules-enabled, the stock
# /etc/nginx/nginx.conf passes "nginx -t" with it, and a copy of that
# configuration plus one conf.d server answers signed and unsigned
# callbacks on a free loopback port (the machine's own nginx and its port
# 80 are left alone).  Then the README's configuration: its complete
# configuration as /etc/nginx/conf.d/provision-x.conf, its block that
# writes the secrets and keys into /etc/nginx/px, stock "nginx -t", and a
# copy of that /etc/nginx answering on loopback ports: a signed CDR push
# over TLS is acknowledged, its consumer reads it, the status answers its
# own key.  With that copy running, the README's monitoring block sets up
# Debian's Prometheus (/etc/prometheus, when the prometheus package is
# installed), twice, and a Prometheus run as its user from the result
# scrapes the copy with the key file; prometheus.yml is put back after.
# Packages that were not installed before the test are purged after it,
# and stock "nginx -t" passes again; then the README's "make install"
# block runs, and "make uninstall" removes it again.
#
# The README's sh blocks marked "<!-- run by: t/080-deb-package.t -->" run
# verbatim under "bash -e -o pipefail" from the top of the repository,
# with one change: "systemctl" is a recorder first in PATH, so the
# machine's nginx is not reloaded (the test starts a private copy of
# /etc/nginx instead) and the test asserts the block did ask for the
# reload.  The server certificate, which the README leaves to the
# operator, is a self-signed one for localhost.  What the README's files
# would overwrite (an /etc/nginx/px, a conf.d/provision-x.conf, the key or
# the rules in /etc/prometheus, a job provision_x there) skips that part;
# everything written is removed at the end.
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
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IPC::Run3 qw(run3);
use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep time);

use PXFiles qw(slurp spew);
use PXNginx;
use PXReadme;
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
    my ($pid) = slurp($pid_file) =~ /(\d+)/;
    return unless $pid && kill 0, $pid;
    kill 'QUIT', $pid;
    for (1 .. 200) {
        last unless kill 0, $pid;
        sleep 0.05;
    }
}

# What the README's blocks write outside the packages, when the test
# writes it (removed before the purge: the module's directives would fail
# stock nginx -t without the module); and whether "make install" ran.
my (@written, $made_install);

my $cleaned;
sub clean_up {
    return if $cleaned++;
    restore_prometheus();
    stop_private_nginx();
    remove_tree(@written);
    my @ours = grep { !$before{$_} } @packages;
    dpkg('--purge', @ours) if @ours;
    if ($made_install) {
        make_uninstall();
        unlink $conf_enabled;
    }
}
END { local $?; clean_up() }

# ---- the README's steps ----

my %steps = (
    install      => qr{^apt-get install \./build/deb/}m,
    files        => qr{^install -d .*/etc/nginx/px\b}m,
    prometheus   => qr{^monitoring/add-to-prometheus }m,
    make_install => qr/^make install$/m,
);
my %step;
for my $block (PXReadme::run_by('t/080-deb-package.t')) {
    my @kinds = grep { $block->{text} =~ $steps{$_} } sort keys %steps;
    is scalar(@kinds), 1, "README line $block->{line}: a step this test "
        . "runs (@kinds)";
    $step{$kinds[0]} = $block if @kinds == 1;
}
for (sort keys %steps) {
    next if ok $step{$_}, "the README's $_ block is run here";
    done_testing();
    exit;
}

make_path("$tmp/bin");
spew("$tmp/bin/systemctl",
     "#!/bin/sh\necho \"\$*\" >>'$tmp/systemctl.log'\n", 0755);

# The commands an operator's shell runs, not those of the make that runs
# the suite.
sub clean_env {
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
    $ENV{PATH} = "$tmp/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

# Runs a README block; returns its status, its output and what it asked
# systemctl.  apt-get refuses while another apt or dpkg holds its lock:
# the block runs again then (every step of it can).
sub run_readme {
    my ($block) = @_;
    local %ENV = %ENV;
    clean_env();
    my ($rc, $out);
    my $until = time + 300;
    while (1) {
        unlink "$tmp/systemctl.log";
        ($rc, $out) = run_cmd('bash', '-e', '-o', 'pipefail', '-c',
                              "cd '$Root'\n$block->{text}");
        last unless $rc && $out =~ /Could not get lock|dpkg frontend lock/
            && time < $until;
        sleep 1;
    }
    return ($rc, $out, slurp("$tmp/systemctl.log"));
}

sub make_uninstall {
    local %ENV = %ENV;
    clean_env();
    return run_cmd('make', '-C', $Root, 'uninstall');
}

# ---- install, enable: the README's install block ----

my ($rc, $out, $asked) = run_readme($step{install});
is $rc, 0, "README line $step{install}{line}: make deb, apt-get install "
    . 'of both packages, nginx -t' or diag $out;
is $asked, "reload nginx\n", '... and then systemctl reload nginx';
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
my $load = slurp($conf_available);
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

# A copy of the machine's /etc/nginx as it is now, in $tmp/NAME, that
# runs on its own: pid, logs and temporary files in $tmp, and no
# sites-enabled (the default site's port 80).  Returns the nginx command.
sub stock_copy {
    my ($name) = @_;
    my ($etc, $logs) = ("$tmp/$name", "$tmp/$name-logs");
    system('cp', '-a', '/etc/nginx', $etc) == 0 or die 'cp /etc/nginx';
    make_path($logs);
    my $conf = slurp("$etc/nginx.conf");
    $conf =~ s{/etc/nginx/}{$etc/}g;
    $conf =~ s{/var/log/nginx/}{$logs/}g;
    $conf =~ s{^(\s*)pid\s+[^;]+;}{${1}pid $pid_file;}m;
    $conf =~ s{^(\s*)error_log\s+[^;]+;}
              {${1}error_log $logs/error.log notice;}m;
    $conf =~ s{^\s*include\s+\Q$etc\E/sites-enabled/\*;\n}{}m;  # port 80
    like $conf, qr{include \Q$etc\E/modules-enabled/\*\.conf;},
        "the copy $name includes the enabled modules";
    spew("$etc/nginx.conf", $conf);
    spew("$etc/conf.d/00-temp-paths.conf", join '',
         map { "${_}_temp_path $tmp/$name-${_}_temp;\n" }
         qw(client_body proxy fastcgi uwsgi scgi));
    return ($Nginx, '-c', "$etc/nginx.conf", '-e', "$logs/error.log");
}

sub private_log_is_clean {
    my ($name) = @_;
    my $log = slurp("$tmp/$name-logs/error.log");
    unlike $log, qr/\[(alert|crit|emerg)\]/, "no alert in ${name}'s error log";
    return $log;
}

# ---- a copy of it, plus one server of ours, answers ----

my @private = stock_copy('etc');
for my $key (qw(huawei-a api-a)) {
    system('cp', "$FindBin::Bin/secrets/$key.key", "$tmp/$key.key") == 0
        or die "cp $key";
    chmod 0600, "$tmp/$key.key";
}
my $port = PXNginx::free_port();
spew("$tmp/etc/conf.d/provision-x.conf", <<"_EOC_");
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
like private_log_is_clean('etc'), qr/provision_x\ \Q$version\E
    \ \(built\ with\ nginx\ [\d.]+,\ running\ nginx\ [\d.]+\)/x,
    'the start notice names the version';

# ---- the README's Prometheus block, on this machine ----
#
# With the README's gateway running (the private copy, its status
# listener on $status_port for 127.0.0.1:8088), its monitoring block runs
# against Debian's /etc/prometheus: the key, the rules, the job and the
# rule file added to prometheus.yml, promtool, the reload; then once more,
# which must change nothing.  A Prometheus run as the prometheus user from
# a copy of the resulting prometheus.yml (this gateway's port, 1 s
# intervals) scrapes the gateway with that key file.  At the end the files
# the block wrote and the backup are removed and prometheus.yml is put
# back as it was.

my $prom_etc = '/etc/prometheus';
my $prom_yml = "$prom_etc/prometheus.yml";
my %prom_file = (key   => "$prom_etc/provision_x_status.key",
                 rules => "$prom_etc/provision_x.rules.yml");
my ($prom_saved, $prom_pid);

sub prometheus_backups { my @b = glob "$prom_yml.*.bak"; return @b }

sub restore_prometheus {
    if ($prom_pid) {
        kill 'TERM', $prom_pid;
        waitpid $prom_pid, 0;
        $prom_pid = undef;
    }
    return unless $prom_saved;
    my %saved = %$prom_saved;
    $prom_saved = undef;
    spew($prom_yml, $saved{text}, $saved{mode});
    chown $saved{uid}, $saved{gid}, $prom_yml;
    my %before = map { $_ => 1 } @{ $saved{backups} };
    unlink grep({ !$before{$_} } prometheus_backups()), values %prom_file;
}

# What Prometheus reads from a YAML file, as Perl data.
sub yaml_file {
    my ($file) = @_;
    my ($rc, $out) = run_cmd('python3', '-c', 'import json, sys, yaml; '
        . 'print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', $file);
    return $rc ? {} : JSON::PP->new->decode($out);
}

# A Prometheus API answer, decoded ({} when there is none).
sub api_get {
    my $res = $http->get($_[0]);
    return ($res->{success} && eval { JSON::PP->new->decode($res->{content}) })
        || {};
}

sub readme_prometheus {
    my ($status_port) = @_;
    my $block = $step{prometheus};
  SKIP: {
    my @missing = grep { !installed($_) } qw(prometheus python3-yaml);
    skip "not installed: @missing (make deps installs them)", 20 if @missing;
    my @there = grep { -e } values %prom_file;
    skip "not written over: @there", 20 if @there;
    skip "$prom_yml has a job provision_x already", 20
        if slurp($prom_yml) =~ /job_name:\s*['"]?provision_x\b/;

    my @st = stat $prom_yml or die "$prom_yml: $!";
    $prom_saved = { text => slurp($prom_yml), mode => $st[2] & 07777,
                    uid => $st[4], gid => $st[5],
                    backups => [prometheus_backups()] };
    my $before = yaml_file($prom_yml);

    my ($rc, $out, $asked) = run_readme($block);
    is $rc, 0, "README line $block->{line}: the status key, the rules and "
        . 'the job into /etc/prometheus, promtool check config passes'
        or diag $out;
    is $asked, "reload prometheus\n", '... and then systemctl reload '
        . 'prometheus';

    my @key = stat $prom_file{key};
    is sprintf('%04o %s:%s', ($key[2] // 0) & 07777,
               scalar(getpwuid($key[4] // -1)) // '?',
               scalar(getgrgid($key[5] // -1)) // '?'),
        '0640 root:prometheus', "$prom_file{key}: 0640, root:prometheus";
    is slurp($prom_file{key}), slurp('/etc/nginx/px/status.key'),
        '... the status location\'s key';
    is slurp($prom_file{rules}),
        slurp("$Root/monitoring/provision_x.rules.yml"),
        "$prom_file{rules}: the kit's rules";

    my $config = slurp($prom_yml);
    my $after = yaml_file($prom_yml);
    my @jobs = grep { $_->{job_name} eq 'provision_x' }
        @{ $after->{scrape_configs} // [] };
    is scalar(@jobs), 1, "$prom_yml: one job provision_x";
    is_deeply $jobs[0] // {}, {
        job_name => 'provision_x', metrics_path => '/px/status',
        params => { format => ['prometheus'] },
        authorization => { type => 'Bearer',
                           credentials_file => $prom_file{key} },
        static_configs => [{ targets => ['127.0.0.1:8088'] }] },
        '... scraping the status listener with the bearer key file';
    is_deeply [grep { $_->{job_name} ne 'provision_x' }
               @{ $after->{scrape_configs} }],
        $before->{scrape_configs} // [], '... after the jobs it had';
    is_deeply $after->{rule_files},
        [@{ $before->{rule_files} // [] }, 'provision_x.rules.yml'],
        '... and the rule file';
    ($rc, $out) = run_cmd('promtool', 'check', 'config', $prom_yml);
    like $out, qr/SUCCESS:\ 1\ rule\ files\ found.*\Q$prom_file{rules}\E.*
                  SUCCESS:\ \d+\ rules\ found/sx,
        'promtool check config: the configuration and the rules are valid'
        or diag $out;
    my @backups = grep { my $b = $_; !grep { $_ eq $b }
                         @{ $prom_saved->{backups} } } prometheus_backups();
    is scalar(@backups), 1, 'one backup of prometheus.yml';
    is slurp($backups[0] // '/dev/null'), $prom_saved->{text},
        '... holding the file as it was';

    # the block again
    ($rc, $out, $asked) = run_readme($block);
    is $rc, 0, "README line $block->{line} again: succeeds" or diag $out;
    like $out, qr/unchanged/, '... and says prometheus.yml is unchanged';
    is slurp($prom_yml), $config, '... which it is: the job once';
    is scalar(prometheus_backups()), @{ $prom_saved->{backups} } + 1,
        '... no second backup';

    # Prometheus, as its user, on a copy of the result
    my $live = tempdir(CLEANUP => 1);
    my ($uid, $gid) = (getpwnam 'prometheus')[2, 3];
    chown $uid, $gid, $live or die "chown $live: $!";
    (my $copy = $config)
        =~ s{\b127\.0\.0\.1:8088\b}{127.0.0.1:$status_port}g;
    # the global intervals (the first ones in Debian's file)
    $copy =~ s/^(\s*scrape_interval:\s*)\S+/${1}1s/m;
    $copy =~ s/^(\s*evaluation_interval:\s*)\S+/${1}1s/m;
    spew("$live/prometheus.yml", $copy);
    spew("$live/provision_x.rules.yml", slurp($prom_file{rules}));
    my $port = PXNginx::free_port();
    $prom_pid = fork // die "fork: $!";
    if ($prom_pid == 0) {
        open STDOUT, '>', "$live/prometheus.log" or die $!;
        open STDERR, '>&', \*STDOUT or die $!;
        exec 'setpriv', "--reuid=$uid", "--regid=$gid", '--init-groups',
            'prometheus', "--config.file=$live/prometheus.yml",
            "--storage.tsdb.path=$live/data",
            "--web.listen-address=127.0.0.1:$port", '--log.level=warn';
        exit 127;
    }
    my $api = "http://127.0.0.1:$port/api/v1";
    my ($up, $rules) = ('', 0);
    for (1 .. 240) {
        my $r = api_get("$api/query?query=up%7Bjob%3D%22provision_x%22%7D");
        $up = $r->{data}{result}[0]{value}[1] // '';
        last if $up eq '1';
        sleep 0.25;
    }
    is $up, '1', 'Prometheus, as the prometheus user, scrapes the gateway '
        . 'with the key file: up == 1'
        or diag join "\n", slurp("$live/prometheus.log"),
            map { "$_->{scrapeUrl}: $_->{lastError}" }
            grep { $_->{labels}{job} eq 'provision_x' }
            @{ api_get("$api/targets")->{data}{activeTargets} // [] };
    $rules += @{ $_->{rules} } for grep { $_->{file} =~ /provision_x\.rules/ }
        @{ api_get("$api/rules")->{data}{groups} // [] };
    cmp_ok $rules, '>=', 15, "... and loaded the $rules rules";

    my %saved = %$prom_saved;
    restore_prometheus();
    is slurp($prom_yml), $saved{text}, 'prometheus.yml is put back';
    is_deeply [grep({ -e } values %prom_file), prometheus_backups()],
        $saved{backups}, '... the key, the rules and the backup removed';
  }
}

# ---- the README's configuration, on this machine ----

my ($synopsis) = grep { defined PXReadme::mark($_, qr/^(synopsis)$/) }
                 PXReadme::blocks();
my @files = ('/etc/nginx/conf.d/provision-x.conf', '/etc/nginx/px',
             '/var/lib/nginx/provision-x');
# the logs stock nginx -t opens: removed unless they were there before
my @logs = grep { !-e } map { "/var/log/nginx/provision_x$_" }
    '.log', '_dead_letter.ndjson';
SKIP: {
    my @there = grep { -e } @files;
    skip "not written over: @there", 36 if @there;
    ok $synopsis, 'the README has its complete configuration' or last SKIP;
    push @written, @files, @logs;

    # as the README says: the configuration, then the files it names
    spew('/etc/nginx/conf.d/provision-x.conf', $synopsis->{text});
    make_path('/etc/nginx/px', { mode => 0700 });
    ($rc, $out) = run_cmd('openssl', 'req', '-x509', '-newkey', 'ec',
        '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
        '-keyout', '/etc/nginx/px/gateway.key',
        '-out', '/etc/nginx/px/gateway.pem');
    is $rc, 0, 'a server certificate for localhost' or diag $out;

    ($rc, $out, $asked) = run_readme($step{files});
    is $rc, 0, "README line $step{files}{line}: the secrets and keys in "
        . '/etc/nginx/px, then stock nginx -t passes' or diag $out;
    is $asked, "reload nginx\n", '... and then systemctl reload nginx';
    my %mode = map { $_ => sprintf '%04o', (stat $_)[2] & 07777 }
        '/etc/nginx/px', '/var/lib/nginx/provision-x',
        map { "/etc/nginx/px/$_.key" } qw(huawei aliyun consumer status);
    is_deeply [sort map { "$_ $mode{$_}" } keys %mode],
        [sort map { "$_ " . (/\.key$/ ? '0600' : '0700') } keys %mode],
        'every secret and key readable by root only, the directories too';
    is slurp('/etc/nginx/px/huawei.key'), "the APP_Secret of appKeyA\n",
        'the Huawei secret as the README writes it';

    # a copy of the configuration answers on loopback ports
    @private = stock_copy('readme');
    my ($tls, $internal) = (PXNginx::free_port(), PXNginx::free_port());
    my $conf = slurp("$tmp/readme/conf.d/provision-x.conf");
    ok $conf =~ s{listen 443 ssl;}{listen 127.0.0.1:$tls ssl;}
        && $conf =~ s{listen 127\.0\.0\.1:8088;}{listen 127.0.0.1:$internal;},
        'the copy listens on free loopback ports';
    make_path("$tmp/readme-lib", { mode => 0700 });
    $conf =~ s{/var/lib/nginx/provision-x/}{$tmp/readme-lib/}g;
    $conf =~ s{/var/log/nginx/}{$tmp/readme-logs/}g;
    spew("$tmp/readme/conf.d/provision-x.conf", $conf);
    ($rc, $out) = run_cmd(@private);
    is $rc, 0, 'the copy with the README\'s configuration starts'
        or diag $out;

    ($rc, $out) = run_cmd('/usr/bin/provision-x', 'sign', '--dialect',
        'huawei', '--app', 'appKeyA', '--sample', 'fee', '--secret-file',
        '/etc/nginx/px/huawei.key', '--url',
        "https://localhost:$tls/px/huawei/fee");
    is $rc, 0, 'provision-x sign --sample fee';
    {
        local $ENV{CURL_CA_BUNDLE} = '/etc/nginx/px/gateway.pem';
        run3(['sh'], \$out, \$sh_out, \$sh_err);
    }
    is $? >> 8, 0, 'a signed CDR push over TLS is acknowledged'
        or diag "$sh_out$sh_err";
    like $sh_out, qr{^HTTP/1\.1 200}m, '... with 200';

    my $internal_base = "http://127.0.0.1:$internal";
    my $consumer = slurp('/etc/nginx/px/consumer.key');
    chomp $consumer;
    $res = $http->get("$internal_base/px/queue?max=10&wait=0",
                      { headers => { Authorization => "Bearer $consumer" } });
    is $res->{status}, 200, 'its consumer leases the queue';
    like $res->{content}, qr/"appKey":"appKeyA"/, '... and reads the record';
    $res = $http->get("$internal_base/px/status",
                      { headers => { Authorization => "Bearer $consumer" } });
    is $res->{status}, 401, 'the status refuses the consumer\'s key';

    readme_prometheus($internal);

    stop_private_nginx();
    private_log_is_clean('readme');
}
remove_tree(@written);
@written = ();

# ---- removal; then make install and make uninstall ----

SKIP: {
    my @ours = grep { !$before{$_} } @packages;
    skip 'the packages were installed before the test; left installed', 13
        unless @ours == @packages;
    ($rc, $out) = dpkg('--purge', @packages);
    is $rc, 0, 'dpkg --purge removes both' or diag $out;
    ok !-e $conf_enabled && !-l $conf_enabled, 'the module is disabled';
    ok !-e $so, 'the .so is gone';
    ok !-e '/usr/bin/provision-x', 'the CLI is gone';
    ($rc, $out) = run_cmd($Nginx, '-t');
    is $rc, 0, 'stock nginx -t passes without it' or diag $out;

    $made_install = 1;
    ($rc, $out, $asked) = run_readme($step{make_install});
    is $rc, 0, "README line $step{make_install}{line}: make install, the "
        . 'modules-enabled link, stock nginx -t' or diag $out;
    is $asked, "reload nginx\n", '... and then systemctl reload nginx';
    ok -f $so, "make install installed $so";
    is slurp($conf_available), $load, "... and $conf_available";
    ($rc, $out) = run_cmd('/usr/bin/provision-x', '--version');
    like $out, qr/^provision-x \Q$version\E /, '... and /usr/bin/provision-x';
    ($rc, $out) = run_cmd($Nginx, '-T');
    like $out, qr/^\Q$load\E/m, 'stock nginx loads it';

    ($rc, $out) = make_uninstall();
    unlink $conf_enabled;
    $made_install = 0;
    ok !grep({ -e } $so, $conf_available, '/usr/bin/provision-x',
             '/usr/share/man/man1/provision-x.1'),
        'make uninstall removes what make install installed' or diag $out;
    $cleaned = 1;
}

($rc, $out) = run_cmd($Nginx, '-t');
is $rc, 0, 'in the end stock nginx -t passes' or diag $out;

done_testing();
