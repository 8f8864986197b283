#!/usr/bin/perl
# usage: sign_pool.pl SECRET_FILE APP COUNT > pool
# One X-AKSK header value per line, fresh nonce each, Created = now:
# PasswordDigest = Base64(HMAC-SHA256(secret, nonce || created)).
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_base64);

my ($secret_file, $app, $count) = @ARGV;
open my $fh, '<', $secret_file or die "$secret_file: $!";
chomp(my $secret = <$fh>);
my @t = gmtime;
my $created = sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ',
    $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0];
my $base = sprintf '%08x%08x', $$, time;
for my $i (1 .. $count) {
    my $nonce = sprintf '%s%016x', $base, $i;
    my $d = hmac_sha256_base64($nonce . $created, $secret);
    $d .= '=' while length($d) % 4;
    print qq{UsernameToken Username="$app",PasswordDigest="$d",}
        . qq{Nonce="$nonce",Created="$created"\n};
}
