# nginx -t on the interface endpoint's directives: each mistake is refused
# at the line that makes it, and the complete configuration the README
# documents passes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXNginx;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'interface-config');

my $apps = <<"_EOC_";
    provision_x_app testId secret=$secrets/pop-test.key;
    provision_x_app appKeyA secret=$secrets/huawei-a.key;
    provision_x_api_key $secrets/api-a.key;
    provision_x_interface_target ali id=1 dialect=aliyun app=testId
        pass=/_px/aliyun operations=QueryRecordFileDownloadUrl;
_EOC_

my $location = "        location = /px { provision_x_interface; }\n";

# [where, the directive, what nginx -t says about it]
my @cases = (
    [http => 'provision_x_interface_target t2 id=2 dialect=aliyun app=nope pass=/p operations=A;',
     qr/unknown app in "app=nope"; define it with "provision_x_app" before this directive/],
    [http => 'provision_x_interface_target t2 id=1 dialect=aliyun app=testId pass=/p operations=A;',
     qr/id=1 is duplicate, target "ali" has it/],
    [http => 'provision_x_interface_target ali id=2 dialect=aliyun app=testId pass=/p operations=A;',
     qr/target "ali" is duplicate/],
    [http => 'provision_x_interface_target t2 id=2 dialect=aliyun app=testId pass=/p operations=A,Bind.Axb;',
     qr/invalid operation "Bind\.Axb" in "operations=A,Bind\.Axb", expected POP actions like BindAxb/],
    [http => 'provision_x_interface_target t2 id=2 dialect=huawei app=appKeyA pass=/p operations=/rest/../x;',
     qr/invalid operation "\/rest\/\.\.\/x"/],
    [http => 'provision_x_interface_target t2 id=2 dialect=huawei app=appKeyA pass=/p operations=/a region=cn-beijing;',
     qr/method=, access_key_id=, region= and version= are for dialect=aliyun targets only/],
    [http => 'provision_x_interface_target t2 id=x dialect=aliyun app=testId pass=/p operations=A;',
     qr/invalid parameter "id=x"/],
    [http => 'provision_x_interface_target t2 id=2 dialect=sms app=testId pass=/p operations=A;',
     qr/invalid parameter "dialect=sms"/],
    [http => 'provision_x_interface_target t2 id=2 dialect=aliyun app=testId pass=p operations=A;',
     qr/invalid parameter "pass=p"/],
    [http => 'provision_x_interface_target t/2 id=2 dialect=aliyun app=testId pass=/p operations=A;',
     qr/invalid target name "t\/2"/],
    [http => 'provision_x_interface_target t2 dialect=aliyun app=testId pass=/p operations=A;',
     qr/"provision_x_interface_target" must have "id" parameter/],
    [server => 'location = /x { provision_x_interface target=nope; }',
     qr/unknown target in "target=nope"; define it with "provision_x_interface_target" before this directive/],
    [server => 'location = /x { provision_x_interface target=ali target=ali; }',
     qr/"target=ali" is duplicate/],
    [server => 'location = /x { provision_x_interface default=ali; }',
     qr/invalid parameter "default=ali"/],
    [server => 'location = /x { provision_x_interface_target t2 id=2 dialect=aliyun app=testId pass=/p operations=A; }',
     qr/"provision_x_interface_target" directive is not allowed here/],
);

for my $case (@cases) {
    my ($where, $directive, $message) = @$case;
    $nginx->write_config(
        http => $apps . ($where eq 'http' ? "    $directive\n" : ''),
        server => $location . ($where eq 'server' ? "        $directive\n"
                                                   : ''));
    my ($rc, $out) = $nginx->test_config;
    isnt $rc, 0, "nginx -t refuses: $directive";
    my ($line) = $out =~ /$message.*? in \S+nginx\.conf:(\d+)/;
    ok defined $line, '... with the message' or diag $out;
    is $line, $nginx->config_line($directive), '... at its line';
}

# without keys, at the line of provision_x_interface
$nginx->write_config(
    http => $apps =~ s/^.*provision_x_api_key.*\n//mr,
    server => $location);
{
    my ($rc, $out) = $nginx->test_config;
    isnt $rc, 0, 'nginx -t refuses an interface without API keys';
    like $out,
        qr/"provision_x_interface" needs "provision_x_api_key" in its location or above, in \S+nginx\.conf:(\d+)/,
        '... saying so';
    my ($line) = $out =~ /nginx\.conf:(\d+)/;
    is $line, $nginx->config_line('provision_x_interface;'), '... at its line';
}

# ---- the README's complete configuration --------------------------------

{
    open my $fh, '<', "$FindBin::Bin/../README.md" or die $!;
    local $/;
    my $readme = <$fh>;
    close $fh;

    my ($example) = $readme =~
        /<!-- interface-example -->\s*```nginx\n(.*?)```/s;
    ok defined $example, "the README's interface example is found";
    $example //= '';

    my %files = ('/etc/nginx/px/aliyun.key' => "$secrets/aliyun.key",
                 '/etc/nginx/px/huawei.key' => "$secrets/huawei-a.key",
                 '/etc/nginx/px/services.key' => "$secrets/api-a.key");
    $example =~ s/\Q$_\E/$files{$_}/g for keys %files;
    # the test machine resolves no names: the platforms are local here
    $example =~ s{https://[a-z0-9.-]+\.com/}{https://127.0.0.1/}g;

    my $p = $nginx->prefix;
    my $user = $> == 0 ? "user root;\n" : '';
    open my $conf, '>', "$p/conf/nginx.conf" or die $!;
    print $conf "load_module $ENV{TEST_NGINX_LOAD_MODULES};\n" if
        $ENV{TEST_NGINX_LOAD_MODULES};
    print $conf "load_module $FindBin::Bin/../build/"
        . "ngx_http_provision_x_module.so;\n"
        unless $ENV{TEST_NGINX_LOAD_MODULES};
    print $conf "${user}error_log $p/logs/error.log;\npid $p/logs/nginx.pid;\n"
        . "events {}\n$example";
    close $conf;

    my ($rc, $out) = $nginx->test_config;
    is $rc, 0, "the README's interface configuration passes nginx -t"
        or diag $out;
}

# ---- make run's demo gateway: the brief's example request --------------

{
    my $demo = PXNginx->new(name => 'interface-demo');
    my $p = $demo->prefix;
    my ($front, $back) = (PXNginx::free_port(), PXNginx::free_port());
    my $module = PXNginx::module_path();

    open my $in, '<', "$FindBin::Bin/../examples/nginx.conf" or die $!;
    my $conf = do { local $/; <$in> };
    close $in;
    $conf =~ s/127\.0\.0\.1:8080/127.0.0.1:$front/g;
    $conf =~ s/127\.0\.0\.1:8081/127.0.0.1:$back/g;
    mkdir "$p/$_" for qw(temp data);
    open my $out, '>', "$p/conf/nginx.conf" or die $!;
    print $out $conf;
    close $out;

    # the demo secrets, as util/run.sh writes them
    for (['demo-huawei', 'demo-huawei-secret'],
         ['demo-aliyun', 'demo-aliyun-secret'],
         ['demo-consumer', 'demo-consumer-key']) {
        open my $fh, '>', "$p/conf/$_->[0].key" or die $!;
        print $fh "$_->[1]\n";
        close $fh;
        chmod 0600, "$p/conf/$_->[0].key";
    }

    my $user = $> == 0 ? 'user root; ' : '';
    is system($demo->{binary}, '-p', "$p/", '-c', 'conf/nginx.conf',
              '-e', "$p/logs/error.log",
              '-g', "load_module $module; ${user}error_log logs/error.log "
                    . 'info;'), 0, 'the demo configuration starts';

    my $demo_at = PXNginx->new(name => 'interface-demo', port => $front,
                               keep => 1);
    my $res;
    for (1 .. 50) {
        $res = $demo_at->request(GET => '/');
        last if $res->code == 200;
        select undef, undef, undef, 0.1;
    }

    # the brief's example request, filled in for the recording API
    my $body = '{"mode":"live","config_id":12345,"user_id":"user123",'
        . '"payload":{"path":"/rest/provision/voice/record/v1.0","query":'
        . '{"fileName":"1200_366_0_20161228102743.wav",'
        . '"recordDomain":"ostor.example.com"}}}';
    $res = $demo_at->request(POST => '/provision_x', body => $body,
        headers => [Authorization => 'Bearer demo-consumer-key',
                    'Content-Type' => 'application/json']);
    is $res->code, 200, 'the demo: the brief\'s example request, live: 200';
    is $res->content,
        '{"status_code":200,"message":"Success","data":{"location":'
        . '"https://obs.example.com/rec/1200_366_0_20161228102743.wav"},'
        . "\"error\":null}\n",
        '... in the brief\'s shape, from the stand-in that verified the X-AKSK';

    $body =~ s/"live"/"debug"/;
    $res = $demo_at->request(POST => '/provision_x', body => $body,
        headers => [Authorization => 'Bearer demo-consumer-key']);
    like $res->content,
        qr/^\{"status_code":200,"message":"Success","data":\{"mode":"debug","sent":false,"ready":true,.*"X-AKSK":"UsernameToken Username=\\"demo-huawei\\",PasswordDigest=/,
        '... and explained in debug mode';

    my $log = $demo->error_log;
    like $log, qr/interface call: user "user123" target "demo-records" operation "\/rest\/provision\/voice\/record\/v1.0": ok 200 \(platform 301/,
        'the demo logs the call';
    unlike $log, qr/rejected huawei callback/,
        'the stand-in platform verified the signature';
    unlike $log, qr/demo-huawei-secret|demo-consumer-key/,
        'no secret in the demo\'s log';
}

done_testing();
