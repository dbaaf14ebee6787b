import type { JetStreamClient } from 'nats';
import { ack, deadLetter, publishEvent, type Handler, type InboundMessage, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { encodeEnvelope, eventsSubject, isSubjectParseError, parseEnvelope, parseSubject } from '@switchyard/schema';
import type { RouterMetrics } from './metrics.ts';
import type { SequenceGapTracker } from './sequence-gaps.ts';

export interface RouteIngestDeps {
  js: JetStreamClient;
  logger: Logger;
  metrics: RouterMetrics;
  maxPayloadBytes: number;
  /** Detects gaps in each instance's seq before its event reaches EVENTS. */
  gaps?: SequenceGapTracker;
}

/**
 * The gate every event passes: INGEST → validate → EVENTS. Bad input is dead-lettered at once
 * (no retries: it will not get better) with a specific reason and its raw bytes; a publish
 * failure is thrown, so JetStream redelivers and nothing is lost.
 */
export function routeIngest(deps: RouteIngestDeps): Handler {
  return async (msg: InboundMessage): Promise<Outcome> => {
    const refused = refuse(deps, msg);
    if (refused) return refused;
    const parsed = parseEnvelope(msg.data);
    if (!parsed.ok) return reject(deps, msg, parsed.code, parsed.message);

    const subject = parseSubject(msg.subject);
    const event = parsed.event;
    if (isSubjectParseError(subject) || subject.kind !== 'ingest') {
      return reject(deps, msg, 'INVALID_SUBJECT', `not an ingest subject: ${msg.subject}`);
    }
    if (event.tenant !== subject.tenant || event.tenant !== msg.tenant) {
      return reject(deps, msg, 'TENANT_MISMATCH', `event tenant ${event.tenant} published on ${msg.subject}`);
    }
    if (event.instance !== subject.instance || event.type !== subject.type) {
      return reject(deps, msg, 'SCHEMA_INVALID', `event ${event.instance}/${event.type} does not match subject ${msg.subject}`);
    }

    if (event.seq !== undefined) await deps.gaps?.check(event.tenant, event.instance, event.seq);
    // Re-encoding normalises the event (unknown keys stripped, canonical field order); the event
    // id is the Nats-Msg-Id, so a redelivered INGEST message is deduplicated by EVENTS.
    const result = await publishEvent(deps.js, eventsSubject(event.tenant, event.instance, event.type), encodeEnvelope(event), {
      msgId: event.id,
    });
    if (event.seq !== undefined) deps.gaps?.routed(event.tenant, event.instance, event.seq);
    deps.metrics.routed.inc({ tenant: event.tenant, type: event.type, duplicate: String(result.duplicate) });
    return ack();
  };
}

function refuse(deps: RouteIngestDeps, msg: InboundMessage): Outcome | undefined {
  if (msg.data.byteLength > deps.maxPayloadBytes) {
    return reject(deps, msg, 'PAYLOAD_TOO_LARGE', `payload of ${msg.data.byteLength} bytes exceeds ${deps.maxPayloadBytes}`);
  }
  return undefined;
}

function reject(
  deps: RouteIngestDeps,
  msg: InboundMessage,
  reason: Parameters<typeof deadLetter>[0],
  error: string,
): Outcome {
  deps.metrics.rejected.inc({ tenant: msg.tenant, reason });
  // Debug only: the consume loop logs every dead-letter at warn already, and a poison flood
  // must not double the log volume (and CPU) the other tenants share.
  deps.logger.debug({ tenant: msg.tenant, subject: msg.subject, reason, error }, 'ingest event rejected');
  return deadLetter(reason, error);
}
