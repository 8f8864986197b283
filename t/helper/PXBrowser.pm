package PXBrowser;

# Headless Chromium for the tests that need a real browser (the status
# page), driven over the DevTools protocol on a pipe: with
# --remote-debugging-pipe Chromium reads commands from fd 3 and writes
# answers and events to fd 4, each one JSON text ending in a NUL byte.
# No websocket, no port, no module beyond core Perl (JSON::PP).
#
#   my $b = PXBrowser->new(dir => $scratch) or skip ...;
#   $b->open_page($url);                    # a tab, navigated
#   $b->wait_for('document.body.dataset.polls >= 2', 20);
#   my $v = $b->evaluate('...');            # the value, by JSON
#   $b->screenshot("$dir/page.png", 1280);  # the whole page
#   $b->problems;                           # exceptions, console errors,
#                                           # CSP and other log errors
#
# Chromium runs as the brief for this machine says: headless, no sandbox
# (root), no GPU, no QUIC, a fresh profile, nothing fetched in the
# background.  The process is ours: stopped by Browser.close, then by its
# id if it lingers.

use strict;
use warnings;

use Fcntl qw(F_DUPFD);
use File::Path qw(make_path remove_tree);
use IO::Handle;
use IO::Select;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use POSIX qw(WNOHANG dup2 _exit);
use Time::HiRes qw(sleep time);

my $Json = JSON::PP->new->utf8->canonical;

sub binary {
    return $ENV{PX_CHROMIUM} // 'chromium';
}

sub available {
    my $bin = binary();
    return scalar grep { -x "$_/$bin" } split /:/, $ENV{PATH} // ''
        if $bin !~ m{/};
    return -x $bin;
}

# new(dir => DIR): DIR holds the profile and Chromium's own log.
sub new {
    my ($class, %a) = @_;
    my $dir = $a{dir} or die 'PXBrowser->new needs dir';
    remove_tree("$dir/profile");
    make_path("$dir/profile");

    pipe(my $cmd_r, my $cmd_w) or die "pipe: $!";
    pipe(my $res_r, my $res_w) or die "pipe: $!";

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        # fds 3 and 4, whatever the pipes got: copy above both first
        my $in = fcntl($cmd_r, F_DUPFD, 10);
        my $out = fcntl($res_w, F_DUPFD, 10);
        defined $in && defined $out
            && defined dup2($in, 3) && defined dup2($out, 4)
            or _exit(127);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/chromium.log";
        open STDERR, '>>', "$dir/chromium.log";
        no warnings 'exec';    # _exit below is for a failed exec
        exec { binary() } binary(), '--headless', '--no-sandbox', '--disable-gpu',
            '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--disable-extensions',
            '--remote-debugging-pipe', "--user-data-dir=$dir/profile",
            'about:blank';
        _exit(127);
    }
    close $cmd_r;
    close $res_w;
    $cmd_w->autoflush(1);

    my $self = bless {pid => $pid, out => $cmd_w, in => $res_r,
                      buffer => '', next_id => 0, events => [],
                      session => undef}, $class;

    # the browser answers once it is up
    my $v = eval { $self->call('Browser.getVersion', {}, browser => 1) };
    return $v ? $self : undef;
}

sub pid { $_[0]{pid} }

sub _send {
    my ($self, $msg) = @_;
    local $SIG{PIPE} = 'IGNORE';
    print { $self->{out} } $Json->encode($msg) . "\0"
        or die "chromium: write: $!";
}

# The next message from Chromium, or undef once $until passed.
sub _receive {
    my ($self, $until) = @_;
    my $sel = IO::Select->new($self->{in});
    while (1) {
        if ((my $nul = index $self->{buffer}, "\0") >= 0) {
            my $text = substr $self->{buffer}, 0, $nul + 1, '';
            chop $text;
            return $Json->decode($text);
        }
        my $left = $until - time;
        return undef if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread $self->{in}, my $chunk, 1 << 20;
        die "chromium: the pipe closed\n" unless $n;
        $self->{buffer} .= $chunk;
    }
}

# Keeps what a test wants to know of: exceptions, console errors, log
# entries at error level (a CSP violation is one).
sub _event {
    my ($self, $msg) = @_;
    my ($m, $p) = ($msg->{method} // '', $msg->{params} // {});
    if ($m eq 'Runtime.exceptionThrown') {
        my $d = $p->{exceptionDetails} // {};
        push @{ $self->{events} }, 'exception: '
            . ($d->{exception}{description} // $d->{text} // '?');
    } elsif ($m eq 'Runtime.consoleAPICalled' && ($p->{type} // '') eq 'error') {
        push @{ $self->{events} }, 'console.error: '
            . join ' ', map { $_->{value} // $_->{description} // '' }
                            @{ $p->{args} // [] };
    } elsif ($m eq 'Log.entryAdded'
             && ($p->{entry}{level} // '') eq 'error') {
        push @{ $self->{events} },
            "log ($p->{entry}{source}): $p->{entry}{text}";
    }
}

# call(METHOD, {params}): the result; dies on an error or after 30 s.
# Commands go to the open tab unless browser => 1.
sub call {
    my ($self, $method, $params, %a) = @_;
    my $id = ++$self->{next_id};
    my %msg = (id => $id, method => $method, params => $params // {});
    $msg{sessionId} = $self->{session}
        if $self->{session} && !$a{browser};
    $self->_send(\%msg);
    my $until = time + ($a{timeout} // 30);
    while (defined(my $reply = $self->_receive($until))) {
        if (defined $reply->{id} && $reply->{id} == $id) {
            die "chromium: $method: $reply->{error}{message}\n"
                if $reply->{error};
            return $reply->{result};
        }
        $self->_event($reply) if $reply->{method};
    }
    die "chromium: $method: no answer\n";
}

# A new tab on $url, with the domains whose events problems() reports.
sub open_page {
    my ($self, $url) = @_;
    my $target = $self->call('Target.createTarget', {url => 'about:blank'},
                             browser => 1)->{targetId};
    $self->{session} = $self->call('Target.attachToTarget',
                                   {targetId => $target, flatten => \1},
                                   browser => 1)->{sessionId};
    $self->call($_) for qw(Page.enable Runtime.enable Log.enable);
    $self->call('Page.navigate', {url => $url});
    return $self;
}

# The value of a JavaScript expression in the tab (JSON-able).
sub evaluate {
    my ($self, $expr) = @_;
    my $r = $self->call('Runtime.evaluate',
                        {expression => $expr, returnByValue => \1,
                         awaitPromise => \1});
    die "chromium: evaluate: $r->{exceptionDetails}{text}\n"
        if $r->{exceptionDetails};
    return $r->{result}{value};
}

# Polls the expression until it is true (its value) or $secs pass (undef).
sub wait_for {
    my ($self, $expr, $secs) = @_;
    my $until = time + ($secs // 10);
    while (time < $until) {
        my $v = eval { $self->evaluate($expr) };
        return $v if $v;
        sleep 0.1;
    }
    return undef;
}

# A PNG of the whole page at $width CSS pixels.
sub screenshot {
    my ($self, $file, $width) = @_;
    my $metrics = sub {
        $self->call('Emulation.setDeviceMetricsOverride',
                    {width => $width, height => $_[0],
                     deviceScaleFactor => 1, mobile => \0});
    };
    # lay the page out at $width, then make the viewport as tall as it
    $metrics->(600);
    $metrics->($self->evaluate('document.documentElement.scrollHeight'));
    my $png = $self->call('Page.captureScreenshot', {format => 'png'});
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh decode_base64($png->{data});
    close $fh;
    return -s $file;
}

# What went wrong in the tab so far (see _event).
sub problems {
    my ($self) = @_;
    # events that arrived after the last answer
    while (defined(my $m = $self->_receive(time + 0.2))) {
        $self->_event($m) if $m->{method};
    }
    return @{ $self->{events} };
}

sub quit {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    eval { $self->call('Browser.close', {}, browser => 1, timeout => 5) };
    close $self->{out};
    for (1 .. 100) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@);
    $self->quit;
}

1;
