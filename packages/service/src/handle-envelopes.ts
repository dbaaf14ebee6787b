import { deadLetter, type Handler, type InboundMessage, type Outcome } from '@switchyard/nats';
import { LogThrottle, type Logger } from '@switchyard/runtime';
import { parseEnvelope, type DlqReason, type EventEnvelope } from '@switchyard/schema';

/** What an EVENTS handler does with an envelope that parsed and belongs to the tenant it arrived for. */
export type EnvelopeHandler = (event: EventEnvelope, msg: InboundMessage) => Promise<Outcome>;

/**
 * Wraps an EVENTS handler so it only ever sees a valid envelope of the durable's own tenant.
 * The router validated the event already, but a consumer writing into `msg.tenant`'s schema or
 * posting to its endpoints trusts nothing it reads off the wire: an event that does not parse,
 * or that claims another tenant, is dead-lettered instead. No metric here: the consume loop
 * already counts every dead-letter in `dlq_published_total{service,tenant,reason}`.
 */
export function handleEnvelopes(logger: Logger, handle: EnvelopeHandler): Handler {
  return async (msg: InboundMessage): Promise<Outcome> => {
    const parsed = parseEnvelope(msg.data);
    if (!parsed.ok) return rejectMessage(logger, msg, parsed.code, parsed.message);
    const event = parsed.event;
    if (event.tenant !== msg.tenant) {
      return rejectMessage(logger, msg, 'TENANT_MISMATCH', `event of tenant ${event.tenant} consumed for ${msg.tenant} on ${msg.subject}`);
    }
    return handle(event, msg);
  };
}

/**
 * Dead-letters a message as bad input, with a warning an operator can trace to the subject.
 * For handlers that find the input bad only later (e.g. Postgres refusing the data).
 */
export function rejectMessage(logger: Logger, msg: InboundMessage, reason: DlqReason, error: string): Outcome {
  // One line per tenant and reason per window, then a count: a flood of bad events must not
  // become a flood of log lines (each one is in the DLQ with its raw bytes, and counted).
  rejections.warn(logger, `${msg.tenant}\u0000${reason}`, { tenant: msg.tenant, subject: msg.subject, reason, error }, 'event rejected', 'more events rejected for the same reason');
  return deadLetter(reason, error);
}

const rejections = new LogThrottle();
