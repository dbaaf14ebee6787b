import { buildDlqRecord, type InboundMessage } from '@switchyard/nats';
import { durableName, type DlqRecord } from '@switchyard/schema';

export const SERVICE = 'dlq-worker';

/**
 * A DlqRecord for a DLQ message that could not be used as one (not a record, or not storable):
 * the whole DLQ message becomes the payload, so nothing is lost and an SRE sees what arrived.
 * Its key (DLQ stream seq + this worker's durable) makes redeliveries idempotent and can never
 * collide with a real record, since this worker never dead-letters.
 */
export function unreadableRecord(msg: InboundMessage, stream: string, error: string): DlqRecord {
  return buildDlqRecord({
    tenant: msg.tenant,
    service: SERVICE,
    sourceStream: stream,
    sourceSubject: msg.subject,
    sourceSeq: msg.streamSeq,
    consumer: durableName(SERVICE, msg.tenant),
    reason: 'SCHEMA_INVALID',
    error,
    retryable: false,
    deliveries: msg.deliveryCount,
    headers: msg.headers,
    payload: msg.data,
  });
}
