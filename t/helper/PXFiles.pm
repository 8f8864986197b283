package PXFiles;

# Whole files, as the tests that write configurations and read logs want
# them: slurp(FILE) is its text, '' when it is empty or missing;
# spew(FILE, TEXT [, MODE]) writes it (dies when it cannot), then sets
# the mode when one is given.

use strict;
use warnings;

use Exporter qw(import);

our @EXPORT_OK = qw(slurp spew);

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh> // '';
}

sub spew {
    my ($file, $text, $mode) = @_;
    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh or die "$file: $!";
    chmod $mode, $file or die "$file: $!" if defined $mode;
}

1;
