import type { Pool } from '@switchyard/db';
import { ack, retry, type Handler, type InboundMessage, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import type { EventEnvelope } from '@switchyard/schema';
import { handleEnvelopes, rejectMessage } from '@switchyard/service';
import { insertEvent } from './insert-event.ts';
import type { PersistenceMetrics } from './metrics.ts';
import { classifyPostgresFailure } from './postgres-failure.ts';

export interface PersistEventDeps {
  pool: Pool;
  logger: Logger;
  metrics: PersistenceMetrics;
}

/**
 * EVENTS → the tenant's `events` table. The router validated the event already, but this
 * consumer trusts nothing it reads off the wire: an event that does not parse, or that claims
 * another tenant than the durable it arrived on, is dead-lettered instead of being written
 * into a schema it does not belong to. Acks only once the insert is committed.
 */
export function persistEvent(deps: PersistEventDeps): Handler {
  return handleEnvelopes(deps.logger, (event, msg) => store(deps, msg, event));
}

async function store(deps: PersistEventDeps, msg: InboundMessage, event: EventEnvelope): Promise<Outcome> {
  const stopTimer = deps.metrics.insertDuration.startTimer({ tenant: event.tenant });
  let inserted: boolean;
  try {
    ({ inserted } = await insertEvent(deps.pool, event));
  } catch (err) {
    return onInsertFailure(deps, msg, event, err);
  } finally {
    stopTimer();
  }
  deps.metrics.persisted.inc({ tenant: event.tenant, type: event.type, duplicate: String(!inserted) });
  return ack();
}

function onInsertFailure(deps: PersistEventDeps, msg: InboundMessage, event: EventEnvelope, err: unknown): Outcome {
  const context = { tenant: event.tenant, id: event.id, delivery: msg.deliveryCount };
  switch (classifyPostgresFailure(err)) {
    case 'unavailable':
      deps.logger.warn({ ...context, err }, 'postgres unavailable; event will be retried');
      return retry(`postgres unavailable: ${errorMessage(err)}`);
    case 'tenant-missing':
      // Announced before its schema exists (mid-provisioning), or deleted: wait, then dead-letter.
      deps.logger.warn(context, 'tenant schema missing; event will be retried');
      return retry(`tenant schema for ${event.tenant} does not exist`);
    case 'bad-data':
      return rejectMessage(deps.logger, msg, 'SCHEMA_INVALID', `postgres refused the event data: ${errorMessage(err)}`);
    case 'unknown':
      // Thrown so the consume loop applies its own retry-or-give-up classification.
      throw err;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
