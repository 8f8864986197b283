package Test::Nginx::Socket;

# A small, from-scratch test runner that is compatible with the subset of
# Test::Nginx::Socket (openresty/test-nginx) that this project's t/*.t use.
# Debian does not package Test::Nginx, so the suite runs under this runner;
# it must behave like the real one so the same files also pass there.
# Sections we do not implement make the run bail out instead of being
# silently ignored.  See t/lib/README.md for the supported subset.

use strict;
use warnings;

# Lower-case -base: become a Test::Base subclass (blocks(), filters, plan,
# ONLY/SKIP/LAST) without Spiffy's source filter.
use Test::Base -base;

use File::Find ();
use File::Path qw(remove_tree);
use File::Spec ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(min shuffle);
use POSIX qw(:sys_wait_h);
use Scalar::Util qw(looks_like_number);
use Test::LongString ();
use Time::HiRes qw(sleep);

our $VERSION = '0.1';

our @EXPORT = qw(
    run_tests blocks plan repeat_each workers master_on master_off
    master_process_enabled no_shuffle log_level no_long_string env_to_nginx
    worker_connections timeout no_root_location use_hup check_accum_error_log
    server_root html_dir server_port server_port_for_client bail_out is_str
    add_block_preprocessor
);

# ---- settings: same environment variables and defaults as the real one ----

our $RepeatEach        = 1;
our $Workers           = 1;
our $WorkerConnections = 64;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcess     = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseHup            = $ENV{TEST_NGINX_USE_HUP};
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep             = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $ForceRestart      = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;
our $ServerName        = 'localhost';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our ($NoLongString, $NoRootLocation, @EnvToNginx, @BlockPreprocessors);

# Loopback only: nginx listens on 127.0.0.1 unless the port setting already
# names a loopback address, and the client connects to that same address.
sub listen_spec {
    return "127.0.0.1:$ServerPort" if $ServerPort =~ /^\d+$/;
    bail_out("TEST_NGINX_SERVER_PORT: only loopback addresses are allowed: $ServerPort")
        unless $ServerPort =~ /^127\.\d+\.\d+\.\d+:\d+$/;
    return $ServerPort;
}
sub client_addr { (listen_spec() =~ /^(.*):/)[0] }
sub client_port { ($ServerPortForClient =~ /(\d+)$/)[0] }

our $NginxBinary = $ENV{TEST_NGINX_BINARY}
    || (can_run('nginx') ? 'nginx' : '/usr/sbin/nginx');

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# ---- run state ----

my ($NginxVersion, $NginxBuildInfo, $PrevConfig, $ConfigVersion, $ChildPid);
my ($ErrLogPos, $InSubprocess) = (0, 0);
my $FirstTime = 1;

# Sections this runner understands; anything else bails out (see above).
my %Supported = map { $_ => 1 } qw(
    config http_config main_config post_main_config log_level
    request pipelined_requests more_headers timeout abort wait must_die
    error_code error_code_like response_headers response_headers_like
    response_body response_body_like response_body_unlike
    error_log no_error_log ONLY SKIP LAST
);

# ---- exported configuration functions ----

sub repeat_each (@) { $RepeatEach = shift if @_; $RepeatEach }
sub add_block_preprocessor (&) { push @BlockPreprocessors, shift }
sub workers (@) { @_ ? ($Workers = shift) : $Workers }
sub worker_connections (@) { @_ ? ($WorkerConnections = shift) : $WorkerConnections }
sub log_level (@) { @_ ? ($LogLevel = shift) : $LogLevel }
sub timeout (@) { @_ ? ($Timeout = shift) : $Timeout }
sub master_on () { $MasterProcess = 'on' }
sub master_off () { $MasterProcess = 'off' }
sub no_shuffle () { $NoShuffle = 1 }
sub no_long_string () { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub use_hup () { $UseHup = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub server_root () { $ServRoot }
sub html_dir () { $HtmlDir }
sub server_port (@) { @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client (@) { @_ ? ($ServerPortForClient = shift) : $ServerPortForClient }
sub master_process_enabled (@) { @_ ? ($MasterProcess = shift() ? 'on' : 'off') : $MasterProcess }

sub env_to_nginx (@) {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n" if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc) if ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# ---- main loop ----

sub run_tests () {
    ($NginxVersion, $NginxBuildInfo) = nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        for my $section (@{ $block->{_section_order}[0] || [] }) {
            next if $Supported{$section};
            bail_out($block->name . " - section '--- $section' is not supported by this "
                     . "Test::Nginx-compatible runner (t/lib)");
        }
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
    }
    cleanup();
}

sub run_block {
    my $block = shift;
    my $name = $block->name;
    my $first_time = $FirstTime;
    $FirstTime = 0;

    my $rand_ports = {};
    my $config = expand_env(scalar $block->config, $name, $rand_ports);
    my $must_die = $block->must_die;

    # A config that must fail is checked with a plain nginx start.
    local $UseHup = defined $must_die ? undef : $UseHup;
    local $UseValgrind = defined $must_die ? undef : $UseValgrind;
    local $LogLevel = $block->log_level || $LogLevel;

    my $restart;
    if (!defined $config) {
        # Like the real one: reuse the running nginx of the previous block.
        bail_out("$name - No '--- config' section specified and could not get "
                 . "previous one") unless defined $PrevConfig;
        $restart = 0;
    } else {
        $restart = $ForceRestart || !defined $PrevConfig || $config ne $PrevConfig;
    }

    if ($restart) {
        $PrevConfig = $config;
        return unless start_nginx($block, $config, $first_time, $must_die, $rand_ports);
    }

    $ErrLogPos = 0;
    run_requests($block, $_) for 0 .. $RepeatEach - 1;

    # Under valgrind nginx must exit after every block to get its report.
    stop_child($name) if $UseValgrind && !$UseHup;
}

# Returns false when no requests should be sent (must_die blocks).
sub start_nginx {
    my ($block, $config, $first_time, $must_die, $rand_ports) = @_;
    my $name = $block->name;

    if ($UseHup) {
        master_on();    # nginx cannot reload reliably without a master
        $ConfigVersion = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 10;
    }

    my $pid = running_pid();
    if ($pid && $UseHup && !$first_time) {
        setup_server_root(0);
        write_config_file($block, $config, $rand_ports);
        # USR1 reopens the just-removed logs, HUP loads the new config.
        if (kill('USR1', $pid)) {
            sleep $Sleep;
            if (kill('HUP', $pid)) {
                sleep $Sleep * 3;
                warn "$name\n" if $UseValgrind;
                wait_config_version($name);
                return 1;
            }
        }
        warn "$name - Failed to send USR1/HUP signal to $pid\n";
    }
    kill_process($pid, $name) if $pid;

    setup_server_root($first_time);
    write_config_file($block, $config, $rand_ports);
    my $cmd = nginx_command();

    if (defined $must_die) {
        check_must_die($block, $cmd, $must_die);
        return 0;
    }

    if ($UseValgrind) {
        warn "$name\n";    # tells which block valgrind's report belongs to
        my $child = fork // bail_out("$name - fork() failed: $!");
        if (!$child) {
            $InSubprocess = 1;
            setpgrp;
            exec "exec $cmd" or POSIX::_exit(127);
        }
        $ChildPid = $child;
        sleep $Sleep;
        return 1;
    }

    my ($waited, $tries) = (0, 0);
    while (system($cmd) != 0) {
        my $status = $?;
        # Like the real one: retry for a while (the port may still be busy).
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status).") if $waited >= 30;
        my $delay = min(0.1 * ++$tries, 1);
        sleep $delay;
        $waited += $delay;
    }
    sleep $Sleep;
    return 1;
}

sub check_must_die {
    my ($block, $cmd, $must_die) = @_;
    my $name = $block->name;
    $ErrLogPos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        system($cmd);
        my $status = $?;
        my $exit_code = $status >> 8;
        if ($status == -1) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $exit_code, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }
        check_error_log($block, $i);
        next if $status != 0;

        warn "WARNING: $name - nginx must die but it does not; killing it (req $i)\n";
        for (1 .. 15) { last if -f $PidFile; sleep $Sleep }
        my $pid = running_pid();
        kill_process($pid, $name) if $pid;
    }
}

sub nginx_command {
    # -e (nginx >= 1.19.5) sends start-up errors to the servroot error log
    # instead of the compiled-in default (stderr on Debian), which is where
    # the real Test::Nginx finds them with a default-built nginx.
    my $e = $NginxVersion >= 1.019005 ? "-e $ErrLogFile " : '';
    my $cmd = "$NginxBinary -p $ServRoot/ $e-c $ConfFile > /dev/null";
    return $cmd unless $UseValgrind;

    # Same valgrind command lines as the real one (suppressions from ./).
    return "valgrind -q $UseValgrind $cmd" if $UseValgrind !~ /^\d+$/;
    my $opts = '--tool=memcheck --leak-check=full --show-possibly-lost=no';
    my $supp = -f 'valgrind.suppress' ? ' --suppressions=valgrind.suppress' : '';
    return "valgrind --num-callers=100 -q $opts --gen-suppressions=all$supp $cmd";
}

# ---- server root and nginx.conf ----

sub setup_server_root {
    my $first_time = shift;
    if (-d $ServRoot) {
        # Remove only what we create, so a mistaken TEST_NGINX_SERVROOT
        # cannot wipe real data.
        remove_tree($ConfDir, glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        if ($UseHup) {
            # nginx keeps running: keep its pid file, drop everything else.
            File::Find::find({ no_chdir => 1, wanted => sub {
                return if -d $_;
                return if !$first_time && /(?:\bnginx\.pid|\.sock|\.crt|\.key)$/;
                unlink $_ or warn "Failed to remove $_: $!\n";
            } }, $ServRoot);
        } else {
            remove_tree($HtmlDir, $LogDir);
            rmdir $ServRoot or bail_out("Can't remove $ServRoot (not empty?): $!");
        }
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        mkdir $dir or bail_out("Failed to do mkdir $dir: $!");
    }
    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!");
    print $out '<html><head><title>It works!</title></head><body>It works!</body></html>';
    close $out;
}

sub write_config_file {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;
    my $http_config = expand_env(scalar $block->http_config, $name, $rand_ports) // '';
    my $post_main_config = expand_env(scalar $block->post_main_config, $name, $rand_ports) // '';
    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        # Appended exactly like the real one does.
        $main_config .= join ' ', map { "load_module $_;" } grep { length } split /\s+/,
            $LoadModules;
    }
    $main_config = expand_env($main_config, $name, $rand_ports);

    # Debian's nginx has absolute temp paths under /var/lib/nginx; keep them in
    # the servroot like a default-built nginx (the *_temp names it cleans).
    my $temp_paths = join '', map { "    ${_}_temp_path $ServRoot/${_}_temp;\n" }
        grep { $_ eq 'client_body' || $NginxBuildInfo !~ /--without-http_${_}_module/ }
        qw(client_body proxy fastcgi uwsgi scgi);
    my $listen = listen_spec();
    my $daemon = $UseValgrind ? 'off' : 'on';
    my $env = join '', map { my $v = /\s/ ? "'$_'" : $_; "env $v;\n" } @EnvToNginx;
    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    my $ver_server = !$UseHup ? '' : <<"_EOC_";
    server {
        listen          $listen;
        server_name     'Test-Nginx';

        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
_EOC_
    my $user = defined $WorkerUser ? "user $WorkerUser;\n" : $> == 0 ? "user root;\n" : '';

    open my $out, '>', $ConfFile or bail_out("Can't open $ConfFile for writing: $!");
    print $out <<"_EOC_";
worker_processes  $Workers;
daemon $daemon;
master_process $MasterProcess;
error_log $ErrLogFile $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
$env
$main_config

http {
    access_log $AccLogFile;
    default_type text/plain;
    keepalive_timeout  68;
$temp_paths
$http_config

    server {
        listen          $listen;
        server_name     '$ServerName';

        client_max_body_size 30M;

        # Begin test case config...
$config
        # End test case config.

$root_location    }
$ver_server}

$post_main_config

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out or bail_out("Failed to write $ConfFile: $!");
}

# Replaces $TEST_NGINX_* with the environment value (bailing out when unset);
# $TEST_NGINX_RAND_PORT_N become free loopback ports, stable within a block.
sub expand_env {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $rand_ports->{$var} //= free_port($name, $rand_ports);
        } else {
            bail_out("$name - No environment $var defined.\n") unless defined $ENV{$var};
            $ENV{$var};
        }
    }ge;
    return $text;
}

sub free_port {
    my ($name, $rand_ports) = @_;
    my %used = map { $_ => 1 } client_port(), grep { defined } values %$rand_ports;
    for (1 .. 1000) {
        my $port = int(rand 63550) + 1985;
        next if $used{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                         Proto => 'tcp') or next;
        close $sock;
        return $port;
    }
    bail_out("$name - Cannot find an available listening port number.\n");
}

# ---- nginx processes ----

sub nginx_version {
    bail_out("Cannot find the nginx executable ($NginxBinary)") unless can_run($NginxBinary);
    my $out = `$NginxBinary -V 2>&1`;
    bail_out("Failed to get the version of nginx: " . ($out // '')) if $? != 0;
    $out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}
        or bail_out("Failed to parse the output of \"nginx -V\": $out\n");
    return (sprintf('%d.%03d%03d', $1, $2, $3), $out);
}

sub can_run {
    my $cmd = shift;
    return -f $cmd && -x _ ? $cmd : undef if $cmd =~ m{/};
    for my $dir (split(/:/, $ENV{PATH} // ''), '.') {
        next if $dir eq '';
        return "$dir/$cmd" if -f "$dir/$cmd" && -x _;
    }
    return undef;
}

sub is_running {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    # A daemonised nginx is reparented, and if nobody reaps it, its zombie
    # would look alive forever.
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        return 0 if $stat =~ /^\d+ \(.*\) Z /s;
    }
    return 1;
}

# Pid of an nginx from the pid file that is still alive (a stale file is removed).
sub running_pid {
    return undef unless -f $PidFile;
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> } // '';
    $pid =~ s/\s+//g;
    return $pid if $pid =~ /^\d+$/ && is_running($pid);
    unlink $PidFile;
    return undef;
}

# Graceful QUIT first (lets workers and valgrind finish), then TERM, then KILL.
sub kill_process {
    my ($pid, $name) = @_;
    return unless $pid;
    for my $sig (qw(QUIT TERM)) {
        kill $sig, $pid;
        my $left = $sig eq 'QUIT' ? $Timeout : 1;
        while ($left > 0 && is_running($pid)) {
            waitpid($pid, WNOHANG);
            sleep 0.02;
            $left -= 0.02;
        }
        return unless is_running($pid);
        warn "$name - timeout when waiting for the process $pid to exit (SIG$sig)\n";
    }
    warn "$name - WARNING: killing the process $pid with force\n";
    kill 'KILL', (getpgrp($pid) == $pid ? -$pid : $pid);
    waitpid($pid, WNOHANG);
}

# Stops the foreground (valgrind) nginx started for the current block.
sub stop_child {
    my $name = shift;
    return unless defined $ChildPid;
    kill_process(running_pid() // $ChildPid, $name);
    kill_process($ChildPid, $name) if is_running($ChildPid);
    waitpid($ChildPid, 0);
    undef $ChildPid;
    unlink $PidFile;
}

sub cleanup { stop_child('cleanup') if defined $ChildPid }

END {
    return if $InSubprocess;
    local $?;    # keep Test::Builder's exit status
    cleanup();
    if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
        my $pid = running_pid();
        kill_process($pid, 'END') if $pid;
    }
}

# Polls the extra "Test-Nginx" server until every answer is from the new
# config (old workers may still answer for a moment after a HUP).
sub wait_config_version {
    my $name = shift;
    my $req = "GET /ver HTTP/1.1\r\nHost: Test-Nginx\r\nConnection: close\r\n\r\n";
    my $nsucc = 0;
    for my $try (1 .. 200) {
        my ($raw) = http_exchange($req, 2);
        my $res = HTTP::Response->parse($raw // '');
        if (($res->code // 0) == 200 && $res->content eq $ConfigVersion) {
            sleep $Sleep if ++$nsucc == 5;
            return if $nsucc >= 20;
            next;
        }
        $nsucc = 0;
        my $wait = min(1, ($Sleep + $Sleep * $try) * $try / 2);
        warn "$name - waiting $wait sec for nginx to reload the configuration\n" if $wait > 0.5;
        sleep $wait;
    }
    Test::More::fail("$name - failed to reload configuration after 200 failed test requests");
}

# ---- the client ----

sub parse_time {
    my $tm = shift;
    return undef unless defined $tm;
    return $1 / 1000 if $tm =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $tm =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $tm;
}

# The expected value of a check section for response $idx, as the real
# get_indexed_value(): an ARRAY ref gives one entry per request; with several
# requests ($many) it must be one, else the run bails out.
sub indexed {
    my ($block, $section, $idx, $many) = @_;
    my $value = $block->$section;
    return $value->[$many ? $idx : 0] if ref $value eq 'ARRAY';
    bail_out($block->name . " - You asked for many requests, the expected results "
             . "should be arrays as well.") if $many;
    return $value;
}

# The requests of a block, one string of bytes per connection, and the number
# of pipelined requests (0 if none), as the real get_req_from_block():
# --- request is a string or (eval) an ARRAY ref of strings, each sent on its
# own connection; --- pipelined_requests (eval, an ARRAY ref) all go on one
# connection, "Connection: keep-alive" but the last.  A more_headers ARRAY
# ref has the headers of each request.
sub block_requests {
    my $block = shift;
    my $name = $block->name;
    my $more = $block->more_headers || '';
    my $headers = sub {
        my ($i, $what) = @_;
        return $more unless ref $more eq 'ARRAY';
        return $more->[$i] // bail_out("--- more_headers lacks data for the $what");
    };

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            if ref $reqs ne 'ARRAY' || !@$reqs;
        return ([join '', map {
            build_request($name, $reqs->[$_], $headers->($_, "$_ pipelined request"),
                          $_ == $#$reqs ? 'close' : 'keep-alive')
        } 0 .. $#$reqs], scalar @$reqs);
    }

    my $request = $block->request;
    if (!ref $request) {
        $request //= '';
        1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;    # leading comments
        return ([build_request($name, $request, $headers->(0, 'request'), 'close')], 0);
    }
    bail_out("$name - invalid ---request : MUST be string or array of requests")
        if ref $request ne 'ARRAY';
    bail_out("$name - request empty") unless @$request;
    return ([map {
        bail_out("$name - --- request: requests split into packets are not supported by "
                 . "this Test::Nginx-compatible runner (t/lib)") if ref $request->[$_];
        build_request($name, $request->[$_], $headers->($_, "${_}th request"), 'close')
    } 0 .. $#$request], 0);
}

# Builds the request bytes the same way the real one does: request line,
# Host, Connection, --- more_headers, then Content-Length for a body.
sub build_request {
    my ($name, $request, $more, $conn) = @_;
    my ($headers, $chunked) = ('', 0);
    for my $line (split /\n+/, $more) {
        next if $line =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $headers .= "$key: $val\r\n";
    }

    my ($first, $content) = split /\n/, $request // '', 2;
    bail_out("$name - Request line should be non-empty") unless length($first // '');
    $first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' "
                    . "but got \"$first\".");
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    $content //= '';
    my $len_header = '';
    if (!$chunked && $content ne '' && $headers !~ /(?:^|\n)Content-Length:/) {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }
    my $auto = '';
    $auto .= "Host: $ServerName\r\n" if $headers !~ /(?:^|\n)Host:/msi;
    $auto .= "Connection: $conn\r\n" if $headers !~ /(?:^|\n)Connection/msi;
    return "$meth $url $ver\r\n$auto$headers$len_header\r\n$content";
}

# One exchange on a fresh loopback connection.  Returns (response bytes,
# error) where error is 'connect', 'timeout' or undef.  $timeout bounds the
# wait between two I/O events, as in the real one.
sub http_exchange {
    my ($req, $timeout) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => client_addr(), PeerPort => client_port(),
                                     Proto => 'tcp', Timeout => $timeout)
        or return (undef, 'connect');
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';
    my ($resp, $off) = ('', 0);
    my $sel = IO::Select->new($sock);
    while (1) {
        my $want_write = $off < length $req;
        my ($r, $w) = IO::Select->select($sel, $want_write ? $sel : undef, undef, $timeout);
        return ($resp, 'timeout') unless $r || $w;
        if ($r && @$r) {
            my $n = sysread($sock, my $buf, 65536);
            if (defined $n) {
                last if $n == 0;
                $resp .= $buf;
            } elsif (!$!{EAGAIN} && !$!{EWOULDBLOCK} && !$!{EINTR}) {
                last;
            }
        }
        if ($w && @$w) {
            my $n = syswrite($sock, $req, length($req) - $off, $off);
            if (defined $n) {
                $off += $n;
            } elsif (!$!{EAGAIN} && !$!{EWOULDBLOCK} && !$!{EINTR}) {
                # The server stopped reading (e.g. an early 413); keep
                # reading what it answered.
                $off = length $req;
            }
        }
    }
    close $sock;
    return ($resp, undef);
}

sub send_request {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    for my $try (1 .. 50) {
        my ($resp, $err) = http_exchange($req, $timeout);
        return $resp unless defined $err;
        if ($err eq 'timeout') {
            Test::More::fail("ERROR: client socket timed out - $name\n")
                unless defined $block->abort;
            return $resp;
        }
        # Not listening yet (e.g. nginx under valgrind): retry with backoff.
        my ($why, $peer) = ($!, client_addr() . ':' . client_port());
        if (defined $ChildPid && waitpid($ChildPid, WNOHANG) != 0) {
            warn "WARNING: Child process $ChildPid is already gone.\n";
            Test::More::fail("$name - Can't connect to $peer: $why (aborted)\n");
            return '';
        }
        my $wait = min(1, ($Sleep + $Sleep * $try) * $try / 2);
        warn "$name - Can't connect to $peer: $why\n" if $wait >= 0.6;
        sleep $wait;
    }
    Test::More::fail("$name - Can't connect to " . client_addr() . ':' . client_port()
                     . ": $! (aborted)\n");
    return '';
}

sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        undef $code;
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $body = $res->content // '';
    my $left;
    if (defined $enc && $enc eq 'chunked') {
        my $decoded = '';
        while (1) {
            if ($body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = substr $body, pos $body;
                last;
            }
            if ($body !~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                Test::More::fail("$name - invalid chunked body received: "
                                 . substr($body, pos($body) // 0));
                return ($res, $raw_headers);
            }
            my $size = hex $1;
            my $start = pos $body;
            if (length($body) < $start + $size + 2
                || substr($body, $start + $size, 2) ne "\r\n")
            {
                Test::More::fail("$name - invalid chunked data received");
                return ($res, $raw_headers);
            }
            $decoded .= substr $body, $start, $size;
            pos($body) = $start + $size + 2;
        }
        $res->content($decoded);
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, but got ",
                length $body, "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }
    return ($res, $raw_headers, $left);
}

# ---- per-request checks (test names follow the real ones) ----

# One round (of repeat_each) of a block's requests.  As in the real one,
# the error log is checked after each response, each time on the lines
# logged since the previous check.
sub run_requests {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $timeout = parse_time(scalar $block->timeout) // $Timeout;
    my ($reqs, $pipelined) = block_requests($block);
    my $many = $pipelined || @$reqs > 1;
    my $idx = 0;
    for my $req (@$reqs) {
        my $raw = send_request($block, $req, $timeout) // '';
        my $head_req = $req =~ /^\s*HEAD\s/;
        for (1 .. $pipelined || 1) {
            my ($res, $raw_headers, $left) = parse_response($name, $raw, $head_req);
            if ($pipelined) {
                $raw = $left // '';    # the responses still to parse
            } elsif ($left) {
                $left =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk in response: "
                    . "\"$left\"\n";
            }
            check_status($block, $res, $idx, $many);
            check_response_headers($block, $res, $raw_headers, $idx, $many);
            check_response_body($block, $res, $rep, $idx++, $many);

            sleep $block->wait if $block->wait;
            check_error_log($block, $rep);
        }
    }
}

sub check_status {
    my ($block, $res, $idx, $many) = @_;
    my $name = $block->name;
    my $code = $res->code // '';
    if (defined $block->error_code_like) {
        my $pat = indexed($block, 'error_code_like', $idx, $many);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } else {
        my $expected = defined $block->error_code
            ? indexed($block, 'error_code', $idx, $many) : 200;
        Test::More::is($code, $expected, "$name - status code ok");
    }
}

sub header_lines {
    my $text = shift;
    my @pairs;
    for my $line (split /\n/, $text // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            push @pairs, [$line, undef];
        } else {
            push @pairs, [split /\s*:\s*/, $line, 2];
        }
    }
    return @pairs;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $idx, $many) = @_;
    my $name = $block->name;
    if (defined $block->response_headers) {
        for my $pair (header_lines(indexed($block, 'response_headers', $idx, $many))) {
            my ($key, $val) = @$pair;
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                                   "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            Test::More::is($res->header($key) // '', $val, "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        for my $pair (header_lines(indexed($block, 'response_headers_like', $idx, $many))) {
            my ($key, $val) = @$pair;
            Test::More::like($res->header($key) // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }
}

sub check_response_body {
    my ($block, $res, $rep, $idx, $many) = @_;
    my $name = $block->name;
    my $content = $res->content;
    if (defined $block->response_body) {
        my $expected = indexed($block, 'response_body', $idx, $many);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
        my $what = "(repeated req $rep, req $idx)";
        if (ref $expected) {
            Test::More::like($content, $expected, "$name - response_body - like $what");
        } else {
            is_str($content, $expected, "$name - response_body - response is expected $what");
        }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = indexed($block, "response_body_$type", $idx, $many);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        (my $summary = $content // '') =~ s/^\s+|\s+$//g;
        $summary =~ s/\s+/ /g;
        my $cmp = $type eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($content, qr/$pat/s,
               "$name - response_body_$type - response is expected ($summary)");
    }
}

# ---- error log checks ----

# Lines appended to error.log since the previous call (per repeat_each
# request), or the whole log with check_accum_error_log().
sub error_log_data {
    sleep $Sleep * 3;    # let the log phase finish after the response
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogPos, 0 if !$CheckAccumErrLog && $ErrLogPos > 0;
    my @lines = <$in>;
    $ErrLogPos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub patterns {
    my $pats = shift;
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';
    chomp $pats;
    return [split /\n+/, $pats];
}

sub matches { my ($line, $pat) = @_; ref $pat ? $line =~ /$pat/ : $line =~ /\Q$pat\E/ }

sub fmt_str {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub check_error_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines;
    my %quiet;    # levels that the block's own patterns already talk about

    for my $section (qw(error_log no_error_log)) {
        my $value = $block->$section;
        next unless defined $value;
        my $pats = patterns($value);
        for my $level (qw(alert crit emerg)) {
            $quiet{$level} = 1 if grep { defined && index("$_", "[$level") >= 0 } @$pats;
        }
        $lines ||= error_log_data();

        if ($section eq 'error_log') {
            for my $line (@$lines) {
                for my $pat (@$pats) {
                    next unless defined $pat && matches($line, $pat);
                    Test::More::pass("$name - pattern \"$pat\" matches a line in error.log "
                                     . "(req $rep)");
                    undef $pat;
                }
            }
            Test::More::fail("$name - pattern \"$_\" should match a line in error.log "
                             . "(req $rep)") for grep { defined } @$pats;
            next;
        }

        my %found;
        for my $i (0 .. $#$lines) {
            for my $pat (@$pats) {
                next unless defined $pat && matches($lines->[$i], $pat);
                $found{$pat} = 1;
                my $more = join '', @$lines[$i + 1 .. min($i + 9, $#$lines - 1)];
                Test::More::fail("$name - pattern \"" . fmt_str($pat) . "\" should not match "
                    . "any line in error.log but matches line \"" . fmt_str($lines->[$i])
                    . "\" (req $rep)\n$more");
            }
        }
        for my $pat (grep { defined && !$found{$_} } @$pats) {
            Test::More::pass("$name - pattern \"" . fmt_str($pat) . "\" does not match a line "
                             . "in error.log (req $rep)");
        }
    }

    $lines ||= error_log_data();
    for my $line (@$lines) {
        for my $level (qw(alert crit emerg)) {
            warn "WARNING: $name - " . fmt_str($line) . "\n"
                if !$quiet{$level} && $line =~ /\[$level\]/;
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $copy = $line);
            Test::More::fail("$name - $copy\n");
        }
    }
}

1;
