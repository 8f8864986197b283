# The README's examples work as shown: every ```nginx block passes
# "nginx -t" with the module loaded, and every ```sh block runs, verbatim,
# against the demo gateway of "make run", in the order the README shows
# them.
#
# The README marks what a block is with HTML comments right before it:
#
#   (none)                      an nginx block is a complete nginx.conf
#   <!-- fragment: main -->     nginx: main context (http {...} and the
#                               like); the test adds the load_module line
#                               before it (unless it has one), pid and
#                               "events {}" after it
#   <!-- fragment: http -->     nginx: the inside of http {} (a file in
#                               /etc/nginx/conf.d/); the test wraps it as
#                               main, in "http { ... }"
#   <!-- fragment: server -->   nginx: the inside of a server {}
#   <!-- synopsis -->           nginx, http: also checked as
#                               /etc/nginx/conf.d/provision-x.conf in a copy
#                               of the distribution's /etc/nginx (Debian's
#                               nginx only)
#   <!-- run by: TEST -->       sh: run by that test (t/080-deb-package.t:
#                               the steps that install into the system)
#   <!-- against: redis -->     sh: run against a Redis server fed by the
#                               README's gateway with the redis= sink (its
#                               nginx block with "upstream px_redis"), after
#                               one more signed CDR push to it: the output
#                               must contain that record's icid
#   <!-- in an nginx source tree -->
#                               sh: when PROVISION_X_NGINX_TREE names one
#                               (make compat), run in a fresh copy of it with
#                               /path/to/this/repository the repository (and
#                               auto/configure for ./configure in a tree
#                               packed from nginx's repository); the
#                               module it builds must load into the nginx
#                               under test; else not run
#   <!-- runs until stopped --> sh: stopped after 5 seconds, and must still
#                               run then (a consumer that waits for more)
#   <!-- not run: REASON -->    sh: not run, and fails this test: every
#                               sh block runs somewhere
#
# What the test changes in the text, and nothing else:
#   nginx: the paths an operator uses are moved into a scratch directory
#     (/etc/nginx/px/ holds files made here: secrets, keys, a self-signed
#     certificate; /var/log/nginx/ and /var/lib/nginx/provision-x/ are
#     empty directories); load_module names the module under test; the
#     platforms' host names in proxy_pass become 127.0.0.1 (the test
#     machines resolve no names);
#   sh: 127.0.0.1:8080 becomes the demo's test port. Each block runs under
#     "bash -e -o pipefail" in a directory where build/run is the demo's
#     prefix, build/provision-x the CLI under test and examples/ the
#     repository's; a "# -> TEXT" line means the output contains TEXT.
#     Against Redis: its address (10.0.0.5, port 6379) becomes the test
#     server's, redis-cli gets its -p and REDISCLI_AUTH its password, and
#     /etc/nginx/px/ is the scratch directory of the nginx blocks.
#
# The demo is started by the README's "make run" block itself (its
# <!-- runs as the demo --> mark), with PX_DEMO_PORT and
# PX_DEMO_PLATFORM_PORT (TEST_NGINX_PORT and the next one when set, else
# free ports) and PX_DEMO_PREFIX (t/servroot-readme); with a pair other
# than make run's (make compat, the sanitizer builds) by scripts/run.sh,
# which make run runs.  Ctrl-C stops it at the end (SIGINT to its process
# group); its error log must hold no crash, alert or sanitizer report.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Cwd qw(abs_path);
use Fcntl qw(:flock);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IPC::Run3 qw(run3);
use POSIX qw(WNOHANG setpgid);
use Test::More;
use Time::HiRes qw(sleep time);

use PXFiles qw(slurp spew);
use PXLogs;
use PXNginx;
use PXReadme;
use PXRedis;

my $Root = abs_path("$FindBin::Bin/..");
my $binary = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $module = PXNginx::module_path();
my $cli = $ENV{TEST_PX_CLI} // (-x dirname($module) . '/provision-x'
                                ? dirname($module) . '/provision-x'
                                : "$Root/build/provision-x");
plan skip_all => "$module not built (make)" unless -f $module;
plan skip_all => "$cli not built (make)" unless -x $cli;
for my $tool (qw(curl openssl python3 bash)) {
    plan skip_all => "$tool not installed"
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}


my @blocks = PXReadme::blocks();

my @nginx = grep { $_->{lang} eq 'nginx' } @blocks;
my @sh = grep { $_->{lang} eq 'sh' } @blocks;
my @other = grep { $_->{lang} !~ /^(nginx|sh|json|text)$/ } @blocks;
ok !@other, 'every fenced block is nginx, sh, json or text'
    or diag join ', ', map { "line $_->{line}: '$_->{lang}'" } @other;

# ---- nginx -t on every nginx block ----

my $dir = tempdir(CLEANUP => 1);
make_path("$dir/px", "$dir/logs", "$dir/conf");
make_path("$dir/lib/provision-x", { mode => 0700 });
chmod 0700, "$dir/px", "$dir/lib/provision-x";
run3(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
      'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj',
      '/CN=localhost', '-keyout', "$dir/px/gateway.key", '-out',
      "$dir/px/gateway.pem"], undef, \my $ssl_out, \my $ssl_err);
is $?, 0, 'a certificate for the examples' or diag $ssl_err;
chmod 0600, "$dir/px/gateway.key";

sub rewrite_nginx {
    my ($text) = @_;
    # every file the block names under /etc/nginx/px/ exists
    for my $file ($text =~ m{/etc/nginx/px/([\w.-]+)}g) {
        spew("$dir/px/$file", join('', map { sprintf '%02x', rand 256 }
                                       1 .. 24) . "\n", 0600)
            unless -e "$dir/px/$file";
    }
    $text =~ s{/etc/nginx/px/}{$dir/px/}g;
    $text =~ s{/var/log/nginx/}{$dir/logs/}g;
    $text =~ s{/var/lib/nginx/provision-x/}{$dir/lib/provision-x/}g;
    $text =~ s{load_module\s+\S*ngx_http_provision_x_module\.so;}
              {load_module $module;}g;
    $text =~ s{(proxy_pass\s+https?://)[a-z0-9-]+(?:\.[a-z0-9-]+)+\.(?:com|net|cn)\b}
              {${1}127.0.0.1}g;
    return $text;
}

sub wrap {
    my ($block) = @_;
    my $text = rewrite_nginx($block->{text});
    my $context = PXReadme::mark($block, qr/^fragment:\s*(\w+)$/)
        // 'complete';
    my $port = PXNginx::free_port();
    $text = "server {\n    listen 127.0.0.1:$port;\n$text}\n"
        if $context eq 'server';
    $text = "http {\n$text}\n" if $context =~ /^(server|http)$/;
    if ($context ne 'complete') {
        my $head = $text =~ /^\s*load_module\b/m ? ''
                 : "load_module $module;\n";
        $text = "$head${text}pid $dir/logs/nginx.pid;\nevents {}\n";
    }
    return ($context, $text);
}

my %contexts;
for my $block (@nginx) {
    my ($context, $conf) = wrap($block);
    $contexts{$context}++;
    spew("$dir/conf/nginx.conf", $conf);
    run3([$binary, '-t', '-p', "$dir/", '-c', "$dir/conf/nginx.conf",
          '-e', "$dir/logs/error.log"], undef, \my $out, \my $err);
    my $name = "README line $block->{line}: the nginx block ($context) "
             . 'passes nginx -t';
    is $? >> 8, 0, $name or diag "$err\n$conf";
    unlike $err, qr/\[(warn|emerg|alert|crit)\]/, '... without a warning'
        or diag $err;
}
cmp_ok scalar(@nginx), '>=', 10, scalar(@nginx) . ' nginx blocks checked ('
    . join(', ', map { "$contexts{$_} $_" } sort keys %contexts) . ')';

# ---- the synopsis as a conf.d file of the distribution's nginx ----

my ($synopsis) = grep { defined PXReadme::mark($_, qr/^(synopsis)$/) } @nginx;
ok $synopsis, 'the README has its complete configuration';
SKIP: {
    skip 'no /etc/nginx/nginx.conf of Debian\'s nginx', 2
        unless -f '/etc/nginx/nginx.conf'
            && abs_path($binary) eq '/usr/sbin/nginx' && $synopsis;

    # t/080 enables its package in /etc/nginx for a moment: not meanwhile
    my $lock_dir = -d '/run/lock' ? '/run/lock' : '/tmp';
    open my $lock, '>>', "$lock_dir/provision-x-package-test.lock" or die $!;
    flock $lock, LOCK_SH or die "flock: $!";

    my $tree = "$dir/etc";
    system('cp', '-a', '/etc/nginx', $tree) == 0 or die "cp: $?";
    my $conf = "load_module $module;\n" . slurp("$tree/nginx.conf");
    $conf =~ s{/etc/nginx/}{$tree/}g;
    $conf =~ s{^pid .*$}{pid $dir/logs/stock.pid;}m;
    spew("$tree/nginx.conf", $conf);
    ok -d "$tree/conf.d" && $conf =~ m{include $tree/conf\.d/\*\.conf;},
        'the stock nginx.conf includes conf.d/*.conf in http {}';
    spew("$tree/conf.d/provision-x.conf", rewrite_nginx($synopsis->{text}));
    run3([$binary, '-t', '-c', "$tree/nginx.conf", '-e',
          "$dir/logs/stock-error.log"], undef, \my $out, \my $err);
    is $? >> 8, 0, 'the complete configuration, as conf.d/provision-x.conf '
        . 'of the stock /etc/nginx, passes nginx -t' or diag $err;
    close $lock;
}

# ---- the demo gateway, as make run starts it ----

my $prefix = "$Root/t/servroot-readme";
remove_tree($prefix);
make_path($prefix);
my ($port, $platform_port) = $ENV{TEST_NGINX_PORT}
    ? ($ENV{TEST_NGINX_PORT}, $ENV{TEST_NGINX_PORT} + 1)
    : (PXNginx::free_port(), PXNginx::free_port());

# The demo as the README starts it: its "make run" block itself (with
# PX_DEMO_PREFIX), when the pair under test is the one make run builds
# and serves (the distribution's nginx, build/); else scripts/run.sh,
# which make run runs, with the pair under test (make compat, the
# sanitizer builds).  In its own process group, which Ctrl-C stops.
my ($demo) = grep { defined PXReadme::mark($_, qr/^(runs as the demo)$/) }
             @sh;
ok $demo && $demo->{text} eq "make run\n", 'the README starts the demo '
    . 'with make run';
my $make_run = $demo && abs_path($binary) eq '/usr/sbin/nginx'
    && abs_path($module) eq "$Root/build/ngx_http_provision_x_module.so";
note $make_run ? "README line $demo->{line}: make run"
               : "scripts/run.sh $binary $module (not make run's pair)";

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    setpgid(0, 0) or die "setpgid: $!";
    open STDOUT, '>', "$prefix/run.out" or die $!;
    open STDERR, '>', "$prefix/error.log" or die $!;
    chdir $Root or die $!;
    $ENV{PX_DEMO_PORT} = $port;
    $ENV{PX_DEMO_PLATFORM_PORT} = $platform_port;
    $ENV{PX_DEMO_PREFIX} = $prefix;
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};  # an operator's shell
    exec 'bash', '-e', '-o', 'pipefail', '-c', $demo->{text} if $make_run;
    exec 'sh', "$Root/scripts/run.sh", $binary, $module, $prefix;
    die "exec: $!";
}

my $up;
for (1 .. 600) {
    last if waitpid($pid, WNOHANG) == $pid;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
    if ($s) { $up = 1; close $s; last }
    sleep 0.1;
}
ok $up, "the demo gateway listens on 127.0.0.1:$port"
    or BAIL_OUT(slurp("$prefix/error.log"));

my $work = tempdir(CLEANUP => 1);
make_path("$work/build");
symlink $prefix, "$work/build/run" or die $!;
symlink $cli, "$work/build/provision-x" or die $!;
symlink $module, "$work/build/ngx_http_provision_x_module.so" or die $!;
symlink "$Root/$_", "$work/$_" or die $! for qw(examples monitoring);

# ---- the Redis stream's consumers: a Redis server fed by the README's
# redis= gateway ----

my ($redis, $redis_gateway);

# Starts a password-protected Redis server and the README's gateway with
# the redis= sink (the nginx block with "upstream px_redis"), its Redis
# address and listen port moved to the test's; returns the gateway's port.
sub start_redis_gateway {
    return $redis_gateway->{port} if $redis_gateway;
    my ($block) = grep { $_->{text} =~ /^upstream px_redis \{/m } @nginx;
    die "README: no nginx block with upstream px_redis\n" unless $block;
    my $password = join '', map { sprintf '%02x', rand 256 } 1 .. 16;
    $redis = PXRedis->new(name => 'readme', password => $password);
    $redis->start;
    spew("$dir/px/redis.pass", "$password\n", 0600);
    my $gport = PXNginx::free_port();
    my (undef, $conf) = wrap($block);
    my $rport = $redis->port;
    $conf =~ s{\bserver 10\.0\.0\.5:6379\b}{server 127.0.0.1:$rport}
        or die "README line $block->{line}: no server 10.0.0.5:6379\n";
    $conf =~ s{listen 127\.0\.0\.1:8443;}{listen 127.0.0.1:$gport;}
        or die "README line $block->{line}: no listen 127.0.0.1:8443\n";
    $conf =~ s{^pid .*$}{pid $dir/logs/redis-gateway.pid;}m;
    spew("$dir/conf/redis-gateway.conf", $conf);
    run3([$binary, '-p', "$dir/", '-c', "$dir/conf/redis-gateway.conf",
          '-e', "$dir/logs/redis-gateway.log"], undef, \my $out, \my $err);
    is $? >> 8, 0, "README line $block->{line}: the gateway with the redis= "
        . 'sink starts' or diag $err;
    $redis_gateway = { port => $gport, block => $block };
    return $gport;
}

# A signed one-record CDR push to the README's redis= gateway; returns
# the record's icid.
sub push_to_redis {
    my $gport = start_redis_gateway();
    run3([$cli, 'sign', '--dialect', 'huawei', '--app', 'appKeyA',
          '--sample', 'fee', '--secret-file', "$dir/px/huawei.key", '--url',
          "http://127.0.0.1:$gport/px/huawei/fee"], undef, \my $curl);
    my ($icid) = $curl =~ /"icid":"([^"]+)"/;
    run3(['sh'], \$curl, \my $out, \my $err);
    is $? >> 8, 0, "a signed CDR push to the redis= gateway ($icid)"
        or diag "$out$err";
    return $icid;
}

# The README's Redis address (10.0.0.5:6379, redis-cli's default) and
# /etc/nginx/px/ become the test's; REDISCLI_AUTH holds the password.
sub against_redis {
    my ($script) = @_;
    my $rport = $redis->port;
    $script =~ s/\b10\.0\.0\.5\b/127.0.0.1/g;
    $script =~ s/\b6379\b/$rport/g;
    $script =~ s/\bredis-cli\b/redis-cli -p $rport/g;
    $script =~ s{/etc/nginx/px/}{$dir/px/}g;
    return $script;
}

sub stop_redis_gateway {
    return unless $redis_gateway;
    my ($pid) = slurp("$dir/logs/redis-gateway.pid") =~ /(\d+)/;
    kill 'QUIT', $pid if $pid;
    for (1 .. 100) {
        last unless $pid && kill 0, $pid;
        sleep 0.1;
    }
    ok !($pid && kill 0, $pid), 'the redis= gateway stops';
    my @bad = PXLogs::crash_lines(slurp("$dir/logs/redis-gateway.log"));
    ok !@bad, 'the redis= gateway\'s error log holds no crash, alert or '
        . 'sanitizer report' or diag join "\n", @bad;
    $redis->stop;
}

# ---- building by hand in an nginx source tree (make compat) ----

# The block runs in a fresh copy of the tree make compat built nginx in
# (PROVISION_X_NGINX_TREE, without what configure and make wrote), with
# /path/to/this/repository the repository; the module it makes must load
# into the nginx under test (built from that tree with --with-compat).
sub build_in_source_tree {
    my ($block) = @_;
    my $tree = tempdir(CLEANUP => 1);
    system('cp', '-a', "$ENV{PROVISION_X_NGINX_TREE}/.", $tree) == 0
        or die "cp $ENV{PROVISION_X_NGINX_TREE}: $?";
    remove_tree("$tree/objs");
    unlink "$tree/Makefile";
    (my $script = $block->{text}) =~ s{/path/to/this/repository}{$Root}g;
    # a tree packed from nginx's repository has no ./configure
    $script =~ s{^\./configure\b}{auto/configure}m unless -x "$tree/configure";
    local %ENV = %ENV;
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};  # an operator's shell
    run3(['timeout', '1800', 'bash', '-e', '-o', 'pipefail', '-c',
          "cd '$tree'\n$script"], \undef, \my $out, \my $err);
    is $? >> 8, 0, "README line $block->{line}: configure and make modules "
        . 'in a fresh nginx source tree' or diag "$script\n$out\n$err";
    my $so = "$tree/objs/ngx_http_provision_x_module.so";
    spew("$dir/conf/built.conf", "load_module $so;\npid $dir/logs/built.pid;\n"
         . "events {}\nhttp {\n    provision_x_nonce_zone zone=built:1m;\n}\n");
    run3([$binary, '-t', '-p', "$dir/", '-c', "$dir/conf/built.conf", '-e',
          "$dir/logs/built-error.log"], undef, \$out, \$err);
    is $? >> 8, 0, '... and the module it makes loads into ' . $binary
        or diag $err;
}

# ---- the sh blocks ----

my (@skipped, @not_run, $ran, %elsewhere);
for my $block (@sh) {
    if (defined(my $why = PXReadme::mark($block, qr/^not run:\s*(.*)$/))) {
        push @not_run, "line $block->{line}: $why";
        next;
    }
    if (defined PXReadme::mark($block, qr/^(in an nginx source tree)$/)) {
        if ($ENV{PROVISION_X_NGINX_TREE}) {
            build_in_source_tree($block);
            $ran++;
        } else {
            push @skipped, "line $block->{line}: needs an nginx source tree "
                . '(make compat runs it)';
        }
        next;
    }
    if ($demo && $block == $demo) {
        $ran++ if $make_run;
        next;
    }
    if (defined(my $test = PXReadme::mark($block, qr/^run by:\s*(\S+)$/))) {
        ok -f "$Root/$test", "README line $block->{line}: run by $test";
        $elsewhere{$test}++;
        next;
    }
    $ran++;
    (my $script = $block->{text}) =~ s/127\.0\.0\.1:8080\b/127.0.0.1:$port/g;
    my @wants = $block->{text} =~ /^\s*# -> (.+?)\s*$/mg;
    local %ENV = %ENV;
    if (defined PXReadme::mark($block, qr/^(against: redis)$/)) {
        push @wants, push_to_redis();
        $script = against_redis($script);
        $ENV{REDISCLI_AUTH} = slurp("$dir/px/redis.pass") =~ s/\n\z//r;
    }
    # a block that runs until stopped must still run when it is
    my $stopped = defined PXReadme::mark($block, qr/^(runs until stopped)$/);
    my ($out, $err) = ('', '');
    run3(['timeout', $stopped ? 5 : 120, 'bash', '-e', '-o', 'pipefail',
          '-c', "cd '$work'\n$script"], \undef, \$out, \$err);
    my $rc = $? >> 8;
    is $rc, $stopped ? 124 : 0, "README line $block->{line}: the sh block "
        . ($stopped ? 'runs until stopped' : 'runs')
        or diag "$script\n--- stdout\n$out\n--- stderr\n$err";
    for my $want (@wants) {
        ok index($out, $want) >= 0,
            "README line $block->{line}: the output contains $want"
            or diag "--- stdout\n$out\n--- stderr\n$err";
    }
}

stop_redis_gateway();
cmp_ok $ran, '>=', 10, "$ran sh blocks run against the demo";
note join "\n", map { "$elsewhere{$_} sh blocks run by $_" }
    sort keys %elsewhere;
note scalar(@skipped) . " sh blocks not run here:\n  " . join "\n  ", @skipped;
is_deeply \@not_run, [], 'no sh block is marked "not run"';

# Ctrl-C: SIGINT to the foreground process group
my ($master) = slurp("$prefix/logs/nginx.pid") =~ /(\d+)/;
ok $master && kill(0, $master), "the demo's nginx runs ($master)";
kill 'INT', -$pid;
my ($reaped, $gone);
for (1 .. 100) {
    $reaped ||= waitpid($pid, WNOHANG) == $pid;
    if ($reaped && !kill 0, $master) {
        $gone = 1;
        last;
    }
    sleep 0.1;
}
ok $gone, 'Ctrl-C stops the demo' or kill 'KILL', -$pid;
# make run logs at info, so the refusal lines the README teaches appear
like slurp("$prefix/error.log"), qr/\[(?:info|warn)\] .*rejected huawei callback/,
    'the demo shows refusal lines (make run logs at info)';

my @bad = PXLogs::crash_lines(slurp("$prefix/error.log"));
ok !@bad, 'the demo\'s error log holds no crash, alert or sanitizer report'
    or diag join "\n", @bad;

done_testing();
