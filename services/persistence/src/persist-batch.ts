import type { Pool } from '@switchyard/db';
import { ack, retry, type BatchHandler, type InboundMessage, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { parseEnvelope, type EventEnvelope } from '@switchyard/schema';
import { rejectMessage } from '@switchyard/service';
import type { PersistenceMetrics } from './metrics.ts';
import { classifyPostgresFailure } from './postgres-failure.ts';
import { storeBatch } from './store-batch.ts';

export interface PersistBatchDeps {
  pool: Pool;
  logger: Logger;
  metrics: PersistenceMetrics;
}

interface Parsed {
  index: number;
  msg: InboundMessage;
  event: EventEnvelope;
}

/**
 * EVENTS → the tenant's schema, a batch at a time. Each message passes the same gate as every
 * EVENTS consumer (a valid envelope of the durable's own tenant, else dead-lettered); the valid
 * ones are stored in one transaction and acked once it committed. When Postgres refuses the
 * batch for what one event holds (bad data, or an error nobody classified), the batch is split
 * into single events so the poison one is dead-lettered and the others still land.
 */
export function persistBatch(deps: PersistBatchDeps): BatchHandler {
  // Partitions this consumer created or saw; saves a catalogue lookup per batch.
  const knownPartitions = new Set<string>();
  return async (messages) => {
    const outcomes: Outcome[] = [];
    const valid: Parsed[] = [];
    for (const [index, msg] of messages.entries()) {
      const parsed = parseEnvelope(msg.data);
      if (!parsed.ok) outcomes[index] = rejectMessage(deps.logger, msg, parsed.code, parsed.message);
      else if (parsed.event.tenant !== msg.tenant) {
        outcomes[index] = rejectMessage(deps.logger, msg, 'TENANT_MISMATCH', `event of tenant ${parsed.event.tenant} consumed for ${msg.tenant} on ${msg.subject}`);
      } else valid.push({ index, msg, event: parsed.event });
    }
    if (valid.length > 0) await store(deps, knownPartitions, valid, outcomes);
    return messages.map((_, i) => outcomes[i] ?? retry('no outcome decided'));
  };
}

async function store(deps: PersistBatchDeps, known: Set<string>, batch: Parsed[], outcomes: Outcome[]): Promise<void> {
  const tenant = batch[0]!.msg.tenant;
  const stopTimer = deps.metrics.insertDuration.startTimer({ tenant });
  try {
    const { inserted } = await storeBatch(deps.pool, tenant, batch.map((p) => p.event), known);
    stopTimer();
    deps.metrics.batchSize.observe({ tenant }, batch.length);
    for (const p of batch) {
      // A second copy in the same batch is a duplicate too: only the first one was stored.
      const fresh = inserted.delete(p.event.id);
      deps.metrics.persisted.inc({ tenant, type: p.event.type, duplicate: String(!fresh) });
      outcomes[p.index] = ack();
    }
  } catch (err) {
    stopTimer();
    const failure = classifyPostgresFailure(err);
    if (batch.length > 1 && (failure === 'bad-data' || failure === 'unknown')) {
      deps.logger.warn({ tenant, size: batch.length, err }, 'batch refused; storing its events one by one to isolate the cause');
      for (const p of batch) await store(deps, known, [p], outcomes);
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
