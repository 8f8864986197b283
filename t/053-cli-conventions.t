# provision-x follows the conventions of the tools it sits next to:
# --version (and -V) names the release from VERSION, -h is --help on every
# sub-command, and the man page describes every option that --help lists.

use strict;
use warnings;

use FindBin;

use IPC::Run3 qw(run3);
use Test::More;

my $Root = "$FindBin::Bin/..";
my $px = "$Root/build/provision-x";
plan skip_all => "$px not built (make)" unless -x $px;

sub run {
    my ($out, $err) = ('', '');
    run3([$px, @_], \undef, \$out, \$err);
    return ($? >> 8, $out, $err);
}

my $version = do { local @ARGV = "$Root/VERSION"; local $/; <> };
chomp $version;

for my $flag (qw(--version -V)) {
    my ($rc, $out) = run($flag);
    is $rc, 0, "$flag exits 0";
    like $out, qr{^provision-x \Q$version\E \(libcurl/\d+\.\d+\.\d+ }m,
        "$flag names the release and the libcurl";
}

my ($rc, $main) = run('-h');
is $rc, 0, '-h exits 0';
like $main, qr/^usage: provision-x COMMAND/, '-h shows the usage';
like $main, qr/provision-x --version/, '... including --version';

my $man = do { local @ARGV = "$Root/docs/provision-x.1"; local $/; <> };
like $man, qr/^\.TH PROVISION-X 1 /m, 'the man page is provision-x(1)';

for my $cmd (qw(sign check simulate interface)) {
    my ($rc, $long) = run($cmd, '--help');
    my ($rc_h, $short) = run($cmd, '-h');
    is $rc_h, 0, "$cmd -h exits 0";
    is $short, $long, "$cmd -h is $cmd --help";
    like $long, qr/^\s+-h, --help\s/m, "$cmd --help lists -h";

    my %options = map { $_ => 1 } $long =~ /(?<![\w-])--([a-z][a-z-]*)/g;
    ok scalar(keys %options) >= 5, "$cmd --help lists its options";
    my ($section) = $man =~ /^\.SS \Q$cmd\E\n(.*?)(?=^\.S[SH] )/ms;
    ok $section, "the man page has a section for $cmd";
    for my $opt (sort keys %options) {
        next if $opt eq 'help';    # OPTIONS, for every command
        like $section // '', qr/\\-\\-\Q$opt\E\b/,
            "man page, $cmd: --$opt";
    }
}
like $man, qr/^\.BR \\-h ", " \\-\\-help$/m, 'the man page describes -h';
like $man, qr/^\.BR \\-V ", " \\-\\-version$/m, '... and --version';

SKIP: {
    skip 'man is not installed', 1
        unless grep { -x "$_/man" } split /:/, $ENV{PATH};
    local $ENV{MANWIDTH} = 80;
    my $text = `man -l $Root/docs/provision-x.1 2>&1`;
    like $text, qr/^NAME\n\s+provision-x - sign, check and replay/m,
        'man -l renders it';
}

done_testing();
