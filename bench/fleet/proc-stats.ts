import { readdir, readFile } from 'node:fs/promises';

/**
 * What the kernel says one process has used: read straight from /proc (Linux only), so the figure
 * includes everything the service did — its event loop, GC, native code — with no agent inside it.
 */
export interface ProcSample {
  /** Resident set size now, MiB. */
  rss_mib: number;
  /** Peak resident set size so far, MiB. */
  rss_peak_mib: number;
  /** User + system CPU time consumed since the process started, seconds. */
  cpu_seconds: number;
  at_ms: number;
}

// USER_HZ: /proc/<pid>/stat counts in clock ticks, 100 per second on every Linux we run on.
const CLOCK_TICKS_PER_SECOND = 100;

function kib(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

/** User + system CPU seconds from a /proc/<pid>/stat line. */
function cpuSecondsOf(stat: string): number {
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, i.e. 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** One sample of a live process; undefined when it is gone (or /proc is not there). */
export async function sampleProcess(pid: number): Promise<ProcSample | undefined> {
  try {
    const [status, stat] = await Promise.all([
      readFile(`/proc/${pid}/status`, 'utf8'),
      readFile(`/proc/${pid}/stat`, 'utf8'),
    ]);
    return {
      rss_mib: round1(kib(status, 'VmRSS') / 1024),
      rss_peak_mib: round1(kib(status, 'VmHWM') / 1024),
      cpu_seconds: cpuSecondsOf(stat),
      at_ms: Date.now(),
    };
  } catch {
    return undefined;
  }
}

export interface ProcUsage {
  rss_before_mib: number;
  rss_after_mib: number;
  rss_peak_mib: number;
  cpu_seconds: number;
  /** CPU seconds per wall-clock second over the window: 1 = one full core. */
  cpu_cores: number;
}

/** Usage between two samples of the same process. */
export function usageBetween(before: ProcSample, after: ProcSample): ProcUsage {
  const cpu = after.cpu_seconds - before.cpu_seconds;
  const wall = (after.at_ms - before.at_ms) / 1000;
  return {
    rss_before_mib: before.rss_mib,
    rss_after_mib: after.rss_mib,
    rss_peak_mib: after.rss_peak_mib,
    cpu_seconds: Math.round(cpu * 100) / 100,
    cpu_cores: wall > 0 ? Math.round((cpu / wall) * 1000) / 1000 : Number.NaN,
  };
}

/**
 * Nanoseconds each thread of `pid` has spent runnable but waiting for a CPU (the second field of
 * /proc/<pid>/task/<tid>/schedstat), by thread id; undefined when the process is gone or the
 * kernel keeps no schedstats. On a machine with fewer cores than runnable threads this is where
 * latency goes that no profile of the process shows.
 */
async function runQueueWaits(pid: number): Promise<Map<number, number> | undefined> {
  try {
    const waits = new Map<number, number>();
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      // A thread may end between the listing and the read.
      const line = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => undefined);
      const wait = Number(line?.split(' ')[1]);
      if (Number.isFinite(wait)) waits.set(Number(tid), wait);
    }
    return waits;
  } catch {
    return undefined;
  }
}

/**
 * Run-queue wait of `pid`'s threads from now on: `msPerSecond(seconds)` answers the milliseconds
 * they waited, added up over the threads alive at both readings, per second of `seconds`
 * (null when either reading failed or there is no pid).
 */
export async function runQueueMeter(pid: number | undefined): Promise<{ msPerSecond(seconds: number): Promise<number | null> }> {
  const before = pid !== undefined ? await runQueueWaits(pid) : undefined;
  return {
    async msPerSecond(seconds) {
      const after = pid !== undefined ? await runQueueWaits(pid) : undefined;
      if (before === undefined || after === undefined) return null;
      let ns = 0;
      for (const [tid, wait] of after) {
        const earlier = before.get(tid);
        if (earlier !== undefined) ns += wait - earlier;
      }
      return round1(ns / 1e6 / seconds);
    },
  };
}

/** The nats-server process listening on `port` (the test harness does not expose its pid). */
export async function pidOfNatsServer(port: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('nats-server') && cmdline.split('\0').join(' ').includes(`-p ${port}`)) return Number(entry);
  }
  return undefined;
}

/**
 * CPU seconds used so far by every process named `comm` (e.g. `postgres`: the server and all its
 * backends), by pid. Summing the difference over pids present in two readings gives what they
 * used in between; a backend that connected or exited in between is left out.
 */
export async function cpuSecondsByPid(comm: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (!stat.includes(`(${comm})`)) continue;
    out.set(Number(entry), cpuSecondsOf(stat));
  }
  return out;
}

/** CPU seconds the processes of two `cpuSecondsByPid` readings used in between. */
export function cpuSecondsBetween(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let seconds = 0;
  for (const [pid, cpu] of after) {
    const earlier = before.get(pid);
    if (earlier !== undefined) seconds += cpu - earlier;
  }
  return seconds;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
