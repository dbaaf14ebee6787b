import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { BenchArgs } from './args.ts';

export type BenchResult = Record<string, unknown>;

export interface BenchContext {
  args: BenchArgs;
  /** Human-readable notes on stderr (stdout carries the table). */
  log(message: string): void;
}

/** What every JSON file says about where its figures come from. */
function machine() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout (e.g. a container): the figures still stand, just without a commit.
  }
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    commit,
    node: process.version,
    cpus: cpu.length,
    cpu_model: cpu[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
  };
}

function flatten(value: unknown, prefix = '', out: [string, string][] = []): [string, string][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    out.push([prefix, typeof value === 'number' ? value.toLocaleString('en-US', { maximumFractionDigits: 3 }) : String(value)]);
  }
  return out;
}

/** The short table printed after a run: every figure, ratios first so the headline is on top. */
export function renderTable(result: BenchResult): string {
  const rows = flatten(result);
  rows.sort(([a], [b]) => Number(!a.endsWith('_ratio')) - Number(!b.endsWith('_ratio')));
  const width = Math.max(...rows.map(([k]) => k.length), 6);
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/**
 * Runs one benchmark: `fn` measures and returns its figures (each comparison with a same-run
 * ceiling as a `*_ratio` number beside the raw figures), then the table goes to stdout and the
 * JSON to `--out` (default bench-results/<name>.json).
 */
export async function runBench(name: string, args: BenchArgs, fn: (ctx: BenchContext) => Promise<BenchResult>): Promise<BenchResult> {
  const ctx: BenchContext = { args, log: (m) => process.stderr.write(`[${name}] ${m}\n`) };
  const result = await fn(ctx);
  const document = { benchmark: name, machine: machine(), args: Object.fromEntries(args), ...result };
  const out = resolve(args.get('out') ?? `bench-results/${name}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(document, null, 2)}\n`);
  process.stdout.write(`\n${name}\n${renderTable(result)}\n\nwrote ${out}\n`);
  return document;
}
