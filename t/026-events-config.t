# nginx -t refuses what a push receiver or SMS control cannot do, at the
# line that says it: a type the dialect does not have, several Aliyun
# types at one URL (the platform pushes each to its own), a receiver with
# no types, types= on provision_x_cdr, dedup_ttl= without a zone, two
# receivers in one location; an SMS control for Aliyun, a vNumberRoute
# fallback without a number or with one that is not global, called= without
# vNumberRoute.  What it accepts passes nginx -t: the platforms' own names
# for the CDR, every type, provision_x_cdr as before, and the README's
# complete configuration.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use IPC::Run3;
use Test::More;

use PXNginx;

my $secrets = "$FindBin::Bin/secrets";
chmod 0600, glob "$secrets/*.key";

my $nginx = PXNginx->new(name => 'events-config');

my $http = <<'_EOC_';
    provision_x_dedup_zone zone=dedup:1m;
    provision_x_queue_zone zone=q:1m;
_EOC_

my $sinks = <<'_EOC_';
        location = /_sms { internal; return 200; }
_EOC_

sub check {
    my ($directive) = @_;
    $nginx->write_config(http => $http, server => <<"_EOC_" . $sinks);
        location = /x {
            $directive
        }
_EOC_
    return $nginx->test_config;
}

my @refused = (
    ['provision_x_receive huawei types=callin,hangup queue=q;',
     qr/invalid parameter "types=callin,hangup": "hangup" is no huawei push type \(cdr, callin, callout, alerting, answer, disconnect, numStatus, smsEvent, or fee for cdr\)/],
    ['provision_x_receive aliyun types=fee queue=q;',
     qr/"fee" is no aliyun push type \(cdr, SecretStartReport, SecretRingReport, SecretRecording, NumberManagementReport, or SecretReport for cdr\)/],
    ['provision_x_receive aliyun types=SecretStartReport,SecretRingReport queue=q;',
     qr/invalid parameter "types=SecretStartReport,SecretRingReport": an aliyun receiver takes exactly one type, the platform pushes each to its own URL/],
    ['provision_x_receive huawei types=answer,answer queue=q;',
     qr/"answer" is repeated/],
    ['provision_x_receive huawei types=answer types=callin queue=q;',
     qr/duplicate parameter "types=callin"/],
    ['provision_x_receive huawei queue=q;',
     qr/"provision_x_receive" directive needs types=: the push types this location receives/],
    ['provision_x_cdr huawei types=callin queue=q;',
     qr/invalid parameter "types=callin": provision_x_receive takes types=/],
    ['provision_x_receive huawei types=numStatus queue=q dedup_ttl=10m;',
     qr/"provision_x_receive" directive takes dedup_ttl= only with dedup=/],
    ['provision_x_receive huawei types=numStatus queue=q dedup=dedup dedup_ttl=0;',
     qr/invalid parameter "dedup_ttl=0"/],
    ['provision_x_cdr huawei queue=q; provision_x_receive huawei types=answer queue=q;',
     qr/"provision_x_receive" directive is duplicate: one receiver per location/],
    ['provision_x_receive huawei types=answer queue=q tenants=a;',
     qr/takes tenants= for Aliyun only/],
    ['provision_x_sms_control aliyun pass=/_sms;',
     qr/"provision_x_sms_control" directive is for Huawei only: Aliyun has no SMS Block mode/],
    ['provision_x_sms_control huawei pass=/_sms fallback=vNumberRoute;',
     qr/"provision_x_sms_control": called= is the number a "fallback=vNumberRoute" routes to, and belongs to it alone/],
    ['provision_x_sms_control huawei pass=/_sms called=+8613800000001;',
     qr/called= is the number a "fallback=vNumberRoute" routes to/],
    ['provision_x_sms_control huawei pass=/_sms calling=+8613800000001;',
     qr/calling= belongs to "fallback=vNumberRoute"/],
    ['provision_x_sms_control huawei pass=/_sms fallback=vNumberRoute called=13800000001;',
     qr/the fallback "\{"actions":\[\{"operation":"vNumberRoute","message":\{"called":"13800000001"\}\}\]\}" is no valid SMS answer/],
    ['provision_x_sms_control huawei pass=/_sms fallback=Forward;',
     qr/invalid parameter "fallback=Forward"/],
    ['provision_x_sms_control huawei pass=/_sms landline=reject;',
     qr/invalid parameter "landline=reject"/],
    ['provision_x_sms_control huawei timeout=1s;',
     qr/"provision_x_sms_control" needs "pass=\/uri"/],
    ['provision_x_call_control huawei pass=/_sms; provision_x_sms_control huawei pass=/_sms;',
     qr/"provision_x_sms_control" directive is duplicate: one control answer per location/],
);

for my $case (@refused) {
    my ($directive, $message) = @$case;
    my ($rc, $out) = check($directive);
    isnt $rc, 0, "nginx -t refuses: $directive";
    like $out, $message, '... saying why' or diag $out;
    my ($line) = $out =~ /\[emerg\].* in \S+nginx\.conf:(\d+)/;
    is $line, $nginx->config_line($directive), '... at its line';
}

my @accepted = (
    'provision_x_receive huawei types=fee queue=q;',
    'provision_x_receive huawei types=cdr queue=q;',
    'provision_x_receive aliyun types=SecretReport queue=q;',
    'provision_x_receive huawei types=callin,callout,alerting,answer,disconnect,numStatus,smsEvent,fee queue=q dedup=dedup;',
    'provision_x_receive huawei types=numStatus queue=q dedup=dedup dedup_ttl=15m;',
    (map { "provision_x_receive aliyun types=$_ queue=q dedup=dedup;" }
         qw(SecretStartReport SecretRingReport SecretRecording
            NumberManagementReport)),
    'provision_x_cdr huawei queue=q dedup=dedup;',
    'provision_x_sms_control huawei pass=/_sms;',
    'provision_x_sms_control huawei pass=/_sms timeout=300ms fallback=DiscardMessage;',
    'provision_x_sms_control huawei pass=/_sms fallback=vNumberRoute called=+8613800000001 calling=+8617100001000;',
);

for my $directive (@accepted) {
    my ($rc, $out) = check($directive);
    is $rc, 0, "nginx -t accepts: $directive" or diag $out;
}

# ---- the README's complete configuration ----------------------------------

{
    open my $fh, '<', "$FindBin::Bin/../README.md" or die $!;
    local $/;
    my $readme = <$fh>;
    close $fh;

    my ($example) = $readme =~ /<!-- events-example -->\s*```nginx\n(.*?)```/s;
    ok defined $example, "the README's events example is found";
    $example //= '';

    my $p = $nginx->prefix;
    SKIP: {
        skip 'openssl not installed', 2
            unless grep { -x "$_/openssl" } split /:/, $ENV{PATH};
        run3(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
              'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
              '-subj', '/CN=localhost', '-keyout', "$p/conf/gateway.key",
              '-out', "$p/conf/gateway.pem"], undef, \my $o, \my $e);

        my %files = ('/etc/nginx/px/huawei.key' => "$secrets/huawei-a.key",
                     '/etc/nginx/px/consumer.key' => "$secrets/api-a.key",
                     '/etc/nginx/px/gateway.pem' => "$p/conf/gateway.pem",
                     '/etc/nginx/px/gateway.key' => "$p/conf/gateway.key",
                     '/var/log/nginx/' => "$p/logs/");
        $example =~ s/\Q$_\E/$files{$_}/g for keys %files;
        $example =~ s/listen 443 ssl;/listen 127.0.0.1:@{[$nginx->port]} ssl;/;

        my $user = $> == 0 ? "user root;\n" : '';
        my $module = PXNginx::module_path();
        open my $conf, '>', "$p/conf/nginx.conf" or die $!;
        print $conf "load_module $module;\n${user}error_log $p/logs/error.log;\n"
            . "pid $p/logs/nginx.pid;\nevents {}\n$example";
        close $conf;

        my ($rc, $out) = $nginx->test_config;
        is $rc, 0, "the README's events configuration passes nginx -t"
            or diag $out;
        unlike $out, qr/\[warn\]/, '... without a warning' or diag $out;
    }
}

done_testing();
