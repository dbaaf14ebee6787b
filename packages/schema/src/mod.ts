/**
 * @switchyard/schema — the contract between services: the v1 event envelope and its types,
 * ids, subject builders, the DLQ record, and JSON Schema output for tenants who publish.
 */
export {
  TENANT_ID_PATTERN,
  INSTANCE_ID_PATTERN,
  EVENT_ID_PATTERN,
  tenantIdSchema,
  instanceIdSchema,
  eventIdSchema,
  isValidTenantId,
  isValidInstanceId,
  assertTenantId,
  assertInstanceId,
  InvalidIdError,
  deriveEventId,
  newEventId,
} from './ids.ts';
export {
  SCHEMA_VERSION,
  eventSourceSchema,
  envelopeSchemas,
  eventEnvelopeSchema,
  parseEnvelope,
  validateEnvelope,
  encodeEnvelope,
  type EventSource,
  type EventEnvelope,
  type EnvelopeOf,
  type EnvelopeErrorCode,
  type ParseResult,
} from './envelope.ts';
export {
  eventDataSchemas,
  EVENT_TYPES,
  MEDIA_BEARING_TYPES,
  isEventType,
  type EventType,
  type EventData,
} from './events/registry.ts';
export { mediaDescriptorSchema, type MediaDescriptor } from './events/common.ts';
export type { MessageData, ReceiptData } from './events/message.ts';
export {
  STREAMS,
  STREAM_SUBJECTS,
  SYSTEM_TENANT,
  ingestSubject,
  eventsSubject,
  dlqSubject,
  webhookDeliverySubject,
  webhookEndpointFilter,
  webhookDurableName,
  WEBHOOKS_SUBJECTS,
  tenantFilterSubject,
  eventsTypeFilter,
  durableName,
  parseSubject,
  isSubjectParseError,
  type StreamKind,
  type ParsedSubject,
  type SubjectParseError,
} from './subjects.ts';
export {
  DLQ_REASONS,
  dlqReasonSchema,
  dlqRecordSchema,
  attemptSchema,
  type DlqReason,
  type DlqRecord,
  type Attempt,
} from './dlq.ts';
export { generateJsonSchemas } from './json-schema.ts';
export { HEADERS, headerValue } from './headers.ts';
