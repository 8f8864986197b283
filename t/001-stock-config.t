# Loading the module into a distribution's nginx must not change what its
# configuration does: Debian's own /etc/nginx/nginx.conf, with only the
# load_module line added, passes "nginx -t" and starts; no file is opened
# for a feature nobody configured; a CDR receiver's dead-letter file is
# created 0600 (it holds phone numbers), and a dead-letter path in a
# missing directory is refused at its directive.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use Test::More;

use PXFiles qw(slurp spew);
use PXNginx;

my $stock = '/etc/nginx/nginx.conf';
plan skip_all => "no $stock (Debian's nginx package)" unless -f $stock;

my $binary = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
plan skip_all => "$stock belongs to Debian's nginx, not $binary"
    unless abs_path($binary) eq '/usr/sbin/nginx';
my $module = PXNginx::module_path();
my $dir = tempdir(CLEANUP => 1);

# t/080 installs the module's package for a moment, which enables it in
# /etc/nginx/modules-enabled: not while this test loads it from build/.
use Fcntl qw(:flock);
my $lock_dir = -d '/run/lock' ? '/run/lock' : '/tmp';
open my $lock, '>>', "$lock_dir/provision-x-package-test.lock" or die $!;
flock $lock, LOCK_SH or die "flock: $!";


# ---- the stock file, verbatim but for the load_module line ----

spew("$dir/stock.conf", "load_module $module;\n" . slurp($stock));
my $out = `$binary -t -c $dir/stock.conf -e $dir/t.log 2>&1`;
is $? >> 8, 0, 'stock nginx.conf + load_module passes nginx -t'
    or diag $out;
unlike $out, qr/provision_x|dead_letter/, 'and nothing of the module is mentioned';

# ---- the same tree started: only its paths, pid and ports moved ----

my $tree = "$dir/etc";
system('cp', '-a', '/etc/nginx', $tree) == 0 or die "cp: $?";
my $port = PXNginx::free_port();
my $conf = "load_module $module;\n" . slurp("$tree/nginx.conf");
$conf =~ s{/etc/nginx/}{$tree/}g;
$conf =~ s{^pid .*$}{pid $dir/nginx.pid;}m;
$conf =~ s{^(\s*)error_log .*$}{$1error_log $dir/error.log info;}m;
$conf =~ s{access_log /var/log/nginx/access.log;}{access_log $dir/access.log;};
$conf =~ s{^user .*$}{}m if $> != 0;
spew("$tree/nginx.conf", $conf);
for my $site (glob "$tree/sites-enabled/* $tree/conf.d/*.conf") {
    my $text = slurp($site);
    $text =~ s{listen (\[::\]:)?80\b}{$1 ? "listen [::1]:$port" : "listen 127.0.0.1:$port"}ge;
    unlink $site;          # a symlink into the original tree
    spew($site, $text);
}

my @cmd = ($binary, '-c', "$tree/nginx.conf", '-e', "$dir/error.log");
is system(@cmd), 0, 'the stock tree with the module loaded starts';

my $nginx = PXNginx->new(name => 'stock', port => $port, keep => 1);
my $res;
for (1 .. 50) {
    $res = $nginx->request(GET => '/');
    last if $res->code;
    select undef, undef, undef, 0.1;
}
like $res->code, qr/^(200|403|404)$/, 'and serves its default site'
    or diag $res->status_line;

my $pid = slurp("$dir/nginx.pid");
kill 'QUIT', $1 if $pid =~ /(\d+)/;
for (1 .. 100) { last unless $pid =~ /(\d+)/ && kill 0, $1; select undef, undef, undef, 0.05 }
my $log = slurp("$dir/error.log");
unlike $log, qr/\[(alert|crit|emerg)\]|exited on signal/, 'no alert in its log'
    or diag $log;

# ---- a CDR receiver: its dead-letter file, 0600, at the directive ----

my $px = PXNginx->new(name => 'stock-cdr', http => <<"_EOC_", server => <<'_EOC_');
    provision_x_queue_zone zone=q:64k;
    provision_x_dead_letter $dir/letters/dead.ndjson;
_EOC_
        location = /cdr { provision_x_cdr aliyun queue=q; }
_EOC_
mkdir "$dir/letters";
$px->write_config;
my ($rc, $text) = $px->test_config;
is $rc, 0, 'a CDR receiver with a dead-letter file passes nginx -t' or diag $text;
ok -f "$dir/letters/dead.ndjson", 'which creates the file';
is((stat "$dir/letters/dead.ndjson")[2] & 07777, 0600, 'readable by its owner only');

$px->write_config(http => <<"_EOC_");
    provision_x_queue_zone zone=q:64k;
    provision_x_dead_letter $dir/missing/dead.ndjson;
_EOC_
($rc, $text) = $px->test_config;
isnt $rc, 0, 'a dead-letter file in a missing directory is refused';
like $text, qr/\[emerg\] dead-letter file "\Q$dir\E\/missing\/dead.ndjson": directory "\Q$dir\E\/missing" does not exist.* in \S+nginx\.conf:\d+/,
    'at the directive, naming the directory';

done_testing();
