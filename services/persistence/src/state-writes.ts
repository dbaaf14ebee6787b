import type { TenantQueryable } from '@switchyard/db';
import type { EntityPatch, StateChanges } from './state-changes.ts';

/** One SQL statement with its parameters, built ahead of the transaction that runs it. */
export interface Statement {
  text: string;
  params: unknown[];
  /**
   * Updates rows an earlier statement of the same batch may have inserted (an edit of a message,
   * a LID mapping of a contact), so it must run after them, as a statement of its own.
   */
  afterUpserts?: true;
}

/**
 * A batch's state changes as statements, one bulk statement per table (rows passed as one JSON
 * text and expanded with jsonb_to_recordset: Postgres parses the text once, faster than json_to_recordset or unnest of text arrays). Every statement is an
 * idempotent upsert whose conflict rule is the same as the in-memory fold: newer-or-equal version
 * wins, status only rises, the first content wins unless an edit is newer. Built outside the
 * transaction (the consume loop prepares the next batch while the current one commits); run in
 * this order inside the batch's transaction.
 */
export function stateStatements(changes: StateChanges): Statement[] {
  const out: Statement[] = [];
  // Onboarding first: "unknown" means unknown before this batch's own contacts and messages land.
  if (changes.onboarding.size > 0) out.push(onboardingStatement(changes));
  if (changes.contacts.size > 0) out.push(entityStatement(CONTACTS, changes.contacts));
  if (changes.lidMappings.length > 0) out.push(lidMappingsStatement(changes));
  if (changes.chats.size > 0) out.push(entityStatement(CHATS, changes.chats));
  if (changes.groups.size > 0) out.push(entityStatement(GROUPS, changes.groups));
  if (changes.participants.size > 0) out.push(participantsStatement(changes));
  if (changes.messages.size > 0) out.push(...messageStatements(changes));
  if (changes.history.length > 0) out.push(historyStatement(changes));
  if (changes.reactions.size > 0) out.push(reactionsStatement(changes));
  if (changes.media.size > 0) out.push(mediaStatement(changes));
  return out;
}

/** Runs a batch's state statements in order, inside its transaction. */
export async function runStatements(tx: TenantQueryable, statements: readonly Statement[]): Promise<void> {
  for (const statement of statements) await tx.query(statement.text, statement.params);
}

/** Writes a batch's state changes (see `stateStatements`). */
export async function writeStateChanges(tx: TenantQueryable, changes: StateChanges): Promise<void> {
  await runStatements(tx, stateStatements(changes));
}

/**
 * A statement whose one parameter is `rows` as a JSON array (expanded by jsonb_to_recordset).
 * Null fields are left out: a missing key is NULL to jsonb_to_recordset as a JSON null is, and a
 * message row is half nulls, so the text Postgres parses shrinks by a fifth.
 */
const statement = (text: string, rows: readonly object[], options: { afterUpserts?: true } = {}): Statement => ({
  text,
  params: [JSON.stringify(rows.map(withoutNulls))],
  ...options,
});

/** The row without its top-level null fields (values inside jsonb columns are data, kept as they are). */
function withoutNulls(row: object): Record<string, unknown> {
  const fields = row as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // for…in over plain objects: cheaper than Object.entries in this hot path (every row of every batch).
  for (const key in fields) {
    const value = fields[key];
    if (value !== null && value !== undefined) out[key] = value;
  }
  return out;
}

function messageStatements(changes: StateChanges): Statement[] {
  const rows = [...changes.messages.values()].map((p) => ({
    instance: p.instance,
    message_id: p.message_id,
    chat_jid: p.chat_jid,
    ...(p.content ?? {}),
    status: p.status?.status ?? 'unknown',
    status_rank: p.status?.rank ?? 0,
    status_at: p.status?.at ?? null,
    deleted_at: p.deletion?.deleted_at ?? null,
    deleted_scope: p.deletion?.deleted_scope ?? null,
    deleted_by_jid: p.deletion?.deleted_by_jid ?? null,
    deleted_by_lid: p.deletion?.deleted_by_lid ?? null,
  }));
  const upsert = statement(
    `INSERT INTO :SCHEMA.messages AS m (instance, message_id, chat_jid, chat_lid, sender_jid, sender_lid, from_me, push_name,
       message_type, text, media, quoted_message_id, sent_at, content_event_id, status, status_rank, status_at,
       deleted_at, deleted_scope, deleted_by_jid, deleted_by_lid)
     SELECT instance, message_id, chat_jid, chat_lid, sender_jid, sender_lid, from_me, push_name,
       message_type, text, media, quoted_message_id, sent_at, content_event_id, status, status_rank, status_at,
       deleted_at, deleted_scope, deleted_by_jid, deleted_by_lid
       FROM jsonb_to_recordset($1::jsonb) AS r(instance text, message_id text, chat_jid text, chat_lid text, sender_jid text,
         sender_lid text, from_me boolean, push_name text, message_type text, text text, media jsonb, quoted_message_id text,
         sent_at timestamptz, content_event_id text, status text, status_rank smallint, status_at timestamptz,
         deleted_at timestamptz, deleted_scope text, deleted_by_jid text, deleted_by_lid text)
     ON CONFLICT (instance, message_id) DO UPDATE SET
       -- Content: the first message event sets it (a receipt may have created the row before);
       -- once edited, the edit's text stays.
       chat_lid = coalesce(m.chat_lid, excluded.chat_lid),
       sender_jid = coalesce(m.sender_jid, excluded.sender_jid),
       sender_lid = coalesce(m.sender_lid, excluded.sender_lid),
       from_me = coalesce(m.from_me, excluded.from_me),
       push_name = coalesce(m.push_name, excluded.push_name),
       quoted_message_id = coalesce(m.quoted_message_id, excluded.quoted_message_id),
       sent_at = coalesce(m.sent_at, excluded.sent_at),
       message_type = CASE WHEN m.content_event_id IS NULL AND m.edited_at IS NULL AND excluded.content_event_id IS NOT NULL
                           THEN excluded.message_type ELSE m.message_type END,
       text = CASE WHEN m.content_event_id IS NULL AND m.edited_at IS NULL AND excluded.content_event_id IS NOT NULL
                   THEN excluded.text ELSE m.text END,
       media = CASE WHEN m.content_event_id IS NULL AND m.edited_at IS NULL AND excluded.content_event_id IS NOT NULL
                    THEN excluded.media ELSE m.media END,
       content_event_id = coalesce(m.content_event_id, excluded.content_event_id),
       -- Status only rises: a late "delivered" after "read" changes nothing.
       status = CASE WHEN excluded.status_rank > m.status_rank THEN excluded.status ELSE m.status END,
       status_at = CASE WHEN excluded.status_rank > m.status_rank THEN excluded.status_at ELSE m.status_at END,
       status_rank = greatest(m.status_rank, excluded.status_rank),
       deleted_at = coalesce(m.deleted_at, excluded.deleted_at),
       deleted_scope = coalesce(m.deleted_scope, excluded.deleted_scope),
       deleted_by_jid = coalesce(m.deleted_by_jid, excluded.deleted_by_jid),
       deleted_by_lid = coalesce(m.deleted_by_lid, excluded.deleted_by_lid),
       updated_at = now()`,
    rows,
  );
  const edits = [...changes.messages.values()].flatMap((p) =>
    p.edit === undefined ? [] : [{ instance: p.instance, message_id: p.message_id, ...p.edit }],
  );
  if (edits.length === 0) return [upsert];
  // Edits after the upsert, so the row exists; only a newer edit replaces the content.
  return [
    upsert,
    statement(
      `UPDATE :SCHEMA.messages AS m SET
       message_type = CASE WHEN m.edited_at IS NULL OR r.edited_at > m.edited_at THEN coalesce(r.message_type, m.message_type) ELSE m.message_type END,
       text = CASE WHEN m.edited_at IS NULL OR r.edited_at > m.edited_at THEN coalesce(r.text, m.text) ELSE m.text END,
       media = CASE WHEN m.edited_at IS NULL OR r.edited_at > m.edited_at THEN coalesce(r.media, m.media) ELSE m.media END,
       edited_at = greatest(m.edited_at, r.edited_at),
       edit_count = m.edit_count + r.count,
       updated_at = now()
     FROM jsonb_to_recordset($1::jsonb) AS r(instance text, message_id text, edited_at timestamptz, message_type text,
       text text, media jsonb, count int)
     WHERE m.instance = r.instance AND m.message_id = r.message_id`,
      edits,
      { afterUpserts: true },
    ),
  ];
}

function historyStatement(changes: StateChanges): Statement {
  return statement(
    `INSERT INTO :SCHEMA.message_history (instance, message_id, event_id, kind, status, participant_jid, participant_lid, at, detail)
     SELECT instance, message_id, event_id, kind, status, participant_jid, participant_lid, at, detail
       FROM jsonb_to_recordset($1::jsonb) AS r(instance text, message_id text, event_id text, kind text, status text,
         participant_jid text, participant_lid text, at timestamptz, detail jsonb)
     ON CONFLICT DO NOTHING`,
    changes.history,
  );
}

interface EntityTable {
  table: 'chats' | 'contacts' | 'groups';
  key: string;
  lid?: string;
  phone?: string;
}

const CHATS: EntityTable = { table: 'chats', key: 'chat_jid', lid: 'chat_lid' };
const CONTACTS: EntityTable = { table: 'contacts', key: 'contact_jid', lid: 'contact_lid', phone: 'phone_jid' };
const GROUPS: EntityTable = { table: 'groups', key: 'group_jid' };

/** Chats, contacts, groups: attrs merged (a null clears), applied only if not older than the row. */
function entityStatement(spec: EntityTable, patches: Map<string, EntityPatch>): Statement {
  const rows = [...patches.values()].map((p) => ({
    instance: p.instance,
    key: p.key,
    lid: p.lid,
    phone: p.phone,
    attrs: p.attrs,
    deleted_at: p.deleted_at,
    version_at: p.version.at,
    version_seq: p.version.seq,
  }));
  const extra = [spec.lid, spec.phone].filter((c): c is string => c !== undefined);
  const source = [spec.lid ? 'lid' : undefined, spec.phone ? 'phone' : undefined].filter((c): c is string => c !== undefined);
  return statement(
    `INSERT INTO :SCHEMA.${spec.table} AS t (instance, ${spec.key}, ${extra.map((c) => `${c}, `).join('')}attrs, deleted_at, version_at, version_seq)
     SELECT instance, key, ${source.map((c) => `${c}, `).join('')}attrs, deleted_at, version_at, version_seq
       FROM jsonb_to_recordset($1::jsonb) AS r(instance text, key text, lid text, phone text, attrs jsonb,
         deleted_at timestamptz, version_at timestamptz, version_seq bigint)
     ON CONFLICT (instance, ${spec.key}) DO UPDATE SET
       ${extra.map((c) => `${c} = coalesce(excluded.${c}, t.${c}), `).join('')}
       attrs = t.attrs || excluded.attrs,
       deleted_at = excluded.deleted_at,
       version_at = excluded.version_at,
       version_seq = excluded.version_seq,
       updated_at = now()
     WHERE (t.version_at, t.version_seq) <= (excluded.version_at, excluded.version_seq)`,
    rows,
  );
}

function lidMappingsStatement(changes: StateChanges): Statement {
  // Both directions: a contact known by its phone JID learns its LID, and the other way round.
  return statement(
    `UPDATE :SCHEMA.contacts AS c SET contact_lid = r.lid, phone_jid = r.pn, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS r(instance text, lid text, pn text)
      WHERE c.instance = r.instance AND (c.contact_jid = r.pn OR c.contact_jid = r.lid)`,
    changes.lidMappings,
    { afterUpserts: true },
  );
}

function participantsStatement(changes: StateChanges): Statement {
  const rows = [...changes.participants.values()].map(({ version, ...row }) => ({ ...row, version_at: version.at, version_seq: version.seq }));
  return statement(
    `INSERT INTO :SCHEMA.group_participants AS p (instance, group_jid, participant_jid, participant_lid, admin, active, version_at, version_seq)
     SELECT instance, group_jid, participant_jid, participant_lid, admin, active, version_at, version_seq
       FROM jsonb_to_recordset($1::jsonb) AS r(instance text, group_jid text, participant_jid text, participant_lid text,
         admin text, active boolean, version_at timestamptz, version_seq bigint)
     ON CONFLICT (instance, group_jid, participant_jid) DO UPDATE SET
       participant_lid = coalesce(excluded.participant_lid, p.participant_lid),
       admin = excluded.admin, active = excluded.active,
       version_at = excluded.version_at, version_seq = excluded.version_seq, updated_at = now()
     WHERE (p.version_at, p.version_seq) <= (excluded.version_at, excluded.version_seq)`,
    rows,
  );
}

function reactionsStatement(changes: StateChanges): Statement {
  const rows = [...changes.reactions.values()].map(({ version, ...row }) => ({ ...row, version_at: version.at, version_seq: version.seq }));
  return statement(
    `INSERT INTO :SCHEMA.reactions AS x (instance, message_id, reactor, reactor_lid, chat_jid, reaction_id, text, removed, reacted_at, version_at, version_seq)
     SELECT instance, message_id, reactor, reactor_lid, chat_jid, reaction_id, text, removed, reacted_at, version_at, version_seq
       FROM jsonb_to_recordset($1::jsonb) AS r(instance text, message_id text, reactor text, reactor_lid text, chat_jid text,
         reaction_id text, text text, removed boolean, reacted_at timestamptz, version_at timestamptz, version_seq bigint)
     ON CONFLICT (instance, message_id, reactor) DO UPDATE SET
       reactor_lid = coalesce(excluded.reactor_lid, x.reactor_lid), reaction_id = excluded.reaction_id, text = excluded.text,
       removed = excluded.removed, reacted_at = excluded.reacted_at, version_at = excluded.version_at, version_seq = excluded.version_seq
     WHERE x.reacted_at <= excluded.reacted_at`,
    rows,
  );
}

function mediaStatement(changes: StateChanges): Statement {
  return statement(
    `INSERT INTO :SCHEMA.media AS d (instance, message_id, kind, mimetype, file_length, file_name, descriptor, storage_url, sha256, size,
       stored_event_id, stored_at)
     SELECT instance, message_id, kind, mimetype, file_length, file_name, descriptor, storage_url, sha256, size, stored_event_id, stored_at
       FROM jsonb_to_recordset($1::jsonb) AS r(instance text, message_id text, kind text, mimetype text, file_length bigint,
         file_name text, descriptor jsonb, storage_url text, sha256 text, size bigint, stored_event_id text, stored_at timestamptz)
     ON CONFLICT (instance, message_id) DO UPDATE SET
       mimetype = coalesce(d.mimetype, excluded.mimetype), file_length = coalesce(d.file_length, excluded.file_length),
       file_name = coalesce(d.file_name, excluded.file_name), descriptor = coalesce(d.descriptor, excluded.descriptor),
       storage_url = coalesce(excluded.storage_url, d.storage_url), sha256 = coalesce(excluded.sha256, d.sha256),
       size = coalesce(excluded.size, d.size), stored_event_id = coalesce(excluded.stored_event_id, d.stored_event_id),
       stored_at = coalesce(excluded.stored_at, d.stored_at), updated_at = now()`,
    [...changes.media.values()],
  );
}

function onboardingStatement(changes: StateChanges): Statement {
  // Unknown = no contact row under either JID and no earlier message in that chat.
  return statement(
    `INSERT INTO :SCHEMA.onboarding AS o (instance, contact_jid, contact_lid, push_name, chat_jid, first_message_id, first_event_id, first_message_at)
     SELECT r.instance, r.contact_jid, r.contact_lid, r.push_name, r.chat_jid, r.first_message_id, r.first_event_id, r.first_message_at
       FROM jsonb_to_recordset($1::jsonb) AS r(instance text, contact_jid text, contact_lid text, push_name text, chat_jid text,
         first_message_id text, first_event_id text, first_message_at timestamptz)
      -- One NOT EXISTS per column, not one with ORs across them: each then finds its index
      -- instead of comparing every batch row with every contact of the instance. OFFSET 0 keeps
      -- each a probe per batch row: without it Postgres may turn one into a hash anti join that
      -- reads the whole table, cheap while the table is small, and a prepared statement keeps
      -- that plan while the table grows (store-plan.test.ts).
      WHERE NOT EXISTS (SELECT 1 FROM :SCHEMA.contacts c WHERE c.instance = r.instance AND c.contact_jid IN (r.contact_jid, r.contact_lid) OFFSET 0)
        AND NOT EXISTS (SELECT 1 FROM :SCHEMA.contacts c WHERE c.instance = r.instance AND c.contact_lid IN (r.contact_jid, r.contact_lid) OFFSET 0)
        AND NOT EXISTS (SELECT 1 FROM :SCHEMA.contacts c WHERE c.instance = r.instance AND c.phone_jid = r.contact_jid OFFSET 0)
        AND NOT EXISTS (SELECT 1 FROM :SCHEMA.messages m WHERE m.instance = r.instance AND m.chat_jid = r.chat_jid
                          AND m.message_id <> r.first_message_id AND m.sent_at < r.first_message_at OFFSET 0)
     ON CONFLICT (instance, contact_jid) DO UPDATE SET
       first_message_id = excluded.first_message_id, first_event_id = excluded.first_event_id, first_message_at = excluded.first_message_at
     WHERE excluded.first_message_at < o.first_message_at`,
    [...changes.onboarding.values()],
  );
}
