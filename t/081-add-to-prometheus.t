# monitoring/add-to-prometheus, the README's step that puts the scrape job
# and the rule file of monitoring/prometheus.yml into an operator's
# prometheus.yml, on configurations of every layout it meets:
#
#   - Debian 12's /etc/prometheus/prometheus.yml (prometheus
#     2.42.0+ds-5, its rule_files only comments) and the upstream example
#     (/usr/share/doc/prometheus/examples), sequences indented or not, no
#     such sections yet, an empty file: the job (with the targets given)
#     and the rule file are inserted into their sections, every line of
#     the file stays, in order, and the result is the old configuration
#     plus exactly those entries, which `promtool check config` passes;
#   - run again it changes nothing (no second job, no second rule file,
#     no new backup); a job of that name already there is left as it is;
#   - the previous file is kept as a backup, the new one has the old
#     one's mode;
#   - a configuration in flow style is written anew (said so), right;
#   - one that is not YAML, or has a key twice (Prometheus refuses both),
#     is left untouched, with an error and no backup.
#
# The script runs from a copy of monitoring/ whose prometheus.yml names a
# key file in the test's directory (promtool checks that it exists).

use strict;
use warnings;

use File::Temp qw(tempdir);
use FindBin;
use IPC::Run3 qw(run3);
use JSON::PP ();
use Test::More;

use lib "$FindBin::Bin/helper";
use PXFiles qw(slurp spew);

my $Root = "$FindBin::Bin/..";

plan skip_all => 'no promtool (make deps installs prometheus)'
    unless grep { -x "$_/promtool" } split /:/, $ENV{PATH};
plan skip_all => 'no PyYAML (make deps installs python3-yaml)'
    if system('python3', '-c', 'import yaml') != 0;

my $tmp = tempdir(CLEANUP => 1);


# the kit, its key file in $tmp
mkdir "$tmp/monitoring";
spew("$tmp/monitoring/add-to-prometheus",
     slurp("$Root/monitoring/add-to-prometheus"), 0755);
(my $kit = slurp("$Root/monitoring/prometheus.yml"))
    =~ s{credentials_file: \S+}{credentials_file: $tmp/status.key}
    or die 'no credentials_file in monitoring/prometheus.yml';
spew("$tmp/monitoring/prometheus.yml", $kit);
spew("$tmp/status.key", "a status key\n", 0640);
my $rules = slurp("$Root/monitoring/provision_x.rules.yml");

my $json = JSON::PP->new->canonical;

# What Prometheus reads from a file: its YAML as JSON (undef if not YAML).
sub configuration {
    my ($file) = @_;
    my ($out, $err) = ('', '');
    run3(['python3', '-c', 'import json, sys, yaml; '
          . 'print(json.dumps(yaml.safe_load(open(sys.argv[1])) or {}))',
          $file], \undef, \$out, \$err);
    return $? ? undef : $json->decode($out);
}

# A fresh directory holding prometheus.yml (mode 0640) with TEXT and the
# rule file.
sub prepare {
    my ($name, $text) = @_;
    my $dir = "$tmp/$name";
    mkdir $dir or die "$dir: $!";
    spew("$dir/prometheus.yml", $text, 0640);
    spew("$dir/provision_x.rules.yml", $rules);
    return $dir;
}

# Runs the script on such a directory: the directory, status, output.
sub add_to {
    my ($name, $text, @targets) = @_;
    my $dir = prepare($name, $text);
    return ($dir, run_script($dir, @targets));
}

sub run_script {
    my ($dir, @targets) = @_;
    @targets = ('127.0.0.1:8088') unless @targets;
    my ($out, $err) = ('', '');
    run3(["$tmp/monitoring/add-to-prometheus",
          map({ ('--target', $_) } @targets), "$dir/prometheus.yml"],
         \undef, \$out, \$err);
    return ($? >> 8, $out . $err);
}

sub backups {
    my ($dir) = @_;
    my @backups = glob "$dir/prometheus.yml.*.bak";
    return @backups;
}

sub promtool_passes {
    my ($dir, $name) = @_;
    my ($out, $err) = ('', '');
    run3(['promtool', 'check', 'config', "$dir/prometheus.yml"], \undef,
         \$out, \$err);
    is $? >> 8, 0, "$name: promtool check config passes on the result"
        or diag "$out$err\n" . slurp("$dir/prometheus.yml");
}

# The lines of NEW that are not those of OLD, when OLD's lines are all in
# NEW, in order; else undef.
sub added_lines {
    my ($old, $new) = @_;
    my @old = split /\n/, $old;
    my @added;
    for my $line (split /\n/, $new) {
        if (@old && $line eq $old[0]) {
            shift @old;
        } else {
            push @added, $line;
        }
    }
    return @old ? undef : join "\n", @added;
}

my $job = {
    job_name => 'provision_x',
    metrics_path => '/px/status',
    params => { format => ['prometheus'] },
    authorization => { type => 'Bearer',
                       credentials_file => "$tmp/status.key" },
    static_configs => [{ targets => ['127.0.0.1:8088'] }],
};

# The common checks of a file the job and the rule file were added to.
sub added_ok {
    my ($name, $dir, $rc, $out, $old_text, $expected) = @_;
    is $rc, 0, "$name: the script succeeds" or diag $out;
    unlike $out, qr/written anew/, "$name: inserted into the file"
        unless $name eq 'flow style';
    my $said = 'added job provision_x (targets 127.0.0.1:8088) and rule '
        . 'file provision_x.rules.yml; the previous file is ';
    like $out, qr/\Q$said\E/, "$name: it says what it added";
    is_deeply configuration("$dir/prometheus.yml"), $expected,
        "$name: the old configuration plus the job and the rule file";
    promtool_passes($dir, $name);
    my @backups = backups($dir);
    is scalar(@backups), 1, "$name: one backup";
    is slurp($backups[0] // '/dev/null'), $old_text,
        "$name: the backup holds the previous file";
    is sprintf('%04o', (stat "$dir/prometheus.yml")[2] & 07777), '0640',
        "$name: the file keeps its mode";
}

# --- Debian 12's prometheus.yml --------------------------------------------

my $debian = <<'_EOY_';
# Sample config for Prometheus.

global:
  scrape_interval:     15s # Set the scrape interval to every 15 seconds. Default is every 1 minute.
  evaluation_interval: 15s # Evaluate rules every 15 seconds. The default is every 1 minute.
  # scrape_timeout is set to the global default (10s).

  # Attach these labels to any time series or alerts when communicating with
  # external systems (federation, remote storage, Alertmanager).
  external_labels:
      monitor: 'example'

# Alertmanager configuration
alerting:
  alertmanagers:
  - static_configs:
    - targets: ['localhost:9093']

# Load rules once and periodically evaluate them according to the global 'evaluation_interval'.
rule_files:
  # - "first_rules.yml"
  # - "second_rules.yml"

# A scrape configuration containing exactly one endpoint to scrape:
# Here it's Prometheus itself.
scrape_configs:
  # The job name is added as a label `job=<job_name>` to any timeseries scraped from this config.
  - job_name: 'prometheus'

    # Override the global default and scrape targets from this job every 5 seconds.
    scrape_interval: 5s
    scrape_timeout: 5s

    # metrics_path defaults to '/metrics'
    # scheme defaults to 'http'.

    static_configs:
      - targets: ['localhost:9090']

  - job_name: node
    # If prometheus-node-exporter is installed, grab stats about the local
    # machine by default.
    static_configs:
      - targets: ['localhost:9100']
_EOY_

spew("$tmp/debian.yml", $debian);
my $old = configuration("$tmp/debian.yml");
ok $old && @{ $old->{scrape_configs} } == 2 && !$old->{rule_files},
    "Debian's file: two jobs, no rule file";
my $expected = { %$old, rule_files => ['provision_x.rules.yml'],
                 scrape_configs => [@{ $old->{scrape_configs} }, $job] };

my ($dir, $rc, $out) = add_to('debian', $debian);
added_ok("Debian's file", $dir, $rc, $out, $debian, $expected);
my $result = slurp("$dir/prometheus.yml");
my $added = added_lines($debian, $result);
ok defined $added, "Debian's file: every line of it stays, in order"
    or diag $result;
like $added // '', qr/\A\ \ -\ provision_x\.rules\.yml\n\ \ \#\ .*\n
                      \ \ -\ job_name:\ provision_x\n
                      \ \ \ \ metrics_path:\ /x,
    '... the rule file and the job are inserted, indented as its own'
    or diag $added;
like $result, qr/^rule_files:\n(?:  #.*\n)*  - provision_x\.rules\.yml\n\n/m,
    '... the rule file under rule_files';

# again: nothing changes
($rc, $out) = run_script($dir);
is $rc, 0, "Debian's file, again: the script succeeds" or diag $out;
like $out, qr/has the job provision_x and its rule files already: unchanged/,
    '... and says it changed nothing';
is slurp("$dir/prometheus.yml"), $result, '... the file is as it was';
is scalar(backups($dir)), 1, '... and no new backup';
is scalar(() = slurp("$dir/prometheus.yml") =~ /job_name: provision_x/g), 1,
    'one job, once';

# --- the upstream example, if there -----------------------------------------

SKIP: {
    my $example = '/usr/share/doc/prometheus/examples/prometheus.yml';
    skip "no $example", 9 unless -f $example;
    my $text = slurp($example);
    my $was = configuration($example);
    ($dir, $rc, $out) = add_to('example', $text);
    added_ok('the upstream example', $dir, $rc, $out, $text,
             { %$was, rule_files => [@{ $was->{rule_files} // [] },
                                     'provision_x.rules.yml'],
               scrape_configs => [@{ $was->{scrape_configs} }, $job] });
    ok defined added_lines($text, slurp("$dir/prometheus.yml")),
        'the upstream example: every line of it stays';
}

# --- sequences not indented; targets --------------------------------------

my $flush = <<'_EOY_';
rule_files:
- other.rules.yml
scrape_configs:
- job_name: a
  static_configs:
  - targets: ['127.0.0.1:9']
# the next section
global:
  scrape_interval: 1m
_EOY_
($dir, $rc, $out) = add_to('flush', $flush, '10.0.0.1:8088', '10.0.0.2:8088');
spew("$dir/other.rules.yml", "groups: []\n");
is $rc, 0, 'sequences not indented: the script succeeds' or diag $out;
is_deeply configuration("$dir/prometheus.yml"),
    { global => { scrape_interval => '1m' },
      rule_files => ['other.rules.yml', 'provision_x.rules.yml'],
      scrape_configs => [
          { job_name => 'a',
            static_configs => [{ targets => ['127.0.0.1:9'] }] },
          { %$job, static_configs => [{ targets => ['10.0.0.1:8088',
                                                    '10.0.0.2:8088'] }] }] },
    '... each entry in its section, the job with both targets';
promtool_passes($dir, 'sequences not indented');
unlike $out, qr/written anew/, '... inserted into the file';
ok defined added_lines($flush, slurp("$dir/prometheus.yml")),
    '... every line of it stays, in order';
like slurp("$dir/prometheus.yml"),
    qr/^- other\.rules\.yml\n- provision_x\.rules\.yml\n/m,
    '... written as the file writes them';

# --- the job there already, the rule file not --------------------------------

my $has_job = <<"_EOY_";
scrape_configs:
  - job_name: provision_x
    static_configs:
      - targets: ['192.0.2.1:8088']
_EOY_
($dir, $rc, $out) = add_to('has-job', $has_job);
is $rc, 0, 'a job provision_x there already: the script succeeds'
    or diag $out;
like $out, qr/has a job provision_x already: left as it is/, '... says so';
is_deeply configuration("$dir/prometheus.yml"),
    { rule_files => ['provision_x.rules.yml'],
      scrape_configs => [{ job_name => 'provision_x', static_configs =>
                           [{ targets => ['192.0.2.1:8088'] }] }] },
    '... and adds only the rule file';

# --- no such sections; an empty file --------------------------------------

for (['no sections', "global:\n  scrape_interval: 1m\n",
      { global => { scrape_interval => '1m' } }],
     ['an empty file', '', {}]) {
    my ($name, $text, $was) = @$_;
    (my $sub = $name) =~ s/\W+/-/g;
    ($dir, $rc, $out) = add_to($sub, $text);
    added_ok($name, $dir, $rc, $out, $text,
             { %$was, rule_files => ['provision_x.rules.yml'],
               scrape_configs => [$job] });
}

# --- flow style: written anew ---------------------------------------------

my $flow = "scrape_configs: [{job_name: a, static_configs: "
    . "[{targets: ['127.0.0.1:9']}]}]  # one job\nrule_files: []\n";
($dir, $rc, $out) = add_to('flow', $flow);
like $out, qr/written anew .*: its comments are not kept/,
    'flow style: the file is written anew, and the script says so';
added_ok('flow style', $dir, $rc, $out, $flow,
         { rule_files => ['provision_x.rules.yml'],
           scrape_configs => [{ job_name => 'a', static_configs =>
                                [{ targets => ['127.0.0.1:9'] }] }, $job] });

# --- refused: not YAML, a key twice, a section not a list ------------------

for (['not YAML', "scrape_configs: [\n",
      qr/not a configuration Prometheus loads/],
     ['a key twice', "rule_files:\nglobal: {}\nrule_files:\n",
      qr/key 'rule_files' given twice/],
     ['scrape_configs not a list', "scrape_configs: {a: 1}\n",
      qr/scrape_configs is not a list/]) {
    my ($name, $text, $why) = @$_;
    (my $sub = $name) =~ s/\W+/-/g;
    ($dir, $rc, $out) = add_to($sub, $text);
    isnt $rc, 0, "$name: the script fails";
    like $out, $why, '... and says why';
    is slurp("$dir/prometheus.yml"), $text, '... the file is untouched';
    is scalar(backups($dir)), 0, '... no backup';
}

# --- the targets are required -----------------------------------------------

$dir = prepare('no-target', $debian);
my ($err, $no_target) = ('', '');
run3(["$tmp/monitoring/add-to-prometheus", "$dir/prometheus.yml"], \undef,
     \$no_target, \$err);
isnt $? >> 8, 0, 'without --target: the script fails';
like $err, qr/--target/, '... naming the option';
is slurp("$dir/prometheus.yml"), $debian, '... the file is untouched';

done_testing();
