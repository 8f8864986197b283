# Logs are assertions (t/helper/PXLogs.pm): a Test::Nginx-format block and
# a PXNginx script both fail when nginx's error log holds an unexpected
# [alert], a worker that died or a sanitizer report, and pass when the
# test says it expects the line.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IPC::Run3 qw(run3);
use Test::More;

my $t_dir = dirname(dirname(abs_path(__FILE__)));
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $port = ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984) + 1001;

plan skip_all => "no nginx binary ($nginx)" unless -x $nginx;

my $scratch = tempdir(CLEANUP => 1);

sub run_perl {
    my ($script, %env) = @_;
    local %ENV = %ENV;
    # the binary and its module stay the run's (make compat: nginx 1.30.4)
    delete $ENV{$_}
        for grep { /^TEST_NGINX_/ && $_ ne 'TEST_NGINX_LOAD_MODULES' } keys %ENV;
    %ENV = (%ENV, TEST_NGINX_BINARY => $nginx, %env);
    # under make test-asan: the worker this test crashes on purpose dies
    # of the signal itself, and no report of it joins the suite's
    $ENV{ASAN_OPTIONS} .= ":handle_segv=0:log_path=$scratch/asan"
        if defined $ENV{ASAN_OPTIONS};
    run3([$^X, "-I$t_dir/lib", $script], \undef, \my $out, \my $err);
    return ($? >> 8, $out // '', $err // '');
}

# ---- Test::Nginx format ----

my ($rc, $out, $err) = run_perl("$t_dir/runner/fixtures/alert.t.in",
    TEST_NGINX_SERVER_PORT => $port,
    TEST_NGINX_SERVROOT => "$t_dir/servroot-selftest-logs");

isnt $rc, 0, 'a fixture with an unexpected [alert] fails';
like $out, qr/^not ok \d+ - \S+ TEST 1: an alert nobody expects fails the block - pattern "\[alert\]" should not match any line/m,
    'in the block that did not expect it';
unlike $out, qr/^not ok \d+ - \S+ TEST 2:/m, 'not in the block that expects it';
like $out, qr/^ok \d+ - \S+ TEST 3: .* - pattern "exited on signal" does not match a line/m,
    'a quiet block is checked for dead workers too';

# ---- PXNginx scripts ----

my $dir = $scratch;
my $script = "$dir/crash.t";
open my $fh, '>', $script or die $!;
print $fh <<"_PL_";
use strict;
use lib '$t_dir/helper';
use Test::More;
use PXNginx;

my \$nginx = PXNginx->new(name => 'selftest-crash', workers => 1);
ok \$nginx->start, 'nginx starts';
\$nginx->expect_in_log(qr/exited on signal 9\$/) if \$ENV{EXPECT_KILL};
my (\$worker) = \$nginx->worker_pids;
kill \$ENV{SIGNAL}, \$worker;
select undef, undef, undef, 0.5;
\$nginx->stop;
done_testing();
_PL_
close $fh;

($rc, $out, $err) = run_perl($script, SIGNAL => 'SEGV');
isnt $rc, 0, 'a PXNginx script whose worker crashed fails';
like $out, qr/^not ok 2 - selftest-crash: no worker died, no alert/m,
    'when testing is done';
like "$out$err", qr/exited on signal 11/, 'showing the line';

($rc, $out, $err) = run_perl($script, SIGNAL => 'KILL', EXPECT_KILL => 1);
is $rc, 0, 'a worker killed on purpose, and expected, passes'
    or diag "$out$err";

($rc, $out, $err) = run_perl($script, SIGNAL => 'KILL');
isnt $rc, 0, 'but not when the test did not say so';

done_testing();
