import type { NatsConnection, Subscription } from 'nats';
import { z } from 'zod';
import type { Logger } from '@switchyard/runtime';
import { isValidTenantId } from '@switchyard/schema';
import { instanceIdSchema, pairingPhoneSchema, SessionNotFoundError, type SessionControl } from './session-control.ts';

/**
 * Request/reply subject the CLI (`switchyard session …`) uses. Operator-only by construction: it
 * lies outside the `v1.ingest.<tenant>.>` prefix that tenant NATS credentials may publish to.
 */
export const SESSION_CONTROL_SUBJECT = 'switchyard.capture.sessions.control';

const requestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('list'), tenant: z.string() }),
  z.object({ op: z.enum(['create', 'status', 'logout', 'delete']), tenant: z.string(), instance: instanceIdSchema }),
  z.object({
    op: z.literal('connect'),
    tenant: z.string(),
    instance: instanceIdSchema,
    pairing_phone: pairingPhoneSchema.optional(),
  }),
]);
type ControlRequest = z.infer<typeof requestSchema>;

type Reply = { ok: true; data: unknown } | { ok: false; code: string; message: string };

/** Answers session control requests in a queue group: one replica answers each. */
export function serveSessionControl(nc: NatsConnection, control: SessionControl, logger: Logger): Subscription {
  return nc.subscribe(SESSION_CONTROL_SUBJECT, {
    queue: 'capture',
    callback: (err, msg) => {
      if (err) {
        logger.warn({ err }, 'session control subscription error');
        return;
      }
      handle(msg.data)
        .then((reply) => msg.respond(new TextEncoder().encode(JSON.stringify(reply))))
        .catch((e: unknown) => logger.error({ err: e }, 'session control request failed'));
    },
  });

  async function handle(data: Uint8Array): Promise<Reply> {
    let parsed: ControlRequest;
    try {
      const result = requestSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
      if (!result.success) return { ok: false, code: 'VALIDATION_FAILED', message: z.prettifyError(result.error) };
      parsed = result.data;
    } catch {
      return { ok: false, code: 'VALIDATION_FAILED', message: 'request is not JSON' };
    }
    if (!isValidTenantId(parsed.tenant) || !(await control.tenantExists(parsed.tenant)))
      return { ok: false, code: 'NOT_FOUND', message: `no tenant ${parsed.tenant}` };
    try {
      return { ok: true, data: await run(parsed) };
    } catch (err) {
      if (err instanceof SessionNotFoundError) return { ok: false, code: 'NOT_FOUND', message: err.message };
      logger.error({ err, op: parsed.op }, 'session control failed');
      return { ok: false, code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
    }
  }

  async function run(req: ControlRequest): Promise<unknown> {
    switch (req.op) {
      case 'list':
        return { sessions: await control.list(req.tenant) };
      case 'create':
        return control.create(req.tenant, req.instance);
      case 'status':
        return { session: await control.status(req.tenant, req.instance) };
      case 'connect':
        return { session: await control.connect(req.tenant, req.instance, req.pairing_phone) };
      case 'logout':
        return { session: await control.logout(req.tenant, req.instance) };
      case 'delete':
        return { session: await control.delete(req.tenant, req.instance) };
    }
  }
}
