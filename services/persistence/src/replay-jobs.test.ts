import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { eventsSubject, STREAMS } from '@switchyard/schema';
import { decodeJson, eventually, readStream, testLogger } from '@switchyard/testing';
import { persistenceMetrics } from './metrics.ts';
import { ReplayJobs, STALE_JOB_MS } from './replay-routes.ts';
import { encodeJson, messageReceived, startHarness, type Harness } from './test-support.ts';

// Replay jobs outliving their replica: one that died mid-way (its row left `running`, its last
// progress and cursor saved) and one whose replica drained. The harness's own persistence stores
// the events; the jobs here are separate ReplayJobs, as another replica's would be.
let h: Harness;
let tenant: string;
const ids: string[] = [];

beforeAll(async () => {
  h = await startHarness({ PERSISTENCE_BATCH_WAIT: '5ms' });
  tenant = await h.addTenant();
  for (let i = 0; i < 6; i++) {
    const event = messageReceived(tenant, { occurred_at: new Date(Date.UTC(2026, 2, 1, 9, 0, i)).toISOString(), seq: i + 1 });
    ids.push(String(event['id']));
    await publishEvent(h.js, eventsSubject(tenant, 'phone-1', 'message.received'), encodeJson(event), { msgId: String(event['id']) });
  }
  await eventually(async () => {
    const n = await forTenant(h.pool, tenant).query<{ n: string }>('SELECT count(*) AS n FROM :SCHEMA.events');
    return Number(n.rows[0]?.n) === 6 ? true : undefined;
  }, 20_000, 'the six events stored');
});
afterAll(async () => {
  await h.stop();
});

function jobs(): ReplayJobs {
  return new ReplayJobs({ pool: h.pool, js: h.js, logger: testLogger('persistence'), metrics: persistenceMetrics(new Registry()) });
}

async function job(id: string) {
  const rows = await forTenant(h.pool, tenant).query<{ status: string; events_replayed: number; events_failed: number; cursor_id: string | null }>(
    'SELECT status, events_replayed, events_failed, cursor_id FROM :SCHEMA.replay_jobs WHERE id = $1',
    [id],
  );
  return rows.rows[0];
}

/** The envelopes a replay job published to EVENTS (source replay), in stream order. */
async function replayedBy(expected: number): Promise<string[]> {
  const all = decodeJson<{ id: string; source: string }>(await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.>`, 6 + expected));
  return all.filter((e) => e.source === 'replay').map((e) => e.id);
}

describe('replay jobs across replicas', () => {
  it('resumes a job its replica left running, after the last event it published, and finishes it', async () => {
    const id = 'rpl_00000000000000a1';
    const cursor = await forTenant(h.pool, tenant).query<{ us: string }>(
      `SELECT (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS us FROM :SCHEMA.events WHERE id = $1`,
      [ids[1]],
    );
    // As a replica that died after publishing the first two would have left it.
    await forTenant(h.pool, tenant).query(
      `INSERT INTO :SCHEMA.replay_jobs (id, filters, status, events_found, events_replayed, cursor_occurred_us, cursor_id, updated_at)
       VALUES ($1, $2, 'running', 6, 2, $3, $4, now() - interval '5 minutes')`,
      [id, JSON.stringify({ instance: 'phone-1' }), cursor.rows[0]?.us, ids[1]],
    );
    const other = jobs();
    try {
      // A fresh job is not taken; the stale one is, once.
      expect(await other.resumeStale([tenant], STALE_JOB_MS)).toBe(1);
      expect(await other.resumeStale([tenant], STALE_JOB_MS)).toBe(0);
      const done = await eventually(async () => {
        const row = await job(id);
        return row?.status === 'running' ? undefined : row;
      }, 20_000, 'the resumed job to finish');
      expect(done).toMatchObject({ status: 'succeeded', events_replayed: 6, events_failed: 0, cursor_id: ids[5] });
      // Only the four after the cursor were published again, in order.
      expect(await replayedBy(4)).toEqual(ids.slice(2));
    } finally {
      await other.stop();
    }
  });

  it('hands a job over when its replica drains: left running, taken by the next scan, finished once', async () => {
    const first = jobs();
    const id = await first.start(tenant, { instance: 'phone-1' }, { instance: 'phone-1' }, 6);
    await first.stop();
    const handedOver = await job(id);
    // Stopped before or after its one page: either way running, not failed, for another replica.
    expect(handedOver?.status).toBe('running');
    const second = jobs();
    try {
      expect(await second.resumeStale([tenant], STALE_JOB_MS)).toBe(1);
      const done = await eventually(async () => {
        const row = await job(id);
        return row?.status === 'running' ? undefined : row;
      }, 20_000, 'the handed-over job to finish');
      expect(done).toMatchObject({ status: 'succeeded', events_replayed: 6, events_failed: 0 });
    } finally {
      await second.stop();
    }
  });
});
