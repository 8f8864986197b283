# Self-tests of the Test::Nginx-compatible runner in t/lib.
#
# Each fixture (t/runner/fixtures/*.t.in, not run by `prove -r t/` itself)
# is run in a subprocess as `perl -I<repo>/t/lib FIXTURE`, so it is always
# OUR runner under test even when the real Test::Nginx is on @INC.  The
# runs use their own port (server port + 1000) and servroot.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use IPC::Run3 qw(run3);
use Test::More;

my $t_dir    = dirname(dirname(abs_path(__FILE__)));
my $lib      = "$t_dir/lib";
my $fixtures = "$t_dir/runner/fixtures";
my $servroot = "$t_dir/servroot-selftest";
my $port     = ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984) + 1000;
my $pid_file = "$servroot/logs/nginx.pid";

sub in_path { my $cmd = shift; grep { -x "$_/$cmd" } split /:/, $ENV{PATH} // '' }

# Same choice as the runner: TEST_NGINX_BINARY, nginx in PATH, /usr/sbin/nginx.
my $nginx = $ENV{TEST_NGINX_BINARY} || (in_path('nginx') ? 'nginx' : '/usr/sbin/nginx');
plan skip_all => "no nginx binary ($nginx)" if $nginx eq '/usr/sbin/nginx' && !-x $nginx;

# Runs a fixture (a file name under fixtures/ or an absolute path) with a
# clean TEST_NGINX_* environment plus %env.
sub run_fixture {
    my ($fixture, %env) = @_;
    $fixture = "$fixtures/$fixture" unless $fixture =~ m{^/};
    local %ENV = %ENV;
    delete $ENV{$_} for grep { /^TEST_NGINX_/ } keys %ENV;
    %ENV = (%ENV, TEST_NGINX_BINARY => $nginx, TEST_NGINX_SERVER_PORT => $port,
            TEST_NGINX_SERVROOT => $servroot, %env);
    run3([$^X, "-I$lib", $fixture], \undef, \my $out, \my $err);
    my $rc = $? >> 8;
    return { out => $out // '', err => $err // '', rc => $rc,
             ok => scalar(() = ($out // '') =~ /^ok \d+/mg),
             not_ok => scalar(() = ($out // '') =~ /^not ok \d+/mg) };
}

sub show {
    my $r = shift;
    diag("exit code $r->{rc}\n--- stdout\n$r->{out}--- stderr\n$r->{err}");
}

sub passes {
    my ($r, $what) = @_;
    ok($r->{rc} == 0 && $r->{not_ok} == 0 && $r->{ok} > 0, "$what: passes") or show($r);
}

# Names the test for "TEST <n>: <title> - <check>", so a failure in some
# other block does not count.
sub has_result {
    my ($r, $status, $test, $check) = @_;
    my $re = qr/^\Q$status\E \d+ - \S+ \Q$test\E [^\n]* - \Q$check\E/m;
    ok($r->{out} =~ $re, "$test: '$status ... $check'") or show($r);
}

sub pid_of_master {
    open my $in, '<', $pid_file or return undef;
    my $pid = <$in> // '';
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub children_of {
    my $ppid = shift;
    my @kids;
    for my $status (glob '/proc/[0-9]*/status') {
        open my $in, '<', $status or next;
        local $/;
        my $text = <$in> // '';
        push @kids, $1 if $text =~ /^PPid:\s+\Q$ppid\E$/m && $status =~ m{/proc/(\d+)/};
    }
    return @kids;
}

sub stop_master {
    my $pid = shift or return;
    kill 'QUIT', $pid;
    for (1 .. 100) { last unless kill 0, $pid; select undef, undef, undef, 0.05 }
    kill 'KILL', $pid if kill 0, $pid;
}

subtest 'passing blocks pass (body, headers, error_log, eval, chunked, repeat_each)' => sub {
    my $r = run_fixture('pass.t.in');
    passes($r, 'pass.t.in');
    is($r->{ok}, 36, 'repeat_each(2) ran the 18 checks of the 5 blocks twice') or show($r);
    like($r->{out}, qr/^1\.\.36$/m, 'plan computed from repeat_each()');
    for my $rep (0, 1) {
        has_result($r, 'ok', 'TEST 1:', "response_body - response is expected "
                                         . "(repeated req $rep, req 0)");
        has_result($r, 'ok', 'TEST 1:', "pattern \"rewritten data: \"/hello\"\" matches "
                                         . "a line in error.log (req $rep)");
        has_result($r, 'ok', 'TEST 2:', "pattern \"No such file or directory\" matches "
                                         . "a line in error.log (req $rep)");
    }
    has_result($r, 'ok', 'TEST 1:', 'header X-Word ok');    # $TEST_NGINX_* expansion
    has_result($r, 'ok', 'TEST 1:', 'header X-Absent not present in the raw headers');
    has_result($r, 'ok', 'TEST 5:', 'header Transfer-Encoding ok');
};

my %fail_checks = (
    'TEST 1:' => 'response_body - response is expected',
    'TEST 2:' => 'status code ok',
    'TEST 3:' => 'header X-Foo ok',
    'TEST 4:' => 'header X-Present not present in the raw headers',
    'TEST 5:' => 'pattern "this line never appears in any error log" should match',
    'TEST 6:' => 'pattern "No such file or directory" should not match any line',
    'TEST 7:' => 'die as expected',
    'TEST 8:' => 'response_body_like - response is expected',
    'TEST 9:' => 'status code ok',    # of the second request
    'TEST 10:' => 'pattern "No such file or directory" should match',    # after req 1
);

subtest 'blocks written to fail are reported as failing' => sub {
    my $r = run_fixture('fail.t.in');
    isnt($r->{rc}, 0, 'fail.t.in exits non-zero') or show($r);
    is($r->{not_ok}, scalar keys %fail_checks, 'one failure per failing block') or show($r);
    has_result($r, 'not ok', $_, $fail_checks{$_}) for sort keys %fail_checks;
    has_result($r, 'ok', $_, 'status code ok') for 'TEST 9:', 'TEST 10:';    # first request
    has_result($r, 'ok', 'TEST 10:', 'pattern "No such file or directory" matches');
    has_result($r, 'ok', 'TEST 11:', 'response_body - response is expected');
};

# The preamble of a fixture plus one of its blocks, as a file of its own.
my $tmp = tempdir(CLEANUP => 1);
sub single_block_fixtures {
    my $name = shift;
    open my $in, '<', "$fixtures/$name" or die "$name: $!";
    my $text = do { local $/; <$in> };
    my ($head, $data) = split /^__DATA__\n/m, $text, 2;
    my @files;
    for my $block (grep { /^===/ } split /^(?====)/m, $data) {
        my ($n) = $block =~ /^=== TEST (\d+):/;
        my $file = "$tmp/$name.$n";
        open my $out, '>', $file or die "$file: $!";
        print $out "${head}__DATA__\n\n$block";
        close $out;
        push @files, ["TEST $n:", $file];
    }
    return @files;
}

subtest 'each failing block alone makes its run fail' => sub {
    for my $case (single_block_fixtures('fail.t.in')) {
        my ($test, $file) = @$case;
        my $r = run_fixture($file);
        if ($fail_checks{$test}) {
            ok($r->{rc} != 0 && $r->{not_ok} > 0, "$test alone: 'not ok' and non-zero exit")
                or show($r);
            has_result($r, 'not ok', $test, $fail_checks{$test});
        } else {
            passes($r, "$test alone");
        }
    }
};

subtest 'several requests per block, each with its own expectations' => sub {
    my $r = run_fixture('multi.t.in');
    passes($r, 'multi.t.in');
    is($r->{ok}, 40, 'repeat_each(2) ran the 20 checks of the 4 blocks twice') or show($r);
    for my $rep (0, 1) {
        for my $idx (0, 1) {
            my $what = "(repeated req $rep, req $idx)";
            my $check = $idx ? 'response is expected' : 'like';    # qr// for req 0
            has_result($r, 'ok', 'TEST 1:', "response_body - $check $what");
            has_result($r, 'ok', 'TEST 4:', "response_body - response is expected $what");
        }
    }
    has_result($r, 'ok', 'TEST 1:', 'header X-Foo not present in the raw headers');
    has_result($r, 'ok', 'TEST 1:', 'header X-Foo ok');
    # Checked after each request; "(req N)" is the repeat_each index.
    my $log_re = qr/^ok \d+ - \S+ TEST 1: .* matches a line in error\.log \(req 0\)$/m;
    is(scalar(() = $r->{out} =~ /$log_re/g), 2, 'error_log checked after each request');
};

subtest 'must_die on a broken config passes and checks the error log' => sub {
    my $r = run_fixture('must_die.t.in');
    passes($r, 'must_die.t.in');
    has_result($r, 'ok', 'TEST 1:', 'die as expected');
    has_result($r, 'ok', 'TEST 1:', 'pattern "invalid number of arguments in "return"');
    has_result($r, 'ok', 'TEST 2:', 'die with the expected exit code');
};

subtest 'bad input bails out' => sub {
    my %why = ('TEST 1:' => 'No environment TEST_NGINX_SELFTEST_UNDEFINED_VAR defined',
               'TEST 2:' => "section '--- raw_response_headers_like' is not supported",
               'TEST 3:' => 'asked for many requests, the expected results should be arrays',
               'TEST 4:' => '--- more_headers lacks data for the 1th request');
    for my $case (single_block_fixtures('bail.t.in')) {
        my ($test, $file) = @$case;
        my $r = run_fixture($file);
        ok($r->{rc} != 0 && $r->{out} =~ /^Bail out!.*\Q$why{$test}\E/m, "$test bails out")
            or show($r);
    }
};

subtest 'workers(2) + master_on() runs a master with two workers' => sub {
    my $r = run_fixture('workers.t.in', TEST_NGINX_NO_CLEAN => 1);
    passes($r, 'workers.t.in');
    my $master = pid_of_master();
    ok($master && kill(0, $master), 'master left running with TEST_NGINX_NO_CLEAN');
    is(scalar(children_of($master // 0)), 2, 'it has two worker processes');
    stop_master($master);
};

subtest 'TEST_NGINX_USE_HUP reloads the same master between blocks' => sub {
    my $r = run_fixture('hup.t.in', TEST_NGINX_USE_HUP => 1, TEST_NGINX_NO_CLEAN => 1);
    passes($r, 'hup.t.in');
    is($r->{ok}, 8, 'all three blocks ran, the last two after a SIGHUP') or show($r);
    my $master = pid_of_master();
    # Every block after the first found a SIGHUP line in its own fresh error
    # log; the last one must come from the master that is still running.
    # (After "#" comes the thread id: the pid with --with-threads, else 0.)
    open my $in, '<', "$servroot/logs/error.log";
    my $log = $in ? do { local $/; <$in> } : '';
    ok($master && $log =~ /\b\Q$master\E#\d+: signal 1 \(SIGHUP\) received/,
       'the running master is the one that got the SIGHUP');
    stop_master($master);
};

SKIP: {
    # Debian's packaged module only loads into Debian's nginx.
    my $so = '/usr/lib/nginx/modules/ngx_http_echo_module.so';
    my ($bin) = $nginx =~ m{/} ? ($nginx) : map { "$_/nginx" } in_path('nginx');
    skip "$so not installed, or nginx is not /usr/sbin/nginx", 1
        unless -f $so && $bin && abs_path($bin) eq '/usr/sbin/nginx';
    subtest 'TEST_NGINX_LOAD_MODULES loads a dynamic module' => sub {
        my $r = run_fixture('modules.t.in', TEST_NGINX_LOAD_MODULES => $so);
        passes($r, 'modules.t.in');
    };
}

SKIP: {
    skip 'valgrind not installed', 1 unless in_path('valgrind');
    subtest 'TEST_NGINX_USE_VALGRIND runs nginx under valgrind' => sub {
        my $r = run_fixture('valgrind.t.in',
                            TEST_NGINX_USE_VALGRIND => "--tool=memcheck --log-file=$tmp/vg.%p");
        passes($r, 'valgrind.t.in');
        is(scalar(() = glob("$tmp/vg.*")), 2, 'one valgrind log per block (nginx restarted)');
        like($r->{err}, qr/^\S+ TEST 2: a second nginx under valgrind$/m,
             'block name announced on stderr before its valgrind output');
    };
}

# Leave nothing behind when everything passed (keep it for debugging if not).
remove_tree($servroot) if Test::More->builder->is_passing;

done_testing();
