import { z } from 'zod';
import type { TenantQueryable } from '@switchyard/db';

export const sessionStatusSchema = z
  .enum(['created', 'connecting', 'qr', 'open', 'disconnected', 'replaced', 'logged_out', 'stopped'])
  .describe('What the owning replica last observed');
export type SessionStatus = z.infer<typeof sessionStatusSchema>;

export const desiredStateSchema = z
  .enum(['connected', 'stopped', 'logged_out', 'deleted'])
  .describe('What the operator asked for; the owning replica converges on it');
export type DesiredState = z.infer<typeof desiredStateSchema>;

export interface SessionRecord {
  instance: string;
  desired: DesiredState;
  status: SessionStatus;
  qr: string | null;
  qrAt: Date | null;
  pairingPhone: string | null;
  pairingCode: string | null;
  statusCode: number | null;
  lastError: string | null;
  meJid: string | null;
  meLid: string | null;
  owner: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const rowSchema = z.object({
  instance: z.string(),
  desired: desiredStateSchema,
  status: sessionStatusSchema,
  qr: z.string().nullable(),
  qr_at: z.date().nullable(),
  pairing_phone: z.string().nullable(),
  pairing_code: z.string().nullable(),
  status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  me_jid: z.string().nullable(),
  me_lid: z.string().nullable(),
  owner: z.string().nullable(),
  created_at: z.date(),
  updated_at: z.date(),
});

const COLUMNS = `instance, desired, status, qr, qr_at, pairing_phone, pairing_code, status_code,
  last_error, me_jid, me_lid, owner, created_at, updated_at`;

function toRecord(row: unknown): SessionRecord {
  const r = rowSchema.parse(row);
  return {
    instance: r.instance,
    desired: r.desired,
    status: r.status,
    qr: r.qr,
    qrAt: r.qr_at,
    pairingPhone: r.pairing_phone,
    pairingCode: r.pairing_code,
    statusCode: r.status_code,
    lastError: r.last_error,
    meJid: r.me_jid,
    meLid: r.me_lid,
    owner: r.owner,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Creates the session (stopped) unless it exists; `created` says which. */
export async function createSession(
  db: TenantQueryable,
  instance: string,
): Promise<{ created: boolean; session: SessionRecord }> {
  const inserted = await db.query(
    `INSERT INTO :SCHEMA.wa_sessions (instance) VALUES ($1) ON CONFLICT (instance) DO NOTHING
     RETURNING ${COLUMNS}`,
    [instance],
  );
  if (inserted.rows[0] !== undefined) return { created: true, session: toRecord(inserted.rows[0]) };
  const existing = await getSession(db, instance);
  if (existing === null) throw new Error(`session ${instance} vanished while being created`);
  return { created: false, session: existing };
}

export async function getSession(db: TenantQueryable, instance: string): Promise<SessionRecord | null> {
  const result = await db.query(`SELECT ${COLUMNS} FROM :SCHEMA.wa_sessions WHERE instance = $1`, [
    instance,
  ]);
  return result.rows[0] === undefined ? null : toRecord(result.rows[0]);
}

export async function listSessions(db: TenantQueryable): Promise<SessionRecord[]> {
  const result = await db.query(`SELECT ${COLUMNS} FROM :SCHEMA.wa_sessions ORDER BY instance`);
  return result.rows.map(toRecord);
}

/**
 * Records what the operator asked for. `connect` may name a phone for the pairing-code flow (a
 * previous code is cleared either way, since WhatsApp issues a new one per attempt). Returns null
 * for an unknown session; a deleted one cannot be revived.
 */
export async function setDesired(
  db: TenantQueryable,
  instance: string,
  desired: DesiredState,
  pairingPhone?: string | null,
): Promise<SessionRecord | null> {
  const result = await db.query(
    `UPDATE :SCHEMA.wa_sessions
     SET desired = $2,
         pairing_phone = CASE WHEN $2 = 'connected' THEN $3 ELSE pairing_phone END,
         pairing_code = CASE WHEN $2 = 'connected' THEN NULL ELSE pairing_code END,
         updated_at = now()
     WHERE instance = $1 AND desired <> 'deleted'
     RETURNING ${COLUMNS}`,
    [instance, desired, pairingPhone ?? null],
  );
  return result.rows[0] === undefined ? null : toRecord(result.rows[0]);
}

/** What the owning replica observed; only the named fields change. */
export interface StatusPatch {
  status?: SessionStatus;
  desired?: DesiredState;
  qr?: string | null;
  pairingCode?: string | null;
  statusCode?: number | null;
  lastError?: string | null;
  meJid?: string | null;
  meLid?: string | null;
  owner?: string | null;
}

const PATCH_COLUMNS: Record<keyof StatusPatch, string> = {
  status: 'status',
  desired: 'desired',
  qr: 'qr',
  pairingCode: 'pairing_code',
  statusCode: 'status_code',
  lastError: 'last_error',
  meJid: 'me_jid',
  meLid: 'me_lid',
  owner: 'owner',
};

export async function recordStatus(
  db: TenantQueryable,
  instance: string,
  patch: StatusPatch,
): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [instance];
  for (const [key, column] of Object.entries(PATCH_COLUMNS) as Array<[keyof StatusPatch, string]>) {
    if (!(key in patch)) continue;
    params.push(patch[key]);
    sets.push(`${column} = $${params.length}`);
    if (key === 'qr') sets.push(`qr_at = CASE WHEN $${params.length}::text IS NULL THEN NULL ELSE now() END`);
  }
  if (sets.length === 0) return;
  await db.query(
    `UPDATE :SCHEMA.wa_sessions SET ${sets.join(', ')}, updated_at = now() WHERE instance = $1`,
    params,
  );
}

/** Removes the session row (its auth state is cleared by the owner before this). */
export async function deleteSession(db: TenantQueryable, instance: string): Promise<boolean> {
  const result = await db.query(`DELETE FROM :SCHEMA.wa_sessions WHERE instance = $1`, [instance]);
  return (result.rowCount ?? 0) > 0;
}

/**
 * The instances capture must run in this tenant: every session, and any instance whose outbox
 * still holds events (a deleted session's last events, or a session driven through `attach`).
 */
export async function listCaptureInstances(db: TenantQueryable): Promise<string[]> {
  const result = await db.query<{ instance: string }>(
    `SELECT instance FROM :SCHEMA.wa_sessions
     UNION SELECT DISTINCT instance FROM :SCHEMA.capture_outbox`,
  );
  return result.rows.map((r) => r.instance);
}
