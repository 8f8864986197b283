# Crash consistency of the queue zone, deterministically: the harness in
# test/queue/crash.cpp runs the zone code in a child that is SIGKILLed at
# random moments (a good share of them inside the lock) and checks after
# each kill that the next holder finds the zone whole: no accepted record
# lost, no push half enqueued, no record twice, no acknowledged one back.
#
# It compiles the harness against the nginx tree that `make module`
# configured (build/nginx, or PROVISION_X_NGINX_TREE).

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $root = "$FindBin::Bin/..";
my $tree = $ENV{PROVISION_X_NGINX_TREE} // "$root/build/nginx";

plan skip_all => "no configured nginx tree at $tree (make module)"
    unless -e "$tree/objs/ngx_auto_config.h";

my $dir = tempdir(CLEANUP => 1);
my @incs = map { "-I$tree/$_" }
    qw(src/core src/event src/event/modules src/os/unix objs src/http
       src/http/modules src/http/v2);
my @cmd = ($ENV{CXX} // 'g++', qw(-std=c++17 -O1 -g -W -Wall
           -Wno-unused-parameter -Werror), @incs, "-I$root/src",
           "$root/src/ngx_http_provision_x_queue_zone.cpp",
           "$root/src/ngx_http_provision_x_zones.cpp",
           "$root/test/queue/crash.cpp", '-lcrypto', '-o', "$dir/crash");

is system(@cmd), 0, 'the harness builds' or BAIL_OUT("@cmd");

for my $seed (1 .. 3) {
    my $out = `$dir/crash 1000 $seed 2>&1`;
    is $? >> 8, 0, "seed $seed: the zone survived every kill" or diag $out;
    my ($in_lock) = $out =~ /killed inside the lock (\d+)/;
    ok $in_lock && $in_lock >= 20,
        "seed $seed: " . ($in_lock // 0) . ' kills landed inside the lock';
    note $out;
}

done_testing();
