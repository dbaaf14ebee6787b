import { forTenant, type Pool } from '@switchyard/db';
import { createTestPool, createTestTenant, type TestTenant } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeBatch } from './store-batch.ts';
import { envelope } from './test-support.ts';

let pool: Pool;
let t: TestTenant;
let tenant: string;

beforeAll(async () => {
  pool = await createTestPool();
  t = await createTestTenant(pool, 'sb');
  tenant = t.tenant;
});
afterAll(async () => {
  await t.cleanup();
  await pool.end();
});

const db = () => forTenant(pool, tenant);
const chat = '5511988887777@s.whatsapp.net';

function message(id: string, at: string, extra: Record<string, unknown> = {}) {
  return { message_id: id, chat_jid: chat, from_me: true, timestamp: at, message_type: 'conversation', text: `text of ${id}`, ...extra };
}

function receipt(type: string, id: string, at: string, seqAt: string) {
  return envelope(tenant, type, { message_id: id, chat_jid: chat, timestamp: at }, { occurred_at: seqAt });
}

async function snapshot(): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of ['events', 'event_ids', 'messages', 'message_history', 'chats', 'contacts', 'reactions', 'media', 'onboarding']) {
    // updated_at moves on every upsert that changes nothing visible; leave it out of the comparison.
    const result = await db().query(`SELECT * FROM :SCHEMA.${table} ORDER BY 1, 2`);
    out[table] = result.rows.map(({ updated_at: _u, stored_at: _s, ...rest }) => rest);
  }
  return out;
}

describe('storeBatch', () => {
  it('changes nothing when the same batch is stored twice', async () => {
    const batch = [
      envelope(tenant, 'message.received', message('IDEM1', '2026-01-02T10:00:00Z', { from_me: false, chat_jid: '5511900000001@s.whatsapp.net' })),
      envelope(tenant, 'message.sent', message('IDEM2', '2026-01-02T10:01:00Z')),
      receipt('message.read', 'IDEM2', '2026-01-02T10:02:00Z', '2026-01-02T10:02:00Z'),
      envelope(tenant, 'contact.upserted', { contact_jid: '5511900000002@s.whatsapp.net', contact_lid: '900000002@lid', name: 'Ana' }),
      envelope(tenant, 'chat.upserted', { chat_jid: chat, name: 'A chat', unread_count: 2 }),
      envelope(tenant, 'message.reaction', {
        message_id: 'IDEM2', chat_jid: chat, reaction_id: 'R1', from_me: false, sender_jid: '5511900000002@s.whatsapp.net', text: '👍', removed: false, timestamp: '2026-01-02T10:03:00Z',
      }),
    ];
    const first = await storeBatch(pool, tenant, batch);
    expect(first.inserted.size).toBe(batch.length);
    expect(first.rewritten).toBe(false);
    const before = await snapshot();
    const second = await storeBatch(pool, tenant, batch);
    expect(second.inserted.size).toBe(0);
    // The one-statement write saw ids stored before, was undone (SYB01) and done in a transaction.
    expect(second.rewritten).toBe(true);
    expect(await snapshot()).toEqual(before);
  });

  it('leaves the newest status whatever order receipts and the message arrive in', async () => {
    const id = 'ORDER1';
    // read first, then the message itself, then a late delivered, each in its own batch.
    await storeBatch(pool, tenant, [receipt('message.read', id, '2026-01-03T10:02:00Z', '2026-01-03T10:02:00Z')]);
    await storeBatch(pool, tenant, [envelope(tenant, 'message.sent', message(id, '2026-01-03T10:00:00Z'), { occurred_at: '2026-01-03T10:00:00Z' })]);
    await storeBatch(pool, tenant, [receipt('message.delivered', id, '2026-01-03T10:01:00Z', '2026-01-03T10:01:00Z')]);
    const row = (await db().query(`SELECT status, text, sent_at FROM :SCHEMA.messages WHERE message_id = $1`, [id])).rows[0];
    expect(row).toMatchObject({ status: 'read', text: `text of ${id}` });
    const history = await db().query(`SELECT status FROM :SCHEMA.message_history WHERE message_id = $1 ORDER BY at`, [id]);
    expect(history.rows.map((r) => r['status'])).toEqual(['delivered', 'read']);
  });

  it('keeps the newest chat state when an older update arrives later, also inside one batch', async () => {
    const jid = '5511977776666@s.whatsapp.net';
    const newer = envelope(tenant, 'chat.updated', { chat_jid: jid, name: 'new name', archived: true }, { occurred_at: '2026-01-04T12:00:00Z' });
    const older = envelope(tenant, 'chat.updated', { chat_jid: jid, name: 'old name' }, { occurred_at: '2026-01-04T11:00:00Z' });
    await storeBatch(pool, tenant, [newer, older]);
    const later = envelope(tenant, 'chat.updated', { chat_jid: jid, name: 'older still' }, { occurred_at: '2026-01-04T10:00:00Z' });
    await storeBatch(pool, tenant, [later]);
    const row = (await db().query(`SELECT attrs FROM :SCHEMA.chats WHERE chat_jid = $1`, [jid])).rows[0];
    expect(row?.['attrs']).toEqual({ name: 'new name', archived: true });
  });

  it('records the first message from an unknown contact once, and not from a known one', async () => {
    const stranger = '5511955554444@s.whatsapp.net';
    const friend = '5511933332222@s.whatsapp.net';
    await storeBatch(pool, tenant, [envelope(tenant, 'contact.upserted', { contact_jid: friend, name: 'Friend' })]);
    await storeBatch(pool, tenant, [
      envelope(tenant, 'message.received', message('ONB1', '2026-01-05T10:00:00Z', { from_me: false, chat_jid: stranger })),
      envelope(tenant, 'message.received', message('ONB2', '2026-01-05T10:01:00Z', { from_me: false, chat_jid: stranger })),
      envelope(tenant, 'message.received', message('ONB3', '2026-01-05T10:02:00Z', { from_me: false, chat_jid: friend })),
    ]);
    const rows = await db().query(`SELECT contact_jid, first_message_id FROM :SCHEMA.onboarding WHERE contact_jid IN ($1, $2)`, [stranger, friend]);
    expect(rows.rows).toEqual([{ contact_jid: stranger, first_message_id: 'ONB1' }]);
  });

  it('applies edits and LID mappings after the upserts of the same batch', async () => {
    const contact = '5511944443333@s.whatsapp.net';
    await storeBatch(pool, tenant, [
      envelope(tenant, 'message.sent', message('AFTER1', '2026-01-06T10:00:00Z')),
      envelope(tenant, 'message.edited', { message_id: 'AFTER1', chat_jid: chat, from_me: true, timestamp: '2026-01-06T10:05:00Z', text: 'edited text' }),
      envelope(tenant, 'contact.upserted', { contact_jid: contact, name: 'Bia' }),
      envelope(tenant, 'lid.mapped', { lid: '944443333@lid', pn: contact }),
    ]);
    const msg = (await db().query(`SELECT text, edit_count FROM :SCHEMA.messages WHERE message_id = 'AFTER1'`)).rows[0];
    expect(msg).toMatchObject({ text: 'edited text', edit_count: 1 });
    const row = (await db().query(`SELECT contact_lid FROM :SCHEMA.contacts WHERE contact_jid = $1`, [contact])).rows[0];
    expect(row?.['contact_lid']).toBe('944443333@lid');
  });

  it('stores text that looks like SQL, quoting or placeholders exactly as sent', async () => {
    // The batch goes to Postgres as literals in one message: none of this may change what lands.
    const texts = ["$batch$ '); DROP TABLE x; --", ':SCHEMA.events $1 $2::int', 'back\\slash \\n "quoted" $batch0$ $$ $guard$', 'emoji 😀 and \u00e9'];
    const events = texts.map((text, i) => envelope(tenant, 'message.received', message(`LIT${i}`, '2026-01-08T10:00:00Z', { from_me: false, text })));
    const result = await storeBatch(pool, tenant, events);
    expect(result.inserted.size).toBe(texts.length);
    const rows = await db().query(`SELECT message_id, text FROM :SCHEMA.messages WHERE message_id LIKE 'LIT%' ORDER BY 1`);
    expect(rows.rows.map((r) => r['text'])).toEqual(texts);
    const logged = await db().query(`SELECT data->>'text' AS text FROM :SCHEMA.events WHERE id = ANY($1) ORDER BY data->>'message_id'`, [events.map((e) => e.id)]);
    expect(logged.rows.map((r) => r['text'])).toEqual(texts);
  });

  it('gives a message the text and media of its own event, and a history message those of its entry', async () => {
    const media = { kind: 'image', mimetype: 'image/jpeg', file_length: 1234, direct_path: '/v/t62/abc', caption: 'look' };
    const live = envelope(tenant, 'message.received', message('MEDIA1', '2026-01-09T10:00:00Z', { from_me: false, message_type: 'image', text: 'look', media }));
    const plain = envelope(tenant, 'message.received', message('MEDIA2', '2026-01-09T10:01:00Z', { from_me: false, text: undefined }));
    const synced = envelope(tenant, 'history.messages', {
      sync_type: 'full', is_latest: false, part: 0, parts: 1,
      messages: [message('SYNCED1', '2026-01-09T09:00:00Z', { text: 'from the history', media: { kind: 'document', file_name: 'a.pdf' } })],
    });
    await storeBatch(pool, tenant, [live, plain, synced]);
    const rows = await db().query(`SELECT message_id, text, media FROM :SCHEMA.messages WHERE message_id IN ('MEDIA1', 'MEDIA2', 'SYNCED1') ORDER BY 1`);
    expect(rows.rows).toEqual([
      { message_id: 'MEDIA1', text: 'look', media },
      { message_id: 'MEDIA2', text: null, media: null },
      { message_id: 'SYNCED1', text: 'from the history', media: { kind: 'document', file_name: 'a.pdf' } },
    ]);
  });

  it('undoes the one-statement write of a batch that overlaps one stored before, and projects its new events', async () => {
    const old = envelope(tenant, 'message.received', message('PART1', '2026-01-10T10:00:00Z', { from_me: false, chat_jid: '5511900000021@s.whatsapp.net' }));
    await storeBatch(pool, tenant, [old]);
    const read = receipt('message.read', 'PART1', '2026-01-10T10:01:00Z', '2026-01-10T10:01:00Z');
    const fresh = envelope(tenant, 'message.received', message('PART2', '2026-01-10T10:02:00Z', { from_me: false, chat_jid: '5511900000021@s.whatsapp.net' }));
    // The old message again (a redelivery), with two new events: the read receipt and a new message.
    const result = await storeBatch(pool, tenant, [old, read, fresh]);
    expect(result.rewritten).toBe(true);
    expect([...result.inserted]).toEqual([read.id, fresh.id]);
    const rows = await db().query(`SELECT message_id, status, text FROM :SCHEMA.messages WHERE message_id IN ('PART1', 'PART2') ORDER BY 1`);
    expect(rows.rows).toEqual([
      { message_id: 'PART1', status: 'read', text: 'text of PART1' },
      { message_id: 'PART2', status: 'received', text: 'text of PART2' },
    ]);
    const logged = await db().query(`SELECT count(*)::int AS n FROM :SCHEMA.events WHERE id = ANY($1)`, [[old.id, read.id, fresh.id]]);
    expect(logged.rows[0]?.['n']).toBe(3);
  });

  it('projects only the new events of a batch that overlaps one stored before', async () => {
    const edit = envelope(tenant, 'message.edited', { message_id: 'OVER1', chat_jid: chat, from_me: true, timestamp: '2026-01-07T10:05:00Z', text: 'edit 1' });
    await storeBatch(pool, tenant, [envelope(tenant, 'message.sent', message('OVER1', '2026-01-07T10:00:00Z')), edit]);
    // The redelivered edit is in the batch again, beside a new message: the edit must not count twice.
    const fresh = envelope(tenant, 'message.sent', message('OVER2', '2026-01-07T10:06:00Z'));
    const result = await storeBatch(pool, tenant, [edit, fresh]);
    expect([...result.inserted]).toEqual([fresh.id]);
    // An edit must follow the upserts, so this batch went to the explicit transaction directly.
    expect(result.rewritten).toBe(false);
    const rows = await db().query(`SELECT message_id, edit_count FROM :SCHEMA.messages WHERE message_id IN ('OVER1', 'OVER2') ORDER BY 1`);
    expect(rows.rows).toEqual([
      { message_id: 'OVER1', edit_count: 1 },
      { message_id: 'OVER2', edit_count: 0 },
    ]);
    const logged = await db().query(`SELECT count(*)::int AS n FROM :SCHEMA.events WHERE id = ANY($1)`, [[edit.id, fresh.id]]);
    expect(logged.rows[0]?.['n']).toBe(2);
  });

  it('puts each event in the partition of its month, creating months on demand', async () => {
    const old = envelope(tenant, 'message.received', message('PART1', '2019-03-05T10:00:00Z', { from_me: false }), { occurred_at: '2019-03-05T10:00:00Z' });
    await storeBatch(pool, tenant, [old]);
    const where = await db().query(`SELECT tableoid::regclass::text AS part FROM :SCHEMA.events WHERE id = $1`, [old.id]);
    expect(where.rows[0]?.['part']).toMatch(/events_p201903$/);
  });
});

describe('a history sync of 10,000 messages', () => {
  const messages = Array.from({ length: 10_000 }, (_, i) =>
    message(`HIST${i}`, new Date(Date.UTC(2025, 11, 1) + i * 1000).toISOString(), { from_me: i % 2 === 0, text: `history ${i}` }),
  );
  const history = (list: typeof messages) =>
    envelope(tenant, 'history.messages', { sync_type: 'full', is_latest: false, part: 0, parts: 1, messages: list });
  const count = async () => Number((await db().query(`SELECT count(*) AS n FROM :SCHEMA.messages WHERE message_id LIKE 'HIST%'`)).rows[0]?.['n']);

  it('lands not at all when one message fails, and whole when none does', async () => {
    // A real failure from Postgres on the 9,999th message, not a mock: a constraint this test adds.
    await db().query(`ALTER TABLE :SCHEMA.messages ADD CONSTRAINT test_poison CHECK (message_id <> 'HIST9998')`);
    const failing = history(messages);
    await expect(storeBatch(pool, tenant, [failing])).rejects.toThrow(/test_poison/);
    expect(await count()).toBe(0);
    const logged = await db().query(`SELECT count(*) AS n FROM :SCHEMA.event_ids WHERE id = $1`, [failing.id]);
    expect(Number(logged.rows[0]?.['n'])).toBe(0);

    await db().query(`ALTER TABLE :SCHEMA.messages DROP CONSTRAINT test_poison`);
    await storeBatch(pool, tenant, [failing]);
    expect(await count()).toBe(10_000);
  });
});
