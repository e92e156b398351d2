#!/usr/bin/env python3
"""Where a database proxy's added latency goes (issue 15): pgbench through PgBouncer and through
one or more sidelight variants, alternated run by run on one throwaway PostgreSQL 15 cluster,
with what the scheduler says about each run besides pgbench's own figures.

  bench/pgwire_sched.py [--mode prepared] [--script select] [--duration 6] [--rounds 6]
                        NAME=[KEY:VALUE,...] ...

Each NAME=... is one sidelight with its own config: KEY `IO` sets `database_io` (auto, io_uring,
epoll); any other KEY is put in its environment. `cur=` is the default config.
SIDELIGHT=path picks the binary (build/sidelight).

Per run (pgbench -c 10 -j 2 -T DURATION) and target: tps, p50 and p99 of the transaction
latencies (µs), the machine's idle share (%, /proc/stat), all CPU of the machine per transaction
(µs) and the share of it that went to the PostgreSQL processes, to pgbench, to interrupts and
to the hypervisor (steal), and for a proxy, per statement: its CPU (µs, utime + stime), its voluntary and involuntary
context switches, and the time its threads waited runnable for a core (µs,
/proc/PID/task/*/schedstat). Prints each run, then the medians. Runs as root.
"""
import argparse
import glob
import resource
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PG = '/usr/lib/postgresql/15/bin'
DB_PORT, BOUNCER_PORT, FIRST_PORT = 18300, 18304, 18310
HZ = os.sysconf('SC_CLK_TCK')


def sh(command):
    subprocess.run(command, shell=True, check=True)


def proxy_stat(pid):
    """CPU seconds (utime + stime, which the kernel samples at its tick), voluntary and
    involuntary switches, seconds waited for a core, seconds run (schedstat: exact), and the
    user-space share of the CPU seconds (utime)."""
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / HZ
    user = int(fields[11]) / HZ
    vol = inv = wait = ran = 0
    for task in glob.glob(f'/proc/{pid}/task/*'):
        for line in open(task + '/status'):
            if line.startswith('voluntary_ctxt_switches'):
                vol += int(line.split()[1])
            elif line.startswith('nonvoluntary_ctxt_switches'):
                inv += int(line.split()[1])
        sched = open(task + '/schedstat').read().split()
        ran += int(sched[0])
        wait += int(sched[1])
    return cpu, vol, inv, wait / 1e9, ran / 1e9, user


def machine_ticks():
    return [int(x) for x in open('/proc/stat').readline().split()[1:]]


def ticks(pid, with_children=False):
    """utime + stime of `pid` (and cutime + cstime: its reaped children), clock ticks."""
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return sum(int(f) for f in fields[11:15 if with_children else 13])


def postgres_ticks(postmaster):
    """The postmaster's CPU and its reaped children's (backends that ended), and per process
    still running, its own: a backend's CPU is counted once, in one of the two."""
    children = {}
    for c in open(f'/proc/{postmaster}/task/{postmaster}/children').read().split():
        try:
            children[int(c)] = ticks(int(c))
        except OSError:
            pass  # ended between the listing and the read: reaped into the postmaster's figure
    return ticks(postmaster, True), children


def postgres_cpu(before, after):
    """Seconds of CPU the PostgreSQL processes used between two postgres_ticks()."""
    live = sum(t - before[1].get(pid, 0) for pid, t in after[1].items())
    return (after[0] - before[0] + live) / HZ


def bench_cpu():
    """CPU seconds of the finished children (pgbench and its shell)."""
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--mode', default='prepared', choices=['simple', 'extended', 'prepared'])
    ap.add_argument('--script', default='select', choices=['select', 'tpcb'])
    ap.add_argument('--duration', type=int, default=6)
    ap.add_argument('--rounds', type=int, default=6)
    ap.add_argument('variants', nargs='+', metavar='NAME=[KEY:VALUE,...]')
    args = ap.parse_args()
    sidelight = os.environ.get('SIDELIGHT', os.path.join(os.getcwd(), 'build/sidelight'))
    work = tempfile.mkdtemp(prefix='sidelight-sched.')
    shutil.chown(work, 'postgres')
    procs = []
    sh(f'runuser -u postgres -- {PG}/initdb -D {work}/data -A trust -U postgres --no-sync '
       '>/dev/null')
    sh(f"runuser -u postgres -- {PG}/pg_ctl start -D {work}/data -w -l {work}/pg.log -o "
       f"'-p {DB_PORT} -c listen_addresses=127.0.0.1 -k {work} -c fsync=off "
       "-c max_connections=100' >/dev/null")
    try:
        sh(f'pgbench -h 127.0.0.1 -p {DB_PORT} -U postgres -i -s 10 -q postgres >/dev/null 2>&1')
        postmaster = int(open(f'{work}/data/postmaster.pid').readline())
        with open(f'{work}/users.txt', 'w') as f:
            f.write('"postgres" ""\n')
        with open(f'{work}/pgbouncer.ini', 'w') as f:
            f.write(f'[databases]\n* = host=127.0.0.1 port={DB_PORT}\n[pgbouncer]\n'
                    f'listen_addr = 127.0.0.1\nlisten_port = {BOUNCER_PORT}\nauth_type = trust\n'
                    f'auth_file = {work}/users.txt\npool_mode = session\nmax_client_conn = 200\n'
                    f'default_pool_size = 50\nlogfile = {work}/pgbouncer.log\n'
                    f'pidfile = {work}/pgbouncer.pid\n')
        sh(f'chown postgres {work}/pgbouncer.ini {work}/users.txt')
        procs.append(subprocess.Popen(['runuser', '-u', 'postgres', '--', 'pgbouncer', '-q',
                                       f'{work}/pgbouncer.ini']))
        targets = [('direct', DB_PORT, None)]
        for i, spec in enumerate(args.variants):
            name, _, pairs = spec.partition('=')
            settings = dict(p.split(':', 1) for p in pairs.split(',') if p)
            io = settings.pop('IO', None)
            os.makedirs(f'{work}/{name}')
            with open(f'{work}/{name}/sidelight.yaml', 'w') as f:
                f.write(f'proxy: {{listen: 127.0.0.1:{FIRST_PORT + 20 + i}, workers: 1}}\n'
                        'upstream: {address: 127.0.0.1:1}\n'
                        f'admin: {{listen: 127.0.0.1:{FIRST_PORT + 40 + i}}}\n'
                        f'databases:\n  - {{name: main, listen: 127.0.0.1:{FIRST_PORT + i}, '
                        f'upstream: {{address: 127.0.0.1:{DB_PORT}}}}}\n'
                        + (f'database_io: {io}\n' if io else ''))
            env = dict(os.environ, **settings)
            p = subprocess.Popen([sidelight, 'run', '--config', f'{work}/{name}/sidelight.yaml'],
                                 env=env, stderr=open(f'{work}/{name}/stderr', 'w'))
            procs.append(p)
            targets.append((name, FIRST_PORT + i, p.pid))
        time.sleep(1.5)
        targets.insert(1, ('pgbouncer', BOUNCER_PORT,
                           int(open(f'{work}/pgbouncer.pid').read())))
        per_tx = 7 if args.script == 'tpcb' else 1
        runs = {t[0]: [] for t in targets}
        for r in range(args.rounds):
            for name, port, pid in targets:
                for f in glob.glob(f'{work}/tx*'):
                    os.remove(f)
                before, t0 = proxy_stat(pid) if pid else None, machine_ticks()
                pg0, bench0 = postgres_ticks(postmaster), bench_cpu()
                out = subprocess.run(
                    f"pgbench -h 127.0.0.1 -p {port} -U postgres -n "
                    f"{'-S' if args.script == 'select' else ''} -M {args.mode} -c 10 -j 2 "
                    f"-T {args.duration} -l --log-prefix={work}/tx postgres",
                    shell=True, capture_output=True, text=True).stdout
                after, t1 = proxy_stat(pid) if pid else None, machine_ticks()
                time.sleep(0.5)  # the backends end and are reaped
                pg1, bench1 = postgres_ticks(postmaster), bench_cpu()
                if 'tps' not in out:
                    sys.exit(f'{name}: pgbench failed: {out[-500:]}')
                lat = sorted(int(line.split()[2]) for f in glob.glob(f'{work}/tx*')
                             for line in open(f))
                d = [b - a for a, b in zip(t0, t1)]
                idle = d[3] + d[4]
                row = dict(tps=len(lat) / args.duration, p50=lat[len(lat) // 2],
                           p99=lat[int(len(lat) * 0.99)], idle=100 * idle / sum(d),
                           all_cpu=(sum(d) - idle) / HZ * 1e6 / len(lat),
                           pg=postgres_cpu(pg0, pg1) * 1e6 / len(lat), bench=(bench1 - bench0) * 1e6 / len(lat),
                           irq=(d[5] + d[6]) / HZ * 1e6 / len(lat), steal=d[7] / HZ * 1e6 / len(lat))
                if pid:
                    n = len(lat) * per_tx
                    row.update(cpu=(after[0] - before[0]) * 1e6 / n, vol=(after[1] - before[1]) / n,
                               inv=(after[2] - before[2]) / n, wait=(after[3] - before[3]) * 1e6 / n,
                               ran=(after[4] - before[4]) * 1e6 / n,
                               usr=(after[5] - before[5]) * 1e6 / n)
                runs[name].append(row)
                print(r, name, ' '.join(f'{k}={v:.2f}' for k, v in row.items()), flush=True)

        def med(name, key):
            return statistics.median(x[key] for x in runs[name])

        print(f'== {args.script} {args.mode}, pgbench -c 10 -j 2 -T {args.duration}, '
              f'{args.rounds} rounds, medians; added = the median minus direct\'s')
        for name, _, pid in targets:
            line = (f"{name:10s} tps={med(name, 'tps'):6.0f} p50={med(name, 'p50'):5.0f} "
                    f"p99={med(name, 'p99'):5.0f} added p50={med(name, 'p50') - med('direct', 'p50'):+5.0f} "
                    f"p99={med(name, 'p99') - med('direct', 'p99'):+5.0f} idle%={med(name, 'idle'):4.1f} "
                    f"all_cpu/tx={med(name, 'all_cpu'):5.1f} postgres/tx={med(name, 'pg'):5.1f} "
                    f"pgbench/tx={med(name, 'bench'):5.1f} irq/tx={med(name, 'irq'):4.1f} "
                    f"steal/tx={med(name, 'steal'):4.1f}")
            if pid:
                line += (f" cpu/stmt={med(name, 'cpu'):5.1f} vol={med(name, 'vol'):.3f} "
                         f"inv={med(name, 'inv'):.3f} wait={med(name, 'wait'):5.1f} "
                         f"ran/stmt={med(name, 'ran'):5.1f} usr/stmt={med(name, 'usr'):4.1f}")
            print(line)
    finally:
        if os.path.exists(f'{work}/pgbouncer.pid'):
            os.system(f'kill $(cat {work}/pgbouncer.pid) 2>/dev/null')
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        os.system(f'runuser -u postgres -- {PG}/pg_ctl stop -D {work}/data -m immediate '
                  '>/dev/null 2>&1')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
