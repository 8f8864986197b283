package PXQueue;

# Helpers for the queue tests: the snapshot file format, written and read
# independently of the module's C++ (so a test fails when the two
# disagree), and a consumer that leases and acknowledges over HTTP.

use strict;
use warnings;

use Compress::Zlib qw(crc32);
use Exporter 'import';

our @EXPORT = qw(write_snapshot read_snapshot record_keys lease_all
                 consumer_auth);

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

1;
