package PXLogs;

# Logs are assertions: a test fails when nginx's error log holds a worker
# that died, an [alert] or [crit], or a sanitizer report, unless the test
# says it expects that very line.
#
#   Test::Nginx-format files: PXLogs::refuse_crashes() adds the patterns to
#   every block's no_error_log (add_block_preprocessor, as in the real
#   Test::Nginx); a block whose error_log or no_error_log already names one
#   of them keeps its own.
#   PXNginx instances: checked when testing is done (PXNginx.pm), with
#   $nginx->expect_in_log(qr/.../) for what a test causes on purpose.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(refuse_crashes crash_lines);

our @Patterns = ('exited on signal', '[alert]', '[crit]',
                 'AddressSanitizer', 'LeakSanitizer', 'runtime error:');

my $Crash = join '|', map { quotemeta } @Patterns;

# The lines of $log that no test may leave, less those matching @allowed.
sub crash_lines {
    my ($log, @allowed) = @_;
    return grep {
        my $line = $_;
        $line =~ /$Crash/ && !grep { $line =~ $_ } @allowed
    } split /\n/, $log;
}

sub _as_list {
    my ($value) = @_;
    return () unless defined $value;
    return @$value if ref $value eq 'ARRAY';
    return ($value) if ref $value;
    chomp $value;
    return split /\n+/, $value;
}

sub refuse_crashes {
    main::add_block_preprocessor(sub {
        my ($block) = @_;
        return if defined $block->must_die;

        my @own = (_as_list($block->error_log), _as_list($block->no_error_log));
        my @add = grep {
            my $p = $_;
            !grep { index("$_", $p) >= 0 } @own
        } @Patterns;
        return unless @add;

        my $no = $block->no_error_log;
        if (!defined $no) {
            $block->set_value(no_error_log => join "\n", @add);
        } elsif (ref $no) {
            $block->set_value(no_error_log => [_as_list($no), @add]);
        } else {
            chomp $no;
            $block->set_value(no_error_log => join "\n", $no, @add);
        }
    });
}

1;
