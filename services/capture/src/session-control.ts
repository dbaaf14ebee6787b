import { z } from 'zod';
import { forTenant, getTenant, type Pool } from '@switchyard/db';
import { isValidInstanceId } from '@switchyard/schema';
import {
  createSession,
  desiredStateSchema,
  getSession,
  listSessions,
  sessionStatusSchema,
  setDesired,
  type DesiredState,
  type SessionRecord,
} from './session-store.ts';

/** Core NATS subject on which a session change is announced, so its owner reconciles at once. */
export const SESSION_CHANGED_SUBJECT = 'switchyard.capture.sessions.changed';

export const instanceIdSchema = z
  .string()
  .refine(isValidInstanceId, 'instance id must match ^[a-z0-9][a-z0-9_-]{0,62}$')
  .describe('WhatsApp instance id (one number) within the tenant');

export const pairingPhoneSchema = z
  .string()
  .regex(/^\d{7,15}$/, 'phone number in international format, digits only (no +)')
  .describe('Request a pairing code for this phone number instead of scanning the QR');

/** A session as the API and the CLI show it. */
export const sessionViewSchema = z.object({
  instance: z.string(),
  desired: desiredStateSchema,
  status: sessionStatusSchema,
  qr: z.string().nullable().describe('The current QR code payload while pairing (render it as a QR)'),
  qr_at: z.string().nullable(),
  pairing_phone: z.string().nullable(),
  pairing_code: z.string().nullable().describe('The code to enter on the phone, when connecting with a pairing phone'),
  status_code: z.number().int().nullable().describe('DisconnectReason status of the last close'),
  last_error: z.string().nullable(),
  me: z.object({ jid: z.string().nullable(), lid: z.string().nullable() }),
  owner: z.string().nullable().describe('The capture replica holding the socket'),
  created_at: z.string(),
  updated_at: z.string(),
});
export type SessionView = z.infer<typeof sessionViewSchema>;

export function toView(s: SessionRecord): SessionView {
  return {
    instance: s.instance,
    desired: s.desired,
    status: s.status,
    qr: s.qr,
    qr_at: s.qrAt?.toISOString() ?? null,
    pairing_phone: s.pairingPhone,
    pairing_code: s.pairingCode,
    status_code: s.statusCode,
    last_error: s.lastError,
    me: { jid: s.meJid, lid: s.meLid },
    owner: s.owner,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

export class SessionNotFoundError extends Error {
  override name = 'SessionNotFoundError';
  constructor(readonly tenant: string, readonly instance: string) {
    super(`tenant ${tenant} has no session ${instance}`);
  }
}

export interface SessionControl {
  create(tenant: string, instance: string): Promise<{ created: boolean; session: SessionView }>;
  list(tenant: string): Promise<SessionView[]>;
  /** Throws SessionNotFoundError. */
  status(tenant: string, instance: string): Promise<SessionView>;
  connect(tenant: string, instance: string, pairingPhone?: string): Promise<SessionView>;
  logout(tenant: string, instance: string): Promise<SessionView>;
  delete(tenant: string, instance: string): Promise<SessionView>;
  /** Whether the tenant is provisioned (the NATS control path checks; API keys imply it). */
  tenantExists(tenant: string): Promise<boolean>;
}

/**
 * The operations behind `/api/sessions` and the CLI. They only record what the operator asked
 * for (`wa_sessions.desired`) and announce it; the replica holding the instance's lease acts on
 * it (opening a socket, logging out through it), whichever replica answered the request.
 */
export function createSessionControl(
  pool: Pool,
  announce: (tenant: string, instance: string) => void,
): SessionControl {
  async function desire(
    tenant: string,
    instance: string,
    desired: DesiredState,
    pairingPhone?: string,
  ): Promise<SessionView> {
    const updated = await setDesired(forTenant(pool, tenant), instance, desired, pairingPhone);
    if (updated === null) throw new SessionNotFoundError(tenant, instance);
    announce(tenant, instance);
    return toView(updated);
  }

  return {
    async create(tenant, instance) {
      const result = await createSession(forTenant(pool, tenant), instance);
      if (result.created) announce(tenant, instance);
      return { created: result.created, session: toView(result.session) };
    },
    async list(tenant) {
      return (await listSessions(forTenant(pool, tenant))).map(toView);
    },
    async status(tenant, instance) {
      const session = await getSession(forTenant(pool, tenant), instance);
      if (session === null) throw new SessionNotFoundError(tenant, instance);
      return toView(session);
    },
    connect: (tenant, instance, pairingPhone) => desire(tenant, instance, 'connected', pairingPhone),
    logout: (tenant, instance) => desire(tenant, instance, 'logged_out'),
    delete: (tenant, instance) => desire(tenant, instance, 'deleted'),
    async tenantExists(tenant) {
      return (await getTenant(pool, tenant)) !== null;
    },
  };
}
