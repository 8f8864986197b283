package PXReadme;

# The README's fenced blocks, for the tests that run them (t/049 against
# the demo, t/080 on the machine itself): each with its language, the line
# of its first text line, and the HTML comments right before it
# ("<!-- fragment: http -->", "<!-- run by: t/080 -->").

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $Root = abs_path(dirname(__FILE__) . '/../..');

# blocks(): every fenced block, in the README's order, as
# { lang, line, marks => [comments], text }.
sub blocks {
    open my $fh, '<', "$Root/README.md" or die "README.md: $!";
    my @lines = map { chomp; $_ } <$fh>;
    close $fh;
    my (@blocks, @marks);
    for (my $i = 0; $i < @lines; $i++) {
        my $line = $lines[$i];
        if ($line =~ /^<!--\s*(.*?)\s*-->$/) {
            push @marks, $1;
            next;
        }
        if ($line =~ /^```(\S*)$/) {
            my ($lang, $start, @body) = ($1, $i + 1);
            push @body, $lines[$i] while ++$i < @lines && $lines[$i] ne '```';
            push @blocks, { lang => $lang, line => $start, marks => [@marks],
                            text => join("\n", @body) . "\n" };
        }
        @marks = () unless $line =~ /^\s*$/;
    }
    return @blocks;
}

# mark($block, qr/^run by:\s*(\S+)/): the first capture of the first
# comment before the block that matches, else undef.
sub mark {
    my ($block, $re) = @_;
    for (@{ $block->{marks} }) { return $1 if /$re/ }
    return undef;
}

# run_by('t/080'): the sh blocks marked "<!-- run by: t/080 -->", in order.
sub run_by {
    my ($test) = @_;
    return grep {
        $_->{lang} eq 'sh'
            && (mark($_, qr/^run by:\s*(\S+)/) // '') eq $test
    } blocks();
}

1;
