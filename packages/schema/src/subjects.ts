import { assertInstanceId, assertTenantId, isValidInstanceId, isValidTenantId } from './ids.ts';

/**
 * Subjects and stream names are built only here, so every service agrees on the layout:
 *   v1.ingest.<tenant>.<instance>.<type…>   stream INGEST   (capture, media, tenants → router)
 *   v1.events.<tenant>.<instance>.<type…>   stream EVENTS   (router → persistence, media, webhooks)
 *   v1.dlq.<tenant>                         stream DLQ      (any consumer → dlq-worker)
 */
export const STREAMS = { ingest: 'INGEST', events: 'EVENTS', dlq: 'DLQ' } as const;
export type StreamKind = keyof typeof STREAMS;

const PREFIX = { ingest: 'v1.ingest', events: 'v1.events', dlq: 'v1.dlq', webhooks: 'v1.webhooks' } as const;

/** Webhook endpoint ids as they appear in subjects and durable names (`ep_<hex>`). */
const ENDPOINT_ID_PATTERN = /^[a-z0-9_]{1,64}$/;

function assertEndpointId(id: string): string {
  if (!ENDPOINT_ID_PATTERN.test(id)) throw new Error(`invalid endpoint id for a subject: ${JSON.stringify(id)}`);
  return id;
}

/**
 * One delivery of an event to one webhook endpoint (stream WEBHOOKS, webhook-dispatch's own):
 * `v1.webhooks.<tenant>.<endpoint>.<instance>`, so each endpoint has its own durable and order
 * per instance.
 */
export function webhookDeliverySubject(tenant: string, endpointId: string, instance: string): string {
  return `${PREFIX.webhooks}.${assertTenantId(tenant)}.${assertEndpointId(endpointId)}.${assertInstanceId(instance)}`;
}

/** The filter of one endpoint's durable on WEBHOOKS. */
export function webhookEndpointFilter(tenant: string, endpointId: string): string {
  return `${PREFIX.webhooks}.${assertTenantId(tenant)}.${assertEndpointId(endpointId)}.*`;
}

/** One durable per endpoint on WEBHOOKS; replicas of webhook-dispatch share it. */
export function webhookDurableName(tenant: string, endpointId: string): string {
  return `webhook_dispatch_${assertTenantId(tenant)}_${assertEndpointId(endpointId)}`;
}

/** Everything the WEBHOOKS stream holds. */
export const WEBHOOKS_SUBJECTS = [`${PREFIX.webhooks}.>`];

/**
 * Messages that cannot be attributed to a valid tenant (a subject with a bad tenant id) are
 * dead-lettered here. The leading underscore can never be a tenant id.
 */
export const SYSTEM_TENANT = '_system';

const TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

function assertType(type: string): string {
  if (!TYPE_PATTERN.test(type)) throw new Error(`invalid event type for a subject: ${JSON.stringify(type)}`);
  return type;
}

export function ingestSubject(tenant: string, instance: string, type: string): string {
  return `${PREFIX.ingest}.${assertTenantId(tenant)}.${assertInstanceId(instance)}.${assertType(type)}`;
}

export function eventsSubject(tenant: string, instance: string, type: string): string {
  return `${PREFIX.events}.${assertTenantId(tenant)}.${assertInstanceId(instance)}.${assertType(type)}`;
}

export function dlqSubject(tenant: string): string {
  return tenant === SYSTEM_TENANT ? `${PREFIX.dlq}.${SYSTEM_TENANT}` : `${PREFIX.dlq}.${assertTenantId(tenant)}`;
}

/** The subjects each stream captures. */
export const STREAM_SUBJECTS: Record<StreamKind, string[]> = {
  ingest: [`${PREFIX.ingest}.>`],
  events: [`${PREFIX.events}.>`],
  dlq: [`${PREFIX.dlq}.*`],
};

/** A tenant's EVENTS messages of one type, from every instance: `v1.events.<tenant>.*.<type>`. */
export function eventsTypeFilter(tenant: string, type: string): string {
  return `${PREFIX.events}.${assertTenantId(tenant)}.*.${assertType(type)}`;
}

/** The filter of a tenant's durable consumer on a stream. */
export function tenantFilterSubject(kind: StreamKind, tenant: string): string {
  return kind === 'dlq' ? dlqSubject(tenant) : `${PREFIX[kind]}.${assertTenantId(tenant)}.>`;
}

/** Durable consumer names carry the service and the tenant; replicas of a service share one. */
export function durableName(service: string, tenant: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(service)) throw new Error(`invalid service name ${JSON.stringify(service)}`);
  return `${service.replaceAll('-', '_')}_${tenant === SYSTEM_TENANT ? SYSTEM_TENANT : assertTenantId(tenant)}`;
}

export type ParsedSubject =
  | { kind: 'ingest' | 'events'; tenant: string; instance: string; type: string }
  | { kind: 'dlq'; tenant: string }
  | { kind: 'webhooks'; tenant: string; endpoint: string; instance: string };

export type SubjectParseError = { error: 'NOT_V1' | 'INVALID_TENANT' | 'INVALID_INSTANCE' | 'INVALID_TYPE'; message: string };

/** Parses a subject from the wire without trusting it. */
export function parseSubject(subject: string): ParsedSubject | SubjectParseError {
  const tokens = subject.split('.');
  const [version, kind, tenant, instance, ...typeTokens] = tokens;
  if (version !== 'v1' || (kind !== 'ingest' && kind !== 'events' && kind !== 'dlq' && kind !== 'webhooks') || tenant === undefined) {
    return { error: 'NOT_V1', message: `not a v1 switchyard subject: ${subject}` };
  }
  if (kind === 'webhooks') return parseWebhooksSubject(subject, tokens);
  if (kind === 'dlq') {
    if (tenant !== SYSTEM_TENANT && !isValidTenantId(tenant)) {
      return { error: 'INVALID_TENANT', message: `invalid tenant id in subject: ${subject}` };
    }
    return { kind, tenant };
  }
  if (!isValidTenantId(tenant)) return { error: 'INVALID_TENANT', message: `invalid tenant id in subject: ${subject}` };
  if (instance === undefined || !isValidInstanceId(instance)) {
    return { error: 'INVALID_INSTANCE', message: `invalid instance id in subject: ${subject}` };
  }
  const type = typeTokens.join('.');
  if (!TYPE_PATTERN.test(type)) return { error: 'INVALID_TYPE', message: `invalid event type in subject: ${subject}` };
  return { kind, tenant, instance, type };
}

function parseWebhooksSubject(subject: string, tokens: string[]): ParsedSubject | SubjectParseError {
  const [, , tenant, endpoint, instance, ...rest] = tokens;
  if (tenant === undefined || !isValidTenantId(tenant)) return { error: 'INVALID_TENANT', message: `invalid tenant id in subject: ${subject}` };
  if (endpoint === undefined || !ENDPOINT_ID_PATTERN.test(endpoint) || instance === undefined || !isValidInstanceId(instance) || rest.length > 0) {
    return { error: 'INVALID_INSTANCE', message: `not a webhook delivery subject: ${subject}` };
  }
  return { kind: 'webhooks', tenant, endpoint, instance };
}

export function isSubjectParseError(value: ParsedSubject | SubjectParseError): value is SubjectParseError {
  return 'error' in value;
}
