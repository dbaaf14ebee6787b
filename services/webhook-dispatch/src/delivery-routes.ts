import { getEndpoint, type Pool } from '@switchyard/db';
import { errorResponses, HttpError, type HttpServer, ok, operatorTenantQuery, successResponse, tenantOf } from '@switchyard/http';
import { publishWebhookDelivery, readStoredMessage, WEBHOOKS_STREAM } from '@switchyard/nats';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { z } from 'zod';
import type { DeliveryLog, DeliveryRecord } from './delivery-log.ts';
import { endpointParams } from './endpoint-routes.ts';

export interface DeliveryRoutesDeps {
  pool: Pool;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: DeliveryLog;
  stream?: string;
}

const statusSchema = z.enum(['pending', 'retrying', 'delivered', 'exhausted']);
const tenantQuery = operatorTenantQuery;
const deliveryParams = endpointParams.extend({ event_id: z.string().min(1).max(200).describe('The event id (webhook-id)') });
const errors = errorResponses(400, 401, 403, 404, 409);
const RESEND_LIMIT = 10_000;

const deliverySchema = z.object({
  event_id: z.string(),
  event_type: z.string(),
  instance: z.string(),
  seq: z.number().int(),
  status: statusSchema,
  attempts: z.number().int().describe('Attempts in the current run (a re-send starts a new run)'),
  next_attempt_at: z.iso.datetime().nullable(),
  last_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
  delivered_at: z.iso.datetime().nullable(),
});
const attemptSchema = z.object({
  attempt: z.number().int(),
  attempted_at: z.iso.datetime(),
  outcome: z.string().describe('delivered, http_error, timeout, network_error or refused (SSRF guard)'),
  status: z.number().int().nullable(),
  latency_ms: z.number().int(),
  error: z.string().nullable(),
  response_body: z.string().nullable().describe('At most 1 KiB of the answer'),
});

function toView(record: DeliveryRecord): z.infer<typeof deliverySchema> {
  return {
    event_id: record.eventId,
    event_type: record.eventType,
    instance: record.instance,
    seq: record.seq,
    status: record.status,
    attempts: record.attempts,
    next_attempt_at: record.nextAttemptAt?.toISOString() ?? null,
    last_status: record.lastStatus,
    last_error: record.lastError,
    created_at: record.createdAt.toISOString(),
    updated_at: record.updatedAt.toISOString(),
    delivered_at: record.deliveredAt?.toISOString() ?? null,
  };
}

/**
 * The delivery log of an endpoint (read keys) and re-sends (admin keys). A re-send publishes the
 * delivery again to WEBHOOKS with a fresh Nats-Msg-Id, starting a new run of the schedule; the
 * payload comes from the original WEBHOOKS message, so it is possible while the stream keeps it
 * (7 days). A re-sent event goes out after events the endpoint has already been sent.
 */
export function registerDeliveryRoutes(http: HttpServer, deps: DeliveryRoutesDeps): void {
  const { pool, log } = deps;
  const stream = deps.stream ?? WEBHOOKS_STREAM;
  const endpointOf = async (tenant: string, id: string): Promise<void> => {
    if ((await getEndpoint(pool, tenant, id)) === null) throw new HttpError(404, 'NOT_FOUND', `no endpoint ${id}`);
  };

  const resend = async (tenant: string, record: DeliveryRecord, now: Date): Promise<void> => {
    const stored = await readStoredMessage(deps.jsm, stream, record.streamSeq);
    if (stored === undefined) throw new HttpError(409, 'PAYLOAD_EXPIRED', `the payload of ${record.eventId} is no longer in the ${stream} stream`);
    await publishWebhookDelivery(
      deps.js,
      { tenant, endpointId: record.endpointId, instance: record.instance, eventId: record.eventId, eventType: record.eventType, seq: record.seq, body: stored.data, msgId: `${record.eventId}:${record.endpointId}:resend:${now.getTime()}` },
      stream,
    );
  };

  http.get(
    '/api/webhooks/endpoints/:id/deliveries',
    {
      config: { auth: 'read' },
      schema: {
        summary: "An endpoint's delivery log, most recently updated first",
        tags: ['deliveries'],
        params: endpointParams,
        querystring: z.object({
          ...tenantQuery,
          status: statusSchema.optional(),
          since: z.iso.datetime().optional().describe('Only deliveries updated at or after this instant'),
          before: z.iso.datetime().optional().describe('Only deliveries updated before this instant (paging: the last updated_at)'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: { 200: successResponse(z.object({ deliveries: z.array(deliverySchema) })), ...errors },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      await endpointOf(tenant, request.params.id);
      const { status, since, before, limit } = request.query;
      const rows = await log.list(tenant, request.params.id, {
        limit,
        ...(status ? { status } : {}),
        ...(since ? { since: new Date(since) } : {}),
        ...(before ? { before: new Date(before) } : {}),
      });
      return ok({ deliveries: rows.map(toView) });
    },
  );

  http.get(
    '/api/webhooks/endpoints/:id/deliveries/:event_id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'One delivery with every attempt (status code, latency, start of the answer)',
        tags: ['deliveries'],
        params: deliveryParams,
        querystring: z.object(tenantQuery),
        response: { 200: successResponse(deliverySchema.extend({ attempt_history: z.array(attemptSchema) })), ...errors },
      },
    },
    async (request) => {
      const key = { tenant: tenantOf(request), endpointId: request.params.id, eventId: request.params.event_id };
      const record = await log.get(key);
      if (record === undefined) throw new HttpError(404, 'NOT_FOUND', `no delivery of ${key.eventId} to ${key.endpointId}`);
      const attempts = await log.attempts(key);
      return ok({
        ...toView(record),
        attempt_history: attempts.map((a) => ({
          attempt: a.attempt,
          attempted_at: a.attemptedAt.toISOString(),
          outcome: a.outcome,
          status: a.status,
          latency_ms: a.latencyMs,
          error: a.error,
          response_body: a.responseBody,
        })),
      });
    },
  );

  http.post(
    '/api/webhooks/endpoints/:id/deliveries/:event_id/retry',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Send one delivery again (exhausted or delivered ones; a delivery still retrying is left to its schedule)',
        tags: ['deliveries'],
        params: deliveryParams,
        querystring: z.object(tenantQuery),
        response: { 202: successResponse(z.object({ event_id: z.string(), resent: z.literal(true) })), ...errors },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const record = await log.get({ tenant, endpointId: request.params.id, eventId: request.params.event_id });
      if (record === undefined) throw new HttpError(404, 'NOT_FOUND', `no delivery of ${request.params.event_id} to ${request.params.id}`);
      if (record.status !== 'exhausted' && record.status !== 'delivered') {
        throw new HttpError(409, 'CONFLICT', `delivery is ${record.status}; it is still being attempted`);
      }
      await resend(tenant, record, new Date());
      return reply.code(202).send(ok({ event_id: record.eventId, resent: true as const }));
    },
  );

  http.post(
    '/api/webhooks/endpoints/:id/resend-failed',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Send again every delivery of this endpoint that was exhausted since a given instant',
        description: `Re-sent in each instance's seq order; at most ${RESEND_LIMIT} per call (call again with a later since for more).`,
        tags: ['deliveries'],
        params: endpointParams,
        querystring: z.object(tenantQuery),
        body: z.object({ since: z.iso.datetime().describe('Deliveries exhausted at or after this instant') }),
        response: { 202: successResponse(z.object({ resent: z.number().int(), skipped_expired: z.number().int() })), ...errors },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      await endpointOf(tenant, request.params.id);
      const failed = await log.list(tenant, request.params.id, { status: 'exhausted', since: new Date(request.body.since), limit: RESEND_LIMIT });
      failed.sort((a, b) => a.instance.localeCompare(b.instance) || a.seq - b.seq);
      const now = new Date();
      let resent = 0;
      let expired = 0;
      for (const record of failed) {
        try {
          await resend(tenant, record, now);
          resent++;
        } catch (err) {
          if (!(err instanceof HttpError && err.code === 'PAYLOAD_EXPIRED')) throw err;
          expired++;
        }
      }
      return reply.code(202).send(ok({ resent, skipped_expired: expired }));
    },
  );
}
