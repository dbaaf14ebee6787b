import { z } from 'zod';
import { forTenant, type Pool } from '@switchyard/db';
import { HttpError, ok, successResponse, tenantOf, type HttpServer } from '@switchyard/http';
import { instanceIdSchema } from '@switchyard/schema';
import { errors, tenantQuery } from './events-routes.ts';
import { withTenantSchema } from './tenant-schema.ts';

const page = {
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('At most this many rows (1-1000)'),
  offset: z.coerce.number().int().min(0).max(100_000).default(0).describe('Skip this many rows'),
};
const jid = z.string().min(3).max(256);
const rows = z.array(z.record(z.string(), z.unknown()));

/** Dates as RFC 3339 and bigints as numbers, the way the events API answers. */
function plain(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
}

/** Reads of the state tables: what a tenant's users ask of their WhatsApp history. */
export function registerStateRoutes(http: HttpServer, pool: Pool): void {
  http.get(
    '/api/messages',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List messages, newest first (current content and status)',
        tags: ['state'],
        querystring: z.strictObject({ ...tenantQuery, instance: instanceIdSchema.optional(), chat_jid: jid.optional(), ...page }),
        response: { 200: successResponse(z.object({ messages: rows, limit: z.number().int(), offset: z.number().int() })), ...errors },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const { instance, chat_jid, limit, offset } = request.query;
      const params: unknown[] = [];
      const conditions: string[] = [];
      if (instance !== undefined) conditions.push(`instance = $${params.push(instance)}`);
      if (chat_jid !== undefined) conditions.push(`chat_jid = $${params.push(chat_jid)}`);
      const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
      const result = await withTenantSchema(tenant, () =>
        forTenant(pool, tenant).query(
          `SELECT * FROM :SCHEMA.messages ${where} ORDER BY sent_at DESC NULLS LAST, instance, message_id
            LIMIT $${params.push(limit)} OFFSET $${params.push(offset)}`,
          params,
        ),
      );
      return ok({ messages: result.rows.map(plain), limit, offset });
    },
  );

  http.get(
    '/api/messages/:id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'One message with its status history (sent → delivered → read), edits and deletions',
        description: 'A message id is unique per instance; name the instance when two instances of the tenant saw the same message.',
        tags: ['state'],
        params: z.object({ id: z.string().min(1).max(256) }),
        querystring: z.strictObject({ ...tenantQuery, instance: instanceIdSchema.optional() }),
        response: { 200: successResponse(z.record(z.string(), z.unknown())), ...errors, 409: errors[400] },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const { id } = request.params;
      const { instance } = request.query;
      const db = forTenant(pool, tenant);
      const found = await withTenantSchema(tenant, () =>
        db.query(`SELECT * FROM :SCHEMA.messages WHERE message_id = $1 AND ($2::text IS NULL OR instance = $2) LIMIT 2`, [id, instance ?? null]),
      );
      if (found.rows.length === 0) throw new HttpError(404, 'NOT_FOUND', `no message ${id}`);
      if (found.rows.length > 1) {
        throw new HttpError(409, 'AMBIGUOUS_MESSAGE', `message ${id} was seen by several instances: name one with ?instance=`);
      }
      const message = found.rows[0]!;
      const [history, reactions, media] = await Promise.all([
        db.query(
          `SELECT event_id, kind, status, participant_jid, participant_lid, at, detail FROM :SCHEMA.message_history
            WHERE instance = $1 AND message_id = $2 ORDER BY at, event_id`,
          [message['instance'], id],
        ),
        db.query(`SELECT reactor, reactor_lid, text, removed, reacted_at FROM :SCHEMA.reactions WHERE instance = $1 AND message_id = $2 ORDER BY reacted_at`, [
          message['instance'],
          id,
        ]),
        db.query(`SELECT kind, mimetype, file_length, file_name, storage_url, sha256, size, stored_at FROM :SCHEMA.media WHERE instance = $1 AND message_id = $2`, [
          message['instance'],
          id,
        ]),
      ]);
      return ok({
        ...plain(message),
        history: history.rows.map(plain),
        reactions: reactions.rows.map(plain),
        media_stored: media.rows[0] === undefined ? null : plain(media.rows[0]),
      });
    },
  );

  http.get(
    '/api/chats',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List chats, most recently changed first',
        tags: ['state'],
        querystring: z.strictObject({ ...tenantQuery, instance: instanceIdSchema.optional(), include_deleted: z.enum(['true', 'false']).default('false'), ...page }),
        response: { 200: successResponse(z.object({ chats: rows, limit: z.number().int(), offset: z.number().int() })), ...errors },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const { instance, include_deleted, limit, offset } = request.query;
      const result = await withTenantSchema(tenant, () =>
        forTenant(pool, tenant).query(
          `SELECT instance, chat_jid, chat_lid, attrs, deleted_at, version_at AS changed_at FROM :SCHEMA.chats
            WHERE ($1::text IS NULL OR instance = $1) AND ($2 OR deleted_at IS NULL)
            ORDER BY version_at DESC, instance, chat_jid LIMIT $3 OFFSET $4`,
          [instance ?? null, include_deleted === 'true', limit, offset],
        ),
      );
      return ok({ chats: result.rows.map(plain), limit, offset });
    },
  );

  http.get(
    '/api/contacts',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List contacts (LID and phone-number JID where known)',
        tags: ['state'],
        querystring: z.strictObject({ ...tenantQuery, instance: instanceIdSchema.optional(), jid: jid.optional().describe('A LID or phone-number JID'), ...page }),
        response: { 200: successResponse(z.object({ contacts: rows, limit: z.number().int(), offset: z.number().int() })), ...errors },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const { instance, jid: wanted, limit, offset } = request.query;
      const result = await withTenantSchema(tenant, () =>
        forTenant(pool, tenant).query(
          `SELECT instance, contact_jid, contact_lid, phone_jid, attrs, version_at AS changed_at FROM :SCHEMA.contacts
            WHERE ($1::text IS NULL OR instance = $1)
              AND ($2::text IS NULL OR $2 IN (contact_jid, contact_lid, phone_jid))
            ORDER BY instance, contact_jid LIMIT $3 OFFSET $4`,
          [instance ?? null, wanted ?? null, limit, offset],
        ),
      );
      return ok({ contacts: result.rows.map(plain), limit, offset });
    },
  );
}
