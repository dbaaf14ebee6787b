import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '@switchyard/db';
import { messageEventId } from '../../services/capture/src/message-mapper.ts';
import type { ServiceName } from '../../bench/fleet/process-fleet.ts';
import { messageEvent, publishUntilAcked } from '../../bench/fleet/load.ts';
import type { Expected } from './support/accounting.ts';
import { startChaosEnv, type ChaosEnv } from './support/chaos-env.ts';
import { DRIVER_CHAT, driverMessageId } from './support/capture-driver-ids.ts';
import {
  assertNoLoss,
  type FaultContext,
  QUICK,
  recordResult,
  recoverySeconds,
  runFaultScenario,
  settle,
  sleep,
  toResult,
} from './support/scenario.ts';

const RATE = QUICK ? 40 : 60;
const LOAD_MS = QUICK ? 8_000 : 12_000;
const DOWN_MS = 2_000;
const zero = (value: number, message: string) => expect(value, message).toBe(0);

describe('chaos: every service SIGKILLed in turn and restarted', () => {
  let env: ChaosEnv;
  beforeAll(async () => {
    env = await startChaosEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  const consumers: ServiceName[] = [
    'router',
    'persistence',
    'media',
    'webhook-dispatch',
    'dlq-worker',
  ];
  it.each(consumers)(
    '%s: kill -9 under load, restart, nothing lost or stored twice',
    async (service) => {
      // The dlq-worker only has work when something is dead-lettered: a poison event a second
      // (a NUL that jsonb refuses) keeps DLQ records in flight while it is killed.
      const poison: Expected[] = [];
      let stopPoison = false;
      let poisonLoop: Promise<void> = Promise.resolve();
      const { result, accounting } = await runFaultScenario(env, {
        name: `kill-${service}`,
        rate: RATE,
        loadMs: LOAD_MS,
        faultAtMs: LOAD_MS / 3,
        async fault(ctx) {
          if (service === 'dlq-worker')
            poisonLoop = publishPoison(env, ctx, poison, () => stopPoison);
          await sleep(service === 'dlq-worker' ? 1_500 : 0);
          await env.fleet.kill(service);
          await sleep(DOWN_MS);
          await env.fleet.start(service);
          return Date.now();
        },
        extra: () => {
          stopPoison = true;
          return poison;
        },
        notes: `SIGKILL, ${DOWN_MS / 1000}s down, restarted; ${RATE}/s over 2 tenants${service === 'dlq-worker' ? '; a poison event per second' : ''}`,
      });
      await poisonLoop;
      assertNoLoss(zero, result, accounting);
    },
  );

  it('capture: kill -9 with events captured but not yet on INGEST, restart, nothing lost', async () => {
    const startedAt = Date.now();
    const [tenant] = (await env.newTenants('killcap', 1)) as [string];
    const total = QUICK ? 1_200 : 2_000;
    const burstAt = 200;
    const burst = QUICK ? 800 : 1_500;
    const driverEnv = driverEnvFor(tenant, total, { CHAOS_BURST_AT: String(burstAt), CHAOS_BURST: String(burst) });
    await startDriver(env, driverEnv(0));
    // Kill once the burst has been handed to the adapter and its queue is still being published.
    const deadline = Date.now() + 30_000;
    while (
      !(env.driver.lastEmitted >= burstAt + burst - 1 && env.driver.lastPending > 0) &&
      Date.now() < deadline
    )
      await sleep(5);
    const pendingAtKill = env.driver.lastPending;
    const emittedAtKill = env.driver.lastEmitted;
    await env.fleet.kill('capture');
    const durableAtKill = env.driver.durable;
    await sleep(DOWN_MS);
    const { result, accounting } = await resumeAndRecord(env, {
      name: 'kill-capture',
      tenant,
      total,
      emittedAtKill,
      driverEnv,
      startedAt,
      notes: (missing, expected) =>
        `driver process (test/chaos/support/capture-driver.ts) fed through Baileys' emitter; SIGKILL with ${pendingAtKill} of ${emittedAtKill + 1} captured events not yet acknowledged by INGEST, ${durableAtKill} in the outbox` +
        lostWhere(missing, expected, durableAtKill),
    });
    assertNoLoss(zero, result, accounting);
  });

  it("capture: kill -9 while NATS is down and its events wait in the Postgres outbox; NATS and capture back, nothing lost", async () => {
    const startedAt = Date.now();
    const [tenant] = (await env.newTenants('killbox', 1)) as [string];
    const total = QUICK ? 1_000 : 1_600;
    const driverEnv = driverEnvFor(tenant, total);
    const outboxRows = async (): Promise<number> =>
      (await forTenant(env.pool, tenant).query<{ n: number }>('SELECT count(*)::int AS n FROM :SCHEMA.capture_outbox')).rows[0]?.n ?? 0;
    await startDriver(env, driverEnv(0));
    // Published straight to INGEST while NATS is up…
    const flowing = Date.now() + 30_000;
    while (env.driver.lastEmitted < 200 && Date.now() < flowing) await sleep(10);
    // …then NATS goes away: publishes time out and capture stores what it captures in its outbox.
    await env.nats.kill();
    const storing = Date.now() + 30_000;
    let stored = await outboxRows();
    while (stored < 100 && Date.now() < storing) {
      await sleep(50);
      stored = await outboxRows();
    }
    const emittedAtKill = env.driver.lastEmitted;
    await env.fleet.kill('capture');
    const storedAtKill = await outboxRows();
    expect(storedAtKill, 'captured events waiting in the outbox when capture was killed').toBeGreaterThan(0);
    await sleep(DOWN_MS);
    await env.nats.restart();
    const { result, accounting } = await resumeAndRecord(env, {
      name: 'kill-capture-outbox',
      tenant,
      total,
      emittedAtKill,
      driverEnv,
      startedAt,
      notes: () =>
        `nats-server SIGKILLed once 200 captured events had gone straight to INGEST; capture SIGKILLed with ${storedAtKill} events in its Postgres outbox (${emittedAtKill + 1} captured), ${DOWN_MS / 1000}s later NATS and capture restarted`,
    });
    expect(await outboxRows(), 'the outbox is empty once everything is relayed').toBe(0);
    assertNoLoss(zero, result, accounting);
  });
});

/** The driver's environment for a run from message k = `from` up to `total`, 100 a second. */
function driverEnvFor(tenant: string, total: number, extra: Record<string, string> = {}): (from: number) => Record<string, string> {
  return (from) => ({ CHAOS_TENANT: tenant, CHAOS_FROM: String(from), CHAOS_TO: String(total), CHAOS_RATE: '100', ...extra });
}

/** Restarts the idle capture as a scenario's driver (test/chaos/support/capture-driver.ts). */
async function startDriver(env: ChaosEnv, driverEnv: Record<string, string>): Promise<void> {
  await env.fleet.kill('capture');
  env.driver.lastEmitted = -1;
  env.driver.durable = 0;
  env.driver.env = driverEnv;
  await env.fleet.start('capture');
}

/**
 * Starts the killed driver again from the first message it had not reported — WhatsApp resends
 * only what the device never got — waits until it has emitted all `total`, accounts for every
 * message's derived id end to end, and records the scenario's row (recovery from the restart).
 */
async function resumeAndRecord(
  env: ChaosEnv,
  run: {
    name: string;
    tenant: string;
    total: number;
    emittedAtKill: number;
    driverEnv: (from: number) => Record<string, string>;
    startedAt: number;
    notes: (missing: readonly string[], expected: readonly Expected[]) => string;
  },
): Promise<{ result: ReturnType<typeof toResult>; accounting: Awaited<ReturnType<typeof settle>> }> {
  const { tenant, total, emittedAtKill } = run;
  env.driver.env = run.driverEnv(emittedAtKill + 1);
  await env.fleet.start('capture');
  const repairedAt = Date.now();
  while (env.driver.lastEmitted < total - 1 && Date.now() < repairedAt + 60_000) await sleep(50);
  const expected: Expected[] = Array.from({ length: total }, (_, k) => ({
    id: messageEventId(tenant, 'phone-1', DRIVER_CHAT, driverMessageId(k), false),
    tenant,
    sentAt: k <= emittedAtKill ? repairedAt - DOWN_MS : repairedAt,
  }));
  const accounting = await settle(env, [tenant], expected, '', 90_000);
  const result = toResult(run.name, accounting, recoverySeconds(accounting, expected, repairedAt), run.startedAt, run.notes(accounting.missing, expected), env);
  await recordResult(result);
  return { result, accounting };
}

/** One poison event a second on the scenario's first tenant until told to stop. */
async function publishPoison(
  env: ChaosEnv,
  ctx: FaultContext,
  into: Expected[],
  stopped: () => boolean,
): Promise<void> {
  const tenant = ctx.tenants[0]!;
  for (let n = 0; !stopped(); n++) {
    const id = `${ctx.prefix}-poison-${n}`;
    await publishUntilAcked(
      env.nc.jetstream(),
      messageEvent(tenant, 'phone-1', id, 1, 'poison \u0000 NUL'),
    );
    into.push({ id, tenant, sentAt: Date.now() });
    await sleep(1_000);
  }
}

/**
 * Where the lost captured events were at the kill: the first `durable` (by seq, i.e. by k on a
 * fresh instance) were in capture's Postgres outbox; the rest were staged in memory, handed over
 * by Baileys but not yet written.
 */
function lostWhere(
  missing: readonly string[],
  expected: readonly Expected[],
  durable: number,
): string {
  if (missing.length === 0) return '';
  const lost = new Set(missing);
  const ks = expected.flatMap((e, k) => (lost.has(e.id) ? [k] : []));
  const fromOutbox = ks.filter((k) => k < durable).length;
  return `; LOST k=${ks[0]}..${ks[ks.length - 1]}: ${fromOutbox} had been stored in the outbox, ${ks.length - fromOutbox} were still staged in memory`;
}
