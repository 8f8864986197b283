#!/usr/bin/perl
# Instructions per push of the module's shared-memory steps, counted by
# callgrind inside one nginx worker: the dedup look-ups, marking the keys
# seen, and the enqueue.  These run under the zones' locks in the glue, so
# bench/core_ops cannot run them.
# usage: worker_ops.pl NGINX PREFIX PORT TEMPLATE PUSHES APP
# Runs the benchmark's own configuration (PREFIX/conf/nginx.conf) in one
# process under callgrind, sends PUSHES signed pushes of 50 new records to
# /huawei/fee signed as APP, and prints "name|instructions per push" lines.
use strict;
use warnings;

use File::Basename qw(dirname);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);

my ($nginx, $prefix, $port, $template, $pushes, $app) = @ARGV;
my $bench = dirname(__FILE__);
my $out = "$prefix/logs/worker.callgrind";

open my $fh, '<', $template or die "$template: $!";
my $body = do { local $/; <$fh> };
$body =~ s/\s+$//;
close $fh;

my @aksk = split /\n/,
    `perl $bench/sign_pool.pl $prefix/conf/huawei.key $app $pushes`;
die "no signed headers\n" unless @aksk == $pushes;

unlink $out;
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>', "$prefix/logs/worker.valgrind" or die;
    exec 'valgrind', '--tool=callgrind', "--callgrind-out-file=$out",
        $nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
        '-e', "$prefix/logs/error.log",
        '-g', 'daemon off; master_process off;';
    die "exec valgrind: $!";
}

sub push_one {
    my ($i) = @_;
    (my $b = $body) =~ s/"sessionId":"/"sessionId":"wo${i}_/g;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 60) or return 0;
    print $s "POST /huawei/fee HTTP/1.1\r\nHost: bench\r\n"
        . "Connection: close\r\n"
        . "Content-Type: application/json;charset=UTF-8\r\n"
        . 'Authorization: AKSK realm="SDP",profile="UsernameToken",'
        . "type=\"Appkey\"\r\nX-AKSK: $aksk[$i]\r\n"
        . 'Content-Length: ' . length($b) . "\r\n\r\n$b";
    my $res = do { local $/; <$s> } // '';
    return $res =~ m{^HTTP/1\.1 200};
}

my $up = 0;
for (1 .. 600) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $port);
    if ($s) { $up = 1; last }
    sleep 0.1;
}
die "nginx under callgrind did not start\n" unless $up;

my $ok = 0;
$ok += push_one($_) ? 1 : 0 for 0 .. $pushes - 1;
kill 'QUIT', $pid;
for (1 .. 300) {
    last if waitpid($pid, POSIX::WNOHANG()) == $pid;
    kill 'TERM', $pid if $_ == 200;
    sleep 0.1;
}
die "only $ok of $pushes pushes acknowledged\n" unless $ok == $pushes;

# inclusive instructions of each step (the largest of the lines callgrind
# gives a function: inlined code is listed under its header's name too)
my %step = (
    'dedup look-ups (`seen_contains`: body digest + 50 keys)' =>
        qr/ngx_http_provision_x_seen_contains\(/,
    'mark seen (`seen_add_all`, 50 keys)' =>
        qr/ngx_http_provision_x_seen_add_all\(/,
    'mark the body digest seen (`seen_add`)' =>
        qr/ngx_http_provision_x_seen_add\(/,
    'enqueue (`queue_push`, 50 lines)' =>
        qr/ngx_http_provision_x_queue_push\(/,
);
my %ir;
my @report = `callgrind_annotate --inclusive=yes --threshold=100 --auto=no $out`;
for my $line (@report) {
    my ($n, $fn) = $line =~ /^\s*([\d,]+) \([^)]*\)\s+\S+?:(\S.*)$/ or next;
    $n =~ tr/,//d;
    for my $name (keys %step) {
        next unless $fn =~ $step{$name};
        $ir{$name} = $n if !defined $ir{$name} || $n > $ir{$name};
    }
}
for my $name (sort keys %step) {
    die "no callgrind figure for $name\n" unless defined $ir{$name};
    printf "%s|%d\n", $name, $ir{$name} / $pushes;
}
