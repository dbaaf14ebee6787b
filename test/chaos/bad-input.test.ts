import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent, tenantSchemaName } from '@switchyard/db';
import { ingestSubject } from '@switchyard/schema';
import { messageEvent, publishUntilAcked } from '../../bench/fleet/load.ts';
import type { Expected } from './support/accounting.ts';
import { startChaosEnv, type ChaosEnv } from './support/chaos-env.ts';
import { assertNoLoss, QUICK, recordResult, runFaultScenario, sleep } from './support/scenario.ts';

const zero = (value: number, message: string) => expect(value, message).toBe(0);
const MALFORMED = 1_000;
const encoder = new TextEncoder();

/** Four kinds of bad input a tenant can publish, in turn: not JSON, not an envelope, a lie about the tenant, an unknown type. */
function malformed(n: number, tenant: string): Uint8Array {
  switch (n % 4) {
    case 0:
      return encoder.encode(`not json ${n} {`);
    case 1:
      return encoder.encode(JSON.stringify({ id: `bad-${n}`, nonsense: true }));
    case 2: {
      const event = JSON.parse(
        new TextDecoder().decode(messageEvent(tenant, 'phone-1', `bad-${n}`, n).bytes),
      ) as Record<string, unknown>;
      return encoder.encode(JSON.stringify({ ...event, tenant: 'someone-else' }));
    }
    default: {
      const event = JSON.parse(
        new TextDecoder().decode(messageEvent(tenant, 'phone-1', `bad-${n}`, n).bytes),
      ) as Record<string, unknown>;
      return encoder.encode(JSON.stringify({ ...event, type: 'message.exploded' }));
    }
  }
}

describe('chaos: bad input interleaved with good traffic', () => {
  let env: ChaosEnv;
  beforeAll(async () => {
    env = await startChaosEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('a poison event and 1,000 malformed messages: each exhausted with its reason, every good event through', async () => {
    const poison: Expected[] = [];
    let badTenant = '';
    let badFrom = new Date();
    const { result, accounting } = await runFaultScenario(env, {
      name: 'bad-input',
      rate: QUICK ? 40 : 60,
      loadMs: QUICK ? 8_000 : 12_000,
      faultAtMs: 1_000,
      async fault(ctx) {
        badTenant = ctx.tenants[0]!;
        badFrom = new Date(Date.now() - 1_000);
        const js = env.nc.jetstream();
        // The poison event: a valid envelope whose text holds a NUL, which jsonb refuses every time.
        const poisonId = `${ctx.prefix}-poison-0`;
        await publishUntilAcked(
          js,
          messageEvent(badTenant, 'phone-1', poisonId, 1, 'poison \u0000 NUL'),
        );
        poison.push({ id: poisonId, tenant: badTenant, sentAt: Date.now() });
        // 1,000 malformed messages over ~5 s, between the good ones.
        const subject = ingestSubject(badTenant, 'phone-1', 'message.received');
        for (let n = 0; n < MALFORMED; n++) {
          await publishUntilAcked(js, {
            subject,
            bytes: malformed(n, badTenant),
            id: `${ctx.prefix}-malformed-${n}`,
          });
          if (n % 20 === 19) await sleep(100);
        }
        return Date.now();
      },
      extra: () => poison,
      notes: `1 poison event (NUL in the text) and ${MALFORMED} malformed messages (not JSON, not an envelope, wrong tenant, unknown type) on one tenant`,
    });
    assertNoLoss(zero, result, accounting);

    // The poison event: delivered (it is a valid envelope) and exhausted by persistence, with the reason.
    expect(result.exhausted_reasons).toMatchObject({ 'persistence:SCHEMA_INVALID': 1 });
    // Every malformed message is one exhausted_events row of its own tenant, with a reason.
    const countByReason = async () => {
      const { rows } = await env.pool.query<{ reason: string; n: string }>(
        `SELECT reason, count(*) AS n FROM ${quoteIdent(tenantSchemaName(badTenant))}.exhausted_events
          WHERE service = 'router' AND exhausted_at >= $1 GROUP BY reason`,
        [badFrom],
      );
      return rows;
    };
    let rows = await countByReason();
    for (
      let waited = 0;
      rows.reduce((a, r) => a + Number(r.n), 0) < MALFORMED && waited < 30_000;
      waited += 500
    ) {
      await sleep(500);
      rows = await countByReason();
    }
    const byReason = Object.fromEntries(rows.map((r) => [r.reason, Number(r.n)]));
    const exhaustedMalformed = Object.values(byReason).reduce((a, b) => a + b, 0);
    await recordResult({
      ...result,
      scenario: 'bad-input (malformed)',
      sent: MALFORMED,
      persisted: 0,
      delivered: 0,
      exhausted: exhaustedMalformed,
      exhausted_reasons: byReason,
      exhausted_errors: {},
      missing: MALFORMED - exhaustedMalformed,
      duplicated: 0,
      misplaced: 0,
      unexpected_exhausted: 0,
      crashes: [],
    });
    // Each kind may carry its own code; what matters is one row per message, each with a reason.
    expect(
      exhaustedMalformed,
      `router exhaustions of ${MALFORMED} malformed messages: ${JSON.stringify(byReason)}`,
    ).toBe(MALFORMED);
  });
});
