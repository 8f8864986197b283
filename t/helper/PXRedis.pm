package PXRedis;

# A private redis-server for the tests: a child process on a free loopback
# port, nothing persisted, stopped when the object goes away; and a small
# RESP client to look at what the gateway wrote.  A missing redis-server
# is an error, not a skip: "make deps" installs it.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use PXNginx ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $Root = abs_path(dirname(__FILE__) . '/../..');

# one way to find a port for every helper
sub free_port { PXNginx::free_port() }

# new(name => 'x', password => 'secret', tls => {cert =>, key =>, ca =>})
# With tls, the server also listens with TLS on tls_port; the test's own
# client keeps using the plain port.
sub new {
    my ($class, %a) = @_;
    my $self = bless {
        name     => $a{name},
        dir      => "$Root/t/servroot-redis-$a{name}",
        port     => $a{port} // free_port(),
        password => $a{password},
        tls      => $a{tls},
        binary   => $ENV{TEST_REDIS_SERVER} // 'redis-server',
    }, $class;
    $self->{tls_port} = free_port() if $a{tls};
    remove_tree($self->{dir});
    make_path($self->{dir});
    return $self;
}

sub port     { $_[0]{port} }
sub tls_port { $_[0]{tls_port} }
sub dir  { $_[0]{dir} }

# Starts the server; dies when it cannot (no redis-server is a failure).
sub start {
    my ($self) = @_;
    my @cmd = ($self->{binary}, '--port', $self->{port},
               '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
               '--daemonize', 'no', '--dir', $self->{dir},
               '--logfile', "$self->{dir}/redis.log");
    push @cmd, '--requirepass', $self->{password}
        if defined $self->{password};
    push @cmd, '--tls-port', $self->{tls_port},
               '--tls-cert-file', $self->{tls}{cert},
               '--tls-key-file', $self->{tls}{key},
               '--tls-ca-cert-file', $self->{tls}{ca},
               '--tls-auth-clients', 'no'
        if $self->{tls};

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        exec @cmd or do {
            print STDERR "cannot run $self->{binary}: $! "
                . "(make deps installs redis-server)\n";
            POSIX::_exit(127);
        };
    }
    $self->{pid} = $pid;

    for (1 .. 200) {
        my $r = eval { $self->cmd('PING') };
        return 1 if defined $r && $r eq 'PONG';
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            die "redis-server exited at start: " . $self->log . "\n";
        }
        sleep 0.025;
    }
    die "redis-server did not answer on port $self->{port}\n";
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    my $until = time + 10;
    while (time < $until) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/redis.log" or return '';
    local $/;
    return <$fh> // '';
}

sub _read_line {
    my ($sock) = @_;
    my $line = <$sock>;
    die "redis closed the connection\n" unless defined $line;
    $line =~ s/\r\n\z// or die "bad RESP line: $line\n";
    return $line;
}

sub _read_reply {
    my ($sock) = @_;
    my $line = _read_line($sock);
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':';
    die "redis error: $v\n" if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $data = '';
        while (length $data < $v + 2) {
            my $n = read($sock, $data, $v + 2 - length $data, length $data);
            die "redis closed the connection\n" unless $n;
        }
        return substr($data, 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [map { _read_reply($sock) } 1 .. $v];
    }
    die "bad RESP reply: $line\n";
}

sub _encode {
    my @args = @_;
    my $out = '*' . @args . "\r\n";
    for my $a (@args) {
        my $b = $a;
        utf8::encode($b) if utf8::is_utf8($b);
        $out .= '$' . length($b) . "\r\n$b\r\n";
    }
    return $out;
}

# cmd('XLEN', 'stream'): one command on a fresh connection (with AUTH and
# SELECT db => n when asked); dies on an error reply.
sub cmd {
    my ($self, @args) = @_;
    my $db = 0;
    if (@args >= 2 && $args[0] eq 'db') {
        (undef, $db, @args) = @args;
    }
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $self->{port},
                                     Timeout => 5)
        or die "connect to redis: $!\n";
    binmode $sock;
    my $out = '';
    $out .= _encode('AUTH', $self->{password}) if defined $self->{password};
    $out .= _encode('SELECT', $db) if $db;
    print $sock $out . _encode(@args);
    _read_reply($sock) if defined $self->{password};
    _read_reply($sock) if $db;
    my $reply = _read_reply($sock);
    close $sock;
    return $reply;
}

# The entries of a stream as [id, {field => value}] pairs.
sub entries {
    my ($self, $stream, @db) = @_;
    my $r = $self->cmd(@db, 'XRANGE', $stream, '-', '+');
    return map { [$_->[0], { @{ $_->[1] } }] } @$r;
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@);
    $self->stop;
}

1;
