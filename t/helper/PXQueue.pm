package PXQueue;

# Helpers for the queue tests: the snapshot file format, written and read
# independently of the module's C++ (so a test fails when the two
# disagree), and a consumer that leases and acknowledges over HTTP.

use strict;
use warnings;

use Compress::Zlib qw(crc32);
use Exporter 'import';
use Time::HiRes qw(sleep);

use PXSign qw(fee_push);

our @EXPORT = qw(write_snapshot read_snapshot record_keys lease_all
                 consumer_auth fee_keys push_records produce consume);

# The consumer key of t/secrets/api-a.key.
sub consumer_auth {
    my ($key) = @_;
    return [Authorization => 'Bearer ' . ($key // 'consumer-key-one-7f3a9c')];
}

# Snapshot: "PXQSNAP1", u32 version 1, u32 0; per record u32 length,
# u32 deliveries, i64 arrival, bytes; "PXQSEND1", u64 count, u32 CRC32 of
# everything before the trailer, u32 0.  Native byte order.
sub write_snapshot {
    my ($path, @records) = @_;
    my $data = 'PXQSNAP1' . pack('LL', 1, 0);
    $data .= pack('LLq', length $_, 0, time) . $_ for @records;
    $data .= 'PXQSEND1' . pack('QLL', scalar @records, crc32($data), 0);
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $data;
    close $fh;
    chmod 0600, $path;
}

# Returns the records of a snapshot, or dies when it is malformed.
sub read_snapshot {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    my $data = <$fh>;
    close $fh;
    die "short snapshot\n" if length $data < 40;
    die "bad magic\n" unless substr($data, 0, 8) eq 'PXQSNAP1';
    my $body = substr($data, 0, length($data) - 24);
    my ($end, $count, $crc) = unpack 'a8QL', substr($data, -24);
    die "bad trailer\n" unless $end eq 'PXQSEND1';
    die "bad crc\n" unless $crc == crc32($body);
    my @records;
    my $off = 16;
    while ($off < length $body) {
        my ($len) = unpack 'L', substr($body, $off, 4);
        push @records, substr($body, $off + 16, $len);
        $off += 16 + $len;
    }
    die "bad count\n" unless $count == @records;
    return @records;
}

# The "key" of every NDJSON line of a lease body.
sub record_keys {
    my ($body) = @_;
    return map { /"key":"([^"]*)"/ ? $1 : "?$_" } split /\n/, $body;
}

# Leases and acknowledges until the queue is empty; returns the lines.
sub lease_all {
    my ($nginx, $uri, %a) = @_;
    my @lines;
    for (1 .. 1000) {
        my $res = $nginx->request(GET => "$uri?max=" . ($a{max} // 100)
                                  . '&wait=0', headers => consumer_auth());
        last if $res->code == 204;
        die 'lease: ' . $res->code . ' ' . $res->content . "\n"
            unless $res->code == 200;
        push @lines, split /\n/, $res->content;
        my $id = $res->header('X-Lease-Id');
        my $ack = $nginx->request(DELETE => "$uri?lease=$id",
                                  headers => consumer_auth());
        die 'ack: ' . $ack->code . ' ' . $ack->content . "\n"
            unless $ack->code == 200;
    }
    return @lines;
}

# The keys of the records fee_push(tag => $tag, n => $n) makes.
sub fee_keys {
    my ($tag, $n) = @_;
    return map { "huawei/appKeyA/1200_${tag}_$_\@callenabler.example/0/"
                 . "icid-$tag-$_" } 1 .. $n;
}

# One push of n records to /cdr: their keys when it was acknowledged.
sub push_records {
    my ($nginx, $tag, $n) = @_;
    my $res = $nginx->request(POST => '/cdr',
                              body => fee_push(tag => $tag, n => $n));
    return $res->code == 200 ? fee_keys($tag, $n) : ();
}

# A producer as the platform is: each push of `per_push` records is
# retried until it is acknowledged, and the keys of acknowledged records
# are written to `file`.  It pushes `pushes` times, or until the file
# `stop` exists.
sub produce {
    my (%a) = @_;
    my ($nginx, $per_push) = @a{qw(nginx per_push)};
    open my $out, '>', $a{file} or die "$a{file}: $!";
    $out->autoflush(1);
    for (my $i = 1; $a{stop} ? !-e $a{stop} : $i <= $a{pushes}; $i++) {
        my $tag = "$a{tag}x$i";
        for (1 .. $a{tries} // 200) {
            my $res = $nginx->request(POST => '/cdr', timeout => 5,
                body => fee_push(tag => $tag, n => $per_push));
            if ($res->code == 200) {
                print $out "$_\n" for fee_keys($tag, $per_push);
                last;
            }
            sleep $a{pause} // 0.05;
        }
    }
    close $out;
}

# A consumer leases from /queue and acknowledges, writing the keys it
# acknowledged to `file`, until the file `done` exists and the queue was
# found empty `empty` times in a row.  `strict`: a refused acknowledgement
# is a failure (else, with workers being killed, it is only not counted).
sub consume {
    my (%a) = @_;
    my $nginx = $a{nginx};
    open my $out, '>', $a{file} or die "$a{file}: $!";
    my $empty = 0;
    while ($empty < $a{empty}) {
        my $res = $nginx->request(GET => '/queue', headers => consumer_auth(),
                                  timeout => 5);
        if ($res->code == 204) {
            $empty++ if -e $a{done};
            next;
        }
        $empty = 0;
        next unless $res->code == 200;
        my $id = $res->header('X-Lease-Id');
        my $ack = $nginx->request(DELETE => "/queue?lease=$id",
                                  headers => consumer_auth(), timeout => 5);
        die 'ack: ' . $ack->code if $a{strict} && $ack->code != 200;
        next unless $ack->code == 200;
        print $out "$_\n" for record_keys($res->content);
    }
    close $out;
}

1;
