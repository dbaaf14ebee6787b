import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../../../bench/fleet/process-fleet.ts';
import { account, type Accounting, type Expected } from './accounting.ts';
import { MEDIA_EVERY, type ChaosEnv } from './chaos-env.ts';
import { startSteadyLoad } from './steady-load.ts';

/** CHAOS_QUICK=1: the reduced form for CI — shorter loads and outages, same faults and checks. */
export const QUICK = process.env['CHAOS_QUICK'] === '1';
export const CHAOS_JSON =
  process.env['CHAOS_OUT'] ?? join(REPO_ROOT, 'bench-results', 'chaos.json');

export interface ScenarioResult {
  scenario: string;
  sent: number;
  persisted: number;
  delivered: number;
  exhausted: number;
  /** Messages carrying media, and those whose media ended stored in S3 and announced once. */
  media_sent: number;
  media_stored: number;
  exhausted_reasons: Record<string, number>;
  exhausted_errors: Record<string, string>;
  missing: number;
  duplicated: number;
  misplaced: number;
  /** Good events dead-lettered anyway (they are accounted for, but a fault this short should not exhaust them). */
  unexpected_exhausted: number;
  webhook_redeliveries: number;
  /** From the fault's repair until every event sent before it was persisted and delivered (or exhausted). */
  recovery_s: number;
  /** Wall time of the whole scenario, settle included. */
  duration_s: number;
  /** Services that exited on their own during the scenario (restarted as a supervisor would). */
  crashes: string[];
  missing_sample?: string[];
  notes?: string;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls the accounting until nothing is missing or `settleMs` has passed: a message a killed
 * service had in flight comes back only after the consumer's ack_wait (30 s), so a scenario
 * must wait at least that long before it may call anything lost.
 */
export async function settle(
  env: ChaosEnv,
  tenants: readonly string[],
  expected: readonly Expected[],
  prefix: string,
  settleMs: number,
): Promise<Accounting> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const result = await account(env.pool, env.receiver, tenants, expected, prefix, {
      root: join(env.media.s3.root, env.media.bucket),
    });
    if (result.missing.length === 0 || Date.now() > deadline) return result;
    await sleep(1_000);
  }
}

/** Seconds from `repairedAt` until the last event sent before it had completed. */
export function recoverySeconds(
  result: Accounting,
  expected: readonly Expected[],
  repairedAt: number,
): number {
  let last = repairedAt;
  for (const event of expected) {
    if (event.sentAt > repairedAt) continue;
    const done = result.completedAt.get(event.id);
    if (done !== undefined && done > last) last = done;
  }
  return Math.round((last - repairedAt) / 100) / 10;
}

export function toResult(
  scenario: string,
  result: Accounting,
  recovery: number,
  startedAt: number,
  notes?: string,
  env?: ChaosEnv,
): ScenarioResult {
  const crashes = (env?.fleet.crashes ?? [])
    .filter((c) => c.at >= startedAt)
    .map(
      (c) =>
        `${c.service} exited (${c.how}) at +${((c.at - startedAt) / 1000).toFixed(1)}s: ${c.tail
          .split('\n')
          .filter((l) => /Error|throw/.test(l))
          .slice(0, 2)
          .join(' | ')}`,
    );
  return {
    scenario,
    sent: result.sent,
    persisted: result.persisted,
    delivered: result.delivered,
    exhausted: result.exhausted,
    media_sent: result.mediaSent,
    media_stored: result.mediaStored,
    exhausted_reasons: result.exhaustedReasons,
    exhausted_errors: result.exhaustedErrors,
    missing: result.missing.length,
    duplicated: result.duplicated.length,
    misplaced: result.misplaced.length,
    unexpected_exhausted: result.unexpectedExhausted.length,
    webhook_redeliveries: result.redeliveries,
    recovery_s: recovery,
    duration_s: Math.round((Date.now() - startedAt) / 100) / 10,
    crashes,
    ...(result.missing.length > 0 ? { missing_sample: result.missingDetail.slice(0, 20) } : {}),
    ...(notes !== undefined ? { notes } : {}),
  };
}

export interface FaultContext {
  tenants: readonly string[];
  /** Every id of the scenario starts with it; extra events must too, to be accounted. */
  prefix: string;
}

export interface FaultScenario {
  name: string;
  /** Events per second over all tenants. */
  rate: number;
  /** Length of the load, fault included. */
  loadMs: number;
  /** When the fault strikes, from the load's start. */
  faultAtMs: number;
  /** Injects the fault, waits, repairs it; resolves with the moment of repair. */
  fault(ctx: FaultContext): Promise<number>;
  settleMs?: number;
  notes?: string;
  /** Extra events the scenario published (poison, …) with their expected tenants. */
  extra?: () => Expected[];
}

/** Steady tenant load on two fresh tenants, a fault in the middle, then the event-by-event check. */
export async function runFaultScenario(
  env: ChaosEnv,
  spec: FaultScenario,
): Promise<{ result: ScenarioResult; accounting: Accounting }> {
  const tenants = await env.newTenants(
    spec.name.replaceAll(/[^a-z0-9]/g, '').slice(0, 8) || 'chaos',
  );
  const startedAt = Date.now();
  const prefix = `${spec.name.replaceAll(/[^a-z0-9-]/g, '')}-${startedAt.toString(36)}`;
  const load = startSteadyLoad(env.nc.jetstream(), tenants, {
    prefix,
    rate: spec.rate,
    media: { every: MEDIA_EVERY, blobs: env.media.blobs },
  });
  await sleep(spec.faultAtMs);
  const repairedAt = await spec.fault({ tenants, prefix });
  const remaining = startedAt + spec.loadMs - Date.now();
  if (remaining > 0) await sleep(remaining);
  const sent = await load.stop();
  const expected = [...sent, ...(spec.extra?.() ?? [])];
  const accounting = await settle(env, tenants, expected, prefix, spec.settleMs ?? 90_000);
  const result = toResult(
    spec.name,
    accounting,
    recoverySeconds(accounting, expected, repairedAt),
    startedAt,
    spec.notes,
    env,
  );
  await recordResult(result);
  return { result, accounting };
}

/** Adds (or replaces) one scenario's row in bench-results/chaos.json; the global teardown prints the table. */
export async function recordResult(result: ScenarioResult): Promise<void> {
  let document: { quick: boolean; scenarios: ScenarioResult[] } = { quick: QUICK, scenarios: [] };
  try {
    document = JSON.parse(await readFile(CHAOS_JSON, 'utf8')) as typeof document;
  } catch {
    // First scenario of the run.
  }
  document.scenarios = [
    ...document.scenarios.filter((s) => s.scenario !== result.scenario),
    result,
  ];
  await mkdir(dirname(CHAOS_JSON), { recursive: true });
  await writeFile(CHAOS_JSON, `${JSON.stringify(document, null, 2)}\n`);
}

/** The message a failing assertion carries: what was lost, and where each lost event got to. */
export function lossReport(result: ScenarioResult, accounting: Accounting): string {
  return [
    `${result.scenario}: ${result.missing} missing, ${result.duplicated} duplicated, ${result.misplaced} in the wrong schema, ` +
      `${result.unexpected_exhausted} good events exhausted (of ${result.sent} sent), ${result.crashes.length} service crashes`,
    ...result.crashes.map((c) => `crash: ${c}`),
    ...Object.entries(result.exhausted_errors).map(
      ([key, error]) => `exhausted ${key} (${result.exhausted_reasons[key]}): ${error}`,
    ),
    ...accounting.missingDetail.slice(0, 20),
    ...accounting.duplicated.slice(0, 10).map((id) => `duplicated: ${id}`),
    ...accounting.misplaced.slice(0, 10).map((id) => `misplaced: ${id}`),
  ].join('\n');
}

/** The suite's verdict on one scenario: nothing missing, nothing twice, nothing in the wrong tenant, no good event dead-lettered. */
export function assertNoLoss(
  expectFn: (value: number, message: string) => void,
  result: ScenarioResult,
  accounting: Accounting,
): void {
  const report = lossReport(result, accounting);
  expectFn(result.missing, report);
  expectFn(result.duplicated, report);
  expectFn(result.misplaced, report);
  expectFn(result.unexpected_exhausted, report);
  expectFn(result.crashes.length, report);
}
