package PXNginx;

# A private nginx for tests whose scenario spans several requests, a
# reload, a restart or a killed process: what one Test::Nginx block (one
# request against one configuration) cannot express.  Each instance has
# its own prefix (t/servroot-<name>) and a free loopback port, loads the
# module from TEST_NGINX_LOAD_MODULES (or build/), and is stopped when the
# object goes away.  new(prefix => DIR) puts it elsewhere (make soak).
#
# Logs are assertions (PXLogs.pm): when testing is done, every instance's
# error log is checked for a worker that died, an [alert] or [crit], or a
# sanitizer report; expect_in_log(qr/.../) names the lines a test causes
# on purpose (a SIGKILLed worker, say).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use HTTP::Response;
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test2::API qw(test2_add_callback_testing_done);
use Test::More ();
use Time::HiRes qw(sleep time);

use PXLogs ();

my $Root = abs_path(dirname(__FILE__) . '/../..');

# prefix => [name, allowed patterns], for the check when testing is done
my (%Checked, @Order);

my $Registered;

# The module under test: TEST_NGINX_LOAD_MODULES, else the one make builds.
sub module_path {
    return $ENV{TEST_NGINX_LOAD_MODULES}
        // "$Root/build/ngx_http_provision_x_module.so";
}

# Whether that module is the fault-injection build (make test-faults):
# its fault points and movable clock exist only there.
sub fault_build {
    open my $fh, '<:raw', module_path() or return 0;
    local $/;
    return index(<$fh> // '', 'fault injection build') >= 0;
}

sub check_logs_when_done {
    return if $Registered++;

    test2_add_callback_testing_done(sub {
        for my $prefix (@Order) {
            my ($name, $allowed) = @{ $Checked{$prefix} };
            open my $fh, '<', "$prefix/logs/error.log" or next;
            local $/;
            my $log = <$fh> // '';
            close $fh;
            my @bad = PXLogs::crash_lines($log, @$allowed);
            Test::More::ok(!@bad, "$name: no worker died, no alert, no "
                           . 'sanitizer report in the error log')
                or Test::More::diag(join "\n",
                                    @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
        }
    });
}

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# new(name => 'x', http => '...', server => '...', workers => 1,
#     main => '...' (before events{}), after => '...' (after http{}))
sub new {
    my ($class, %a) = @_;
    my $self = bless {
        name    => $a{name},
        prefix  => $a{prefix} // "$Root/t/servroot-$a{name}",
        port    => $a{port} // free_port(),
        workers => $a{workers} // 1,
        http    => $a{http} // '',
        server  => $a{server} // '',
        main    => $a{main} // '',
        after   => $a{after} // '',
        binary  => $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx',
        module  => module_path(),
        version => 0,
    }, $class;
    remove_tree($self->{prefix}) unless $a{keep};
    make_path(map { "$self->{prefix}/$_" } qw(conf logs html data));
    # a script that runs no tests (make soak) checks its log itself
    unless ($a{checks_own_log}) {
        check_logs_when_done();
        push @Order, $self->{prefix} unless $Checked{ $self->{prefix} };
        $Checked{ $self->{prefix} } = [$a{name}, []];
    }
    return $self;
}

# Lines the test causes on purpose, which the final check lets pass.
sub expect_in_log {
    my ($self, @patterns) = @_;
    push @{ $Checked{ $self->{prefix} }[1] }, @patterns
        if $Checked{ $self->{prefix} };
}

sub prefix { $_[0]{prefix} }
sub port   { $_[0]{port} }

# The line of the written nginx.conf that holds $text (-1: none), to check
# that nginx -t names the line at fault.
sub config_line {
    my ($self, $text) = @_;
    open my $fh, '<', "$self->{prefix}/conf/nginx.conf" or die $!;
    while (my $line = <$fh>) {
        return $. if index($line, $text) >= 0;
    }
    return -1;
}

sub write_config {
    my ($self, %a) = @_;
    $self->{$_} = $a{$_}
        for grep { exists $a{$_} } qw(http server workers main after);
    $self->{version}++;
    my $p = $self->{prefix};
    my $user = $> == 0 ? "user root;\n" : '';
    my $temp = join '', map { "    ${_}_temp_path $p/${_}_temp;\n" }
        qw(client_body proxy fastcgi uwsgi scgi);
    open my $fh, '>', "$p/conf/nginx.conf" or die "$p/conf/nginx.conf: $!";
    print $fh <<"_EOC_";
load_module $self->{module};
${user}worker_processes $self->{workers};
daemon on;
master_process on;
error_log $p/logs/error.log info;
pid $p/logs/nginx.pid;
$self->{main}
events {
    worker_connections 256;
    accept_mutex off;
}

http {
    access_log $p/logs/access.log;
    default_type text/plain;
$temp
$self->{http}

    server {
        listen 127.0.0.1:$self->{port};
        client_max_body_size 4m;
        client_body_buffer_size 4m;

        location = /_version { return 200 "$self->{version}"; }

$self->{server}
    }
}
$self->{after}
_EOC_
    close $fh;
}

sub command {
    my ($self, @args) = @_;
    my $p = $self->{prefix};
    return ($self->{binary}, '-p', "$p/", '-e', "$p/logs/error.log",
            '-c', "$p/conf/nginx.conf", @args);
}

# Starts nginx; returns true when it serves the current configuration.
sub start {
    my ($self, %a) = @_;
    $self->write_config(%a) unless $a{no_write};
    system($self->command) == 0 or return 0;
    return $self->wait_version;
}

# nginx -t on the current configuration: (exit status, output)
sub test_config {
    my ($self) = @_;
    my @cmd = $self->command('-t');
    my $out = `@cmd 2>&1`;
    return ($? >> 8, $out);
}

sub pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{prefix}/logs/nginx.pid" or return undef;
    my $pid = <$fh>;
    close $fh;
    return undef unless defined $pid && $pid =~ /(\d+)/;
    return kill(0, $1) ? $1 : undef;
}

sub worker_pids {
    my ($self) = @_;
    my $master = $self->pid or return ();
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // '';
        close $fh;
        # pid (comm) state ppid ...
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @pids, $pid
            if $ppid == $master && _cmdline($pid) =~ /worker process/;
    }
    return @pids;
}

sub _cmdline {
    open my $fh, '<', "/proc/$_[0]/cmdline" or return '';
    local $/;
    my $c = <$fh> // '';
    return $c;
}

# Polls /_version until every answer comes from the current configuration.
sub wait_version {
    my ($self) = @_;
    my $ok = 0;
    for (1 .. 300) {
        my $res = $self->request(GET => '/_version', timeout => 2);
        if ($res && $res->code == 200 && $res->content eq $self->{version}) {
            return 1 if ++$ok >= 10;
            next;
        }
        $ok = 0;
        sleep 0.05;
    }
    return 0;
}

# Reload with a new configuration: true when the new one serves.
sub reload {
    my ($self, %a) = @_;
    my $pid = $self->pid or return 0;
    $self->write_config(%a);
    kill 'HUP', $pid or return 0;
    return $self->wait_version;
}

# Reload that nginx must refuse: true when the master logged the refusal
# and the old configuration still serves.
sub reload_refused {
    my ($self, %a) = @_;
    my $pid = $self->pid or return 0;
    my $old = $self->{version};
    my $log = length $self->error_log;
    $self->write_config(%a);
    kill 'HUP', $pid or return 0;
    for (1 .. 100) {
        last if substr($self->error_log, $log) =~ /\[emerg\]/;
        sleep 0.05;
    }
    $self->{version} = $old;
    return $self->wait_version;
}

sub _wait_gone {
    my ($pid, $secs) = @_;
    my $until = time + $secs;
    while (time < $until) {
        waitpid($pid, WNOHANG);
        return 1 unless kill 0, $pid;
        sleep 0.02;
    }
    return 0;
}

# Graceful stop (nginx -s quit) or fast stop (TERM); waits for the exit.
sub stop {
    my ($self, $sig) = @_;
    my $pid = $self->pid or return 1;
    kill $sig // 'QUIT', $pid;
    return _wait_gone($pid, 30);
}

# SIGKILL for the master and its workers: what a crash looks like.
sub crash {
    my ($self) = @_;
    my $pid = $self->pid or return;
    my @workers = $self->worker_pids;
    kill 'KILL', $pid, @workers;
    _wait_gone($_, 5) for $pid, @workers;
    unlink "$self->{prefix}/logs/nginx.pid";
}

# Waits until the error log matches (true) or the timeout passes (false).
sub wait_log {
    my ($self, $re, $secs) = @_;
    my $until = time + ($secs // 10);
    while (time < $until) {
        return 1 if $self->error_log =~ $re;
        sleep 0.05;
    }
    return 0;
}

# The non-empty lines of logs/$name.  An access log line is written when
# its request ends, a moment after the answer: with $at_least, waits (up
# to 5 s) for that many lines, and a little more for any surplus.
sub log_lines {
    my ($self, $name, $at_least) = @_;
    my $read = sub {
        open my $fh, '<', "$self->{prefix}/logs/$name" or return ();
        local $/;
        return grep { length } split /\n/, <$fh> // '';
    };
    if (defined $at_least) {
        for (1 .. 100) {
            last if $read->() >= $at_least;
            sleep 0.05;
        }
        sleep 0.1;
    }
    return $read->();
}

sub error_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{prefix}/logs/error.log" or return '';
    local $/;
    my $log = <$fh> // '';
    close $fh;
    return $log;
}

# request(METHOD => '/uri', headers => [k => v, ...], body => '...')
# One request on a fresh connection; returns an HTTP::Response (code 0 on
# a connection failure).
sub request {
    my ($self, $method, $uri, %a) = @_;
    my $body = $a{body} // '';
    my @h = @{ $a{headers} // [] };
    my $req = "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n";
    while (my ($k, $v) = splice @h, 0, 2) {
        $req .= "$k: $v\r\n";
    }
    $req .= 'Content-Length: ' . length($body) . "\r\n"
        if length $body || $method eq 'POST';
    $req .= "\r\n$body";

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $self->{port},
                                     Timeout => 5);
    return HTTP::Response->new(0, "connect: $!") unless $sock;
    local $SIG{PIPE} = 'IGNORE';
    print $sock $req;
    my $raw = '';
    my $timeout = $a{timeout} // 30;
    my $until = time + $timeout;
    my $sel = IO::Select->new($sock);
    while (time < $until) {
        next unless $sel->can_read(0.5);
        my $n = sysread($sock, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $sock;
    return HTTP::Response->new(0, 'no answer') unless length $raw;

    my $res = HTTP::Response->parse($raw);
    if (($res->header('Transfer-Encoding') // '') eq 'chunked') {
        my ($in, $out) = ($res->content, '');
        while ($in =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($in, 0, $len, '');
            $in =~ s/^\r\n//;
        }
        $res->content($out);
    }
    return $res;
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    my $pid = $self->pid or return;
    kill 'QUIT', $pid;
    _wait_gone($pid, 10) or kill 'KILL', $pid;
}

1;
