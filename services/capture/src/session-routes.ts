import { z } from 'zod';
import { errorResponses, HttpError, type HttpServer, ok, operatorTenantQuery, successResponse, tenantOf } from '@switchyard/http';
import {
  instanceIdSchema,
  pairingPhoneSchema,
  SessionNotFoundError,
  sessionViewSchema,
  type SessionControl,
} from './session-control.ts';

const tenantQuery = operatorTenantQuery;
const instanceParams = z.object({ instance: instanceIdSchema });
const errors = errorResponses(400, 401, 403, 404);
const one = successResponse(z.object({ session: sessionViewSchema }));

/**
 * `/api/sessions`: a tenant's WhatsApp sessions. Changing one needs an admin key; reading one
 * (status, the QR while pairing) a read key. Changes are accepted (202) and carried out by the
 * replica holding the instance: poll the status, or watch `session.*` events.
 */
export function registerSessionRoutes(http: HttpServer, control: SessionControl): void {
  const found = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof SessionNotFoundError) throw new HttpError(404, 'NOT_FOUND', err.message);
      throw err;
    }
  };

  http.post(
    '/api/sessions',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Create a session (stopped until connected)',
        tags: ['sessions'],
        querystring: z.object(tenantQuery),
        body: z.object({ instance: instanceIdSchema }),
        response: { 200: one, 201: one, ...errors },
      },
    },
    async (request, reply) => {
      const { created, session } = await control.create(tenantOf(request), request.body.instance);
      void reply.code(created ? 201 : 200);
      return ok({ session });
    },
  );

  http.get(
    '/api/sessions',
    {
      config: { auth: 'read' },
      schema: {
        summary: "List the tenant's sessions",
        tags: ['sessions'],
        querystring: z.object(tenantQuery),
        response: { 200: successResponse(z.object({ sessions: z.array(sessionViewSchema) })), ...errors },
      },
    },
    async (request) => ok({ sessions: await control.list(tenantOf(request)) }),
  );

  http.get(
    '/api/sessions/:instance',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Session status, with the QR code or pairing code while pairing',
        tags: ['sessions'],
        params: instanceParams,
        querystring: z.object(tenantQuery),
        response: { 200: one, ...errors },
      },
    },
    async (request) => ok({ session: await found(() => control.status(tenantOf(request), request.params.instance)) }),
  );

  http.post(
    '/api/sessions/:instance/connect',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Connect: open the socket (QR pairing, or a pairing code for pairing_phone)',
        description: 'Accepted at once; the QR or pairing code appears in the status and as session.qr events.',
        tags: ['sessions'],
        params: instanceParams,
        querystring: z.object(tenantQuery),
        body: z.object({ pairing_phone: pairingPhoneSchema.optional() }).optional(),
        response: { 202: one, ...errors },
      },
    },
    async (request, reply) => {
      const phone = request.body?.pairing_phone;
      const session = await found(() => control.connect(tenantOf(request), request.params.instance, phone));
      void reply.code(202);
      return ok({ session });
    },
  );

  http.post(
    '/api/sessions/:instance/logout',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Log the device out on WhatsApp and forget its credentials',
        tags: ['sessions'],
        params: instanceParams,
        querystring: z.object(tenantQuery),
        response: { 202: one, ...errors },
      },
    },
    async (request, reply) => {
      const session = await found(() => control.logout(tenantOf(request), request.params.instance));
      void reply.code(202);
      return ok({ session });
    },
  );

  http.delete(
    '/api/sessions/:instance',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Log out and delete the session (its captured events are still delivered)',
        tags: ['sessions'],
        params: instanceParams,
        querystring: z.object(tenantQuery),
        response: { 202: one, ...errors },
      },
    },
    async (request, reply) => {
      const session = await found(() => control.delete(tenantOf(request), request.params.instance));
      void reply.code(202);
      return ok({ session });
    },
  );
}
