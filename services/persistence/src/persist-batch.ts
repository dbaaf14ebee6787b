import { setImmediate as nextTurn } from 'node:timers/promises';
import { forTenant, type Pool } from '@switchyard/db';
import { ack, retry, type InboundMessage, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { parseEnvelope, type DlqReason, type EventEnvelope } from '@switchyard/schema';
import { rejectMessage } from '@switchyard/service';
import type { PersistenceMetrics } from './metrics.ts';
import { ensurePartitions, KnownPartitions } from './partitions.ts';
import { classifyPostgresFailure } from './postgres-failure.ts';
import { planBatch, writeBatch, type BatchPlan } from './store-batch.ts';

export interface PersistBatchDeps {
  pool: Pool;
  logger: Logger;
  metrics: PersistenceMetrics;
}

/** Messages parsed between two yields to the event loop (~1-2 ms of work). */
const PREPARE_SLICE = 64;

interface Parsed {
  index: number;
  msg: InboundMessage;
  event: EventEnvelope;
}

interface Rejected {
  index: number;
  reason: DlqReason;
  error: string;
}

/** A batch parsed, validated and planned, before any database work. */
export interface PreparedBatch {
  valid: Parsed[];
  rejected: Rejected[];
  /** The plan of `valid` as one batch; undefined when there is nothing valid. */
  plan: BatchPlan | undefined;
  /** Every month of the plan has its partition (checked in prepare); else commit checks first. */
  monthsReady?: boolean;
}

/**
 * The two stages of `startBatchConsumer`'s staged handler (see StagedBatchHandler in the nats
 * package): `prepare` is CPU work and one read of the catalogue (the batch's month partitions),
 * so the consume loop runs it for the next batch while the current one commits.
 */
export interface PersistBatchHandler {
  prepare(messages: readonly InboundMessage[]): Promise<PreparedBatch>;
  commit(prepared: PreparedBatch, messages: readonly InboundMessage[]): Promise<Outcome[]>;
}

/**
 * EVENTS → the tenant's schema, a batch at a time. Each message passes the same gate as every
 * EVENTS consumer (a valid envelope of the durable's own tenant, else dead-lettered); the valid
 * ones are stored in one transaction and acked once it committed. When Postgres refuses the
 * batch for what one event holds (bad data, or an error nobody classified), the batch is split
 * into single events so the poison one is dead-lettered and the others still land.
 */
export function persistBatch(deps: PersistBatchDeps): PersistBatchHandler {
  const known = new KnownPartitions();
  return {
    async prepare(messages) {
      const valid: Parsed[] = [];
      const rejected: Rejected[] = [];
      for (const [index, msg] of messages.entries()) {
        // It runs while the batch before commits: give that batch's I/O a turn now and then,
        // or its BEGIN / statement / COMMIT would wait for the whole batch to be parsed.
        if (index > 0 && index % PREPARE_SLICE === 0) await nextTurn();
        const parsed = parseEnvelope(msg.data);
        if (!parsed.ok) rejected.push({ index, reason: parsed.code, error: parsed.message });
        else if (parsed.event.tenant !== msg.tenant) {
          rejected.push({ index, reason: 'TENANT_MISMATCH', error: `event of tenant ${parsed.event.tenant} consumed for ${msg.tenant} on ${msg.subject}` });
        } else valid.push({ index, msg, event: parsed.event });
      }
      if (valid.length === 0) return { valid, rejected, plan: undefined };
      await nextTurn();
      const plan = planBatch(valid.map((p) => p.event));
      // The one database step of prepare, read-only unless a month is new (then idempotent): it
      // overlaps the batch before's write instead of being one more round trip before this one's.
      // Should it fail, commit does it again, where a failure is handled like the write's own.
      const tenant = messages[0]!.tenant;
      const monthsReady = await ensurePartitions(forTenant(deps.pool, tenant), plan.months, known).then(
        () => true,
        (err: unknown) => {
          deps.logger.debug({ tenant, err }, 'checking the batch months ahead failed; the commit checks again');
          return false;
        },
      );
      return { valid, rejected, plan, monthsReady };
    },
    async commit(prepared, messages) {
      const outcomes: Outcome[] = [];
      // Logged here, not in prepare: a prepared batch may be dropped and prepared again.
      for (const r of prepared.rejected) outcomes[r.index] = rejectMessage(deps.logger, messages[r.index]!, r.reason, r.error);
      if (prepared.plan !== undefined) await store(deps, prepared.valid, prepared.plan, outcomes, prepared.monthsReady !== true);
      return messages.map((_, i) => outcomes[i] ?? retry('no outcome decided'));
    },
  };
}

async function store(deps: PersistBatchDeps, batch: Parsed[], plan: BatchPlan, outcomes: Outcome[], checkMonths = false): Promise<void> {
  const tenant = batch[0]!.msg.tenant;
  const stopTimer = deps.metrics.insertDuration.startTimer({ tenant });
  try {
    if (checkMonths) await ensurePartitions(forTenant(deps.pool, tenant), plan.months);
    const { inserted, rewritten } = await writeBatch(deps.pool, tenant, plan);
    stopTimer();
    if (rewritten) {
      // Expected after a redelivery that overlaps a committed batch; counted, and said at debug.
      deps.metrics.batchesRewritten.inc({ tenant });
      deps.logger.debug({ tenant, size: batch.length, stored: inserted.size }, 'batch overlapped one stored before; written again in a transaction');
    }
    deps.metrics.batchSize.observe({ tenant }, batch.length);
    const persisted = new Map<string, number>();
    for (const p of batch) {
      // A second copy in the same batch is a duplicate too: only the first one was stored.
      const fresh = inserted.delete(p.event.id);
      const key = `${p.event.type}\u0000${String(!fresh)}`;
      persisted.set(key, (persisted.get(key) ?? 0) + 1);
      outcomes[p.index] = ack();
    }
    for (const [key, n] of persisted) {
      const [type = '', duplicate = ''] = key.split('\u0000');
      deps.metrics.persisted.inc({ tenant, type, duplicate }, n);
    }
  } catch (err) {
    stopTimer();
    const failure = classifyPostgresFailure(err);
    if (batch.length > 1 && (failure === 'bad-data' || failure === 'unknown')) {
      deps.logger.warn({ tenant, size: batch.length, err }, 'batch refused; storing its events one by one to isolate the cause');
      for (const p of batch) await store(deps, [p], planBatch([p.event]), outcomes);
      return;
    }
    for (const p of batch) outcomes[p.index] = onFailure(deps, p, err);
  }
}

function onFailure(deps: PersistBatchDeps, p: Parsed, err: unknown): Outcome {
  const context = { tenant: p.event.tenant, id: p.event.id, delivery: p.msg.deliveryCount };
  switch (classifyPostgresFailure(err)) {
    case 'unavailable':
      deps.logger.warn({ ...context, err }, 'postgres unavailable; event will be retried');
      return retry(`postgres unavailable: ${errorMessage(err)}`);
    case 'tenant-missing':
      // Announced before its schema exists (mid-provisioning), or deleted: wait, then dead-letter.
      deps.logger.warn(context, 'tenant schema missing; event will be retried');
      return retry(`tenant schema for ${p.event.tenant} does not exist`);
    case 'bad-data':
      return rejectMessage(deps.logger, p.msg, 'SCHEMA_INVALID', `postgres refused the event data: ${errorMessage(err)}`);
    case 'unknown':
      // Retried until the delivery limit, then dead-lettered with MAX_DELIVERIES by the loop.
      deps.logger.warn({ ...context, err }, 'storing the event failed; it will be retried');
      return retry(errorMessage(err));
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
