import { pgErrorCode, recordExhausted, TenantNotFoundError, type Pool } from '@switchyard/db';
import { ack, type Handler, type InboundMessage, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { SYSTEM_TENANT, type DlqRecord } from '@switchyard/schema';
import type { DlqWorkerMetrics } from './metrics.ts';
import { readDlqRecord } from './read-dlq-record.ts';
import { unreadableRecord } from './unreadable-record.ts';

export interface RecordDeadLetterDeps {
  pool: Pool;
  logger: Logger;
  metrics: DlqWorkerMetrics;
  /** The stream the DLQ messages come from (names the source of unreadable ones). */
  stream: string;
}

/**
 * DLQ → `exhausted_events`. This is the end of the line, so every message becomes a row
 * somewhere: in its tenant's table when it is a valid record of that tenant, otherwise in the
 * system table (control schema) with the claimed tenant kept. Only a failure to reach Postgres
 * is thrown, and the consumer (maxDeliver -1) retries that for ever. Acks after the commit.
 */
export function recordDeadLetter(deps: RecordDeadLetterDeps): Handler {
  return async (msg: InboundMessage): Promise<Outcome> => {
    const read = readDlqRecord(msg.data);
    if (!read.ok) {
      deps.logger.warn({ tenant: msg.tenant, subject: msg.subject, seq: msg.streamSeq, error: read.error }, 'unreadable DLQ message');
      await store(deps, SYSTEM_TENANT, unreadableRecord(msg, deps.stream, read.error));
      return ack();
    }
    await storeRecord(deps, msg, read.record);
    return ack();
  };
}

async function storeRecord(deps: RecordDeadLetterDeps, msg: InboundMessage, record: DlqRecord): Promise<void> {
  // A record may only land in the table of the tenant whose DLQ subject carried it.
  const home = record.tenant === msg.tenant && msg.tenant !== SYSTEM_TENANT ? msg.tenant : SYSTEM_TENANT;
  if (home === SYSTEM_TENANT && msg.tenant !== SYSTEM_TENANT) {
    deps.logger.warn({ tenant: msg.tenant, claimed: record.tenant, subject: msg.subject }, 'DLQ record names another tenant; recorded under the system tenant');
  }
  try {
    await store(deps, home, record);
  } catch (err) {
    if (err instanceof TenantNotFoundError && home !== SYSTEM_TENANT) {
      // The tenant's schema is gone (or not there yet): keep the record where an operator sees it.
      deps.logger.warn({ tenant: home, dlqKey: `${record.source_stream}:${record.source_seq}` }, 'tenant schema missing; recorded under the system tenant');
      await store(deps, SYSTEM_TENANT, record);
      return;
    }
    if (isDataException(err)) {
      // Postgres refuses some of the record's text (e.g. a NUL in `error`); retrying cannot help,
      // so the whole DLQ message is kept as bytes instead.
      const error = `DLQ record could not be stored: ${err instanceof Error ? err.message : String(err)}`;
      deps.logger.warn({ tenant: msg.tenant, seq: msg.streamSeq, error }, 'DLQ record not storable as is');
      await store(deps, SYSTEM_TENANT, unreadableRecord(msg, deps.stream, error));
      return;
    }
    throw err;
  }
}

async function store(deps: RecordDeadLetterDeps, tenant: string, record: DlqRecord): Promise<void> {
  const { inserted } = await recordExhausted(deps.pool, tenant, record);
  if (inserted) deps.metrics.recorded.inc({ tenant, reason: record.reason });
}

/** SQLSTATE class 22: the data itself is unacceptable, so the same statement fails every time. */
function isDataException(err: unknown): boolean {
  return pgErrorCode(err)?.startsWith('22') === true;
}
