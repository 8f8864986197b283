# CDR dedup is shared by all workers: the same records pushed again and
# again over new connections, whichever worker takes them, reach the
# customer's service exactly once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/helper";

use Test::More;

use PXNginx;
use PXSign;

my $http = <<'_EOC_';
    provision_x_dedup_zone zone=dedup:1m ttl=1h;
    log_format received escape=none '$request_body';
_EOC_

my $server = <<'_EOC_';
        location = /cdr {
            provision_x_cdr huawei forward=/_forward dedup=dedup;
            add_header X-Worker $pid always;
        }
        location = /_forward {
            internal;
            proxy_pass http://127.0.0.1:$server_port/backend;
        }
        location = /backend {
            client_body_buffer_size 1m;
            access_log logs/received.log received;
            proxy_pass http://127.0.0.1:$server_port/sink;
        }
        location = /sink { return 200 "stored\n"; }
_EOC_

my $nginx = PXNginx->new(name => 'cdr-workers', workers => 2, http => $http,
                         server => $server);
ok $nginx->start, 'nginx starts with two workers'
    or BAIL_OUT($nginx->error_log);

my @records = map { fee_record('w', $_) } 1 .. 10;
my (%workers, @codes);

# overlapping pushes: records 1-5, 3-7, 5-9, 1-10, repeated until both
# workers have taken some (bounded)
my @pushes = ([0 .. 4], [2 .. 6], [4 .. 8], [0 .. 9]);
for my $round (1 .. 15) {
    for my $p (@pushes) {
        my $res = $nginx->request(POST => '/cdr',
                                  body => fee_push(records => [@records[@$p]]));
        push @codes, $res->code;
        $workers{ $res->header('X-Worker') // '' }++;
    }
    last if $round >= 2 && keys %workers == 2;
}

is_deeply [grep { $_ != 200 } @codes], [], 'every push acknowledged';
cmp_ok scalar(keys %workers), '==', 2, 'both workers took pushes'
    or diag explain \%workers;

my $log = do {
    local $/;
    open my $in, '<', $nginx->prefix . '/logs/received.log' or die $!;
    <$in>;
};
my %seen;
$seen{$1}++ while $log =~ /"icid":"(icid-w-\d+)"/g;

is scalar(keys %seen), 10, 'all ten records reached the service';
is_deeply [grep { $seen{$_} != 1 } sort keys %seen], [],
    'each of them exactly once';

$nginx->stop;
unlike $nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts';

done_testing();
