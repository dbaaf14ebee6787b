import { readFile, rm } from 'node:fs/promises';
import { CHAOS_SPOOL_ROOT } from './capture-driver-ids.ts';
import { CHAOS_JSON, QUICK, type ScenarioResult } from './scenario.ts';

/** A fresh bench-results/chaos.json per run, and the table of every scenario at the end. */
export async function setup(): Promise<void> {
  await rm(CHAOS_JSON, { force: true });
}

export async function teardown(): Promise<void> {
  await rm(CHAOS_SPOOL_ROOT, { recursive: true, force: true });
  let scenarios: ScenarioResult[];
  try {
    scenarios = (JSON.parse(await readFile(CHAOS_JSON, 'utf8')) as { scenarios: ScenarioResult[] })
      .scenarios;
  } catch {
    return;
  }
  const columns = [
    'scenario',
    'sent',
    'persisted',
    'delivered',
    'exhausted',
    'media_sent',
    'media_stored',
    'missing',
    'duplicated',
    'recovery_s',
    'duration_s',
  ] as const;
  const rows = [columns.map(String), ...scenarios.map((s) => columns.map((c) => String(s[c])))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
  );
  process.stdout.write(
    `\nchaos${QUICK ? ' (CHAOS_QUICK)' : ''}\n${lines.join('\n')}\n\nwrote ${CHAOS_JSON}\n`,
  );
}
