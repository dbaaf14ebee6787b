import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChaosEnv, type ChaosEnv } from './support/chaos-env.ts';
import { assertNoLoss, QUICK, runFaultScenario, sleep } from './support/scenario.ts';

const RATE = QUICK ? 40 : 60;
const zero = (value: number, message: string) => expect(value, message).toBe(0);

describe('chaos: NATS, Postgres and the webhook endpoint fail under load', () => {
  let env: ChaosEnv;
  beforeAll(async () => {
    env = await startChaosEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('NATS killed (SIGKILL, store kept on disk) and started again', async () => {
    const downMs = QUICK ? 3_000 : 5_000;
    const { result, accounting } = await runFaultScenario(env, {
      name: 'nats-restart',
      rate: RATE,
      loadMs: QUICK ? 10_000 : 15_000,
      faultAtMs: 4_000,
      async fault() {
        await env.nats.kill();
        await sleep(downMs);
        await env.nats.restart();
        return Date.now();
      },
      notes: `nats-server SIGKILLed, ${downMs / 1000}s down, restarted on the same port and store; publishers retry until acked`,
    });
    assertNoLoss(zero, result, accounting);
  });

  it("Postgres backends terminated mid-run (every service's connections, twice)", async () => {
    const { result, accounting } = await runFaultScenario(env, {
      name: 'postgres-terminate',
      rate: RATE,
      loadMs: QUICK ? 8_000 : 12_000,
      faultAtMs: 3_000,
      async fault() {
        let killed = 0;
        for (let round = 0; round < 2; round++) {
          const { rowCount } = await env.pool.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [env.database.name],
          );
          killed += rowCount ?? 0;
          await sleep(1_000);
        }
        process.stderr.write(`[chaos] terminated ${killed} Postgres backends\n`);
        return Date.now();
      },
      notes: 'pg_terminate_backend on every other backend of the database, twice 1 s apart',
    });
    assertNoLoss(zero, result, accounting);
  });

  it('the webhook receiver down, then back', async () => {
    const downMs = QUICK ? 10_000 : 20_000;
    const { result, accounting } = await runFaultScenario(env, {
      name: 'receiver-down',
      rate: RATE,
      loadMs: downMs + 8_000,
      faultAtMs: 3_000,
      async fault() {
        await env.receiver.down();
        await sleep(downMs);
        await env.receiver.up();
        return Date.now();
      },
      notes: `receiver refuses connections for ${downMs / 1000}s; WEBHOOK_RETRY_DELAYS=0s,1s,2s,4s,8s,8s,8s,8s (39 s before dead-lettering)`,
    });
    assertNoLoss(zero, result, accounting);
  });
});
