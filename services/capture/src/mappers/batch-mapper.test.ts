import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, validateEnvelope, type EventEnvelope } from '@switchyard/schema';
import { withSeq, type UnsequencedEvent } from '../captured-event.ts';
import { batchOf, eventPayload, loadEventFixtures } from '../event-fixtures.ts';
import { createBatchMapper } from './batch-mapper.ts';
import { mapHistorySet } from './history-mapper.ts';
import type { MapContext, MapSink } from './map-context.ts';

const ANA = { lid: '118407353102339@lid', pn: '15551230001@s.whatsapp.net' };
const BRUNO = { lid: '204710157602887@lid', pn: '15551230002@s.whatsapp.net' };
const CARLA = { lid: '301122334455667@lid', pn: '15551230003@s.whatsapp.net' };
const GROUP = '120363025246125486@g.us';
const capturedAt = new Date('2026-02-01T00:00:00Z');
const self = { jid: '15559990000@s.whatsapp.net', lid: '99887766554433@lid' };

interface Mapped {
  events: UnsequencedEvent[];
  skipped: string[];
}

function collect(): MapSink & Mapped {
  const events: UnsequencedEvent[] = [];
  const skipped: string[] = [];
  return {
    events,
    skipped,
    emit: (event) => events.push(event),
    skip: (reason) => skipped.push(reason),
    fail: (err) => {
      throw err;
    },
  };
}

function mapCase(name: string, mapper = createBatchMapper({ tenant: 'acme', instance: 'sales-1', self: () => self })): Mapped {
  const fixture = loadEventFixtures().find((c) => c.name === name);
  if (!fixture) throw new Error(`no fixture ${name}`);
  const sink = collect();
  mapper(batchOf(fixture), capturedAt, sink);
  return { events: sink.events, skipped: sink.skipped };
}

function only(name: string): UnsequencedEvent {
  const { events } = mapCase(name);
  expect(events, name).toHaveLength(1);
  return events[0]!;
}

/** Narrows an event to its type so `data` can be asserted field by field. */
function as<T extends EventEnvelope['type']>(event: UnsequencedEvent | undefined, type: T) {
  expect(event?.type).toBe(type);
  return event as Extract<UnsequencedEvent, { type: T }>;
}

describe('mapping every Baileys event kind', () => {
  it('maps every recorded case to schema-valid envelopes that survive JSON', () => {
    const types = new Set<string>();
    for (const fixture of loadEventFixtures()) {
      const { events } = mapCase(fixture.name);
      for (const event of events) {
        const validated = validateEnvelope(withSeq(event, 1));
        expect(validated, `${fixture.name}: ${validated.ok ? '' : validated.message}`).toMatchObject({ ok: true });
        expect(JSON.parse(JSON.stringify(event))).toEqual(event);
        types.add(event.type);
      }
    }
    // Every WhatsApp type has a recorded case (messages, connection and media have their own tests).
    const covered = EVENT_TYPES.filter(
      (t) => !t.startsWith('session.') && !['media.stored', 'message.received', 'message.sent'].includes(t),
    );
    expect([...types].sort()).toEqual(covered.sort());
  });

  it('turns a revoke into message.deleted for everyone, the same event whichever way Baileys reports it', () => {
    const upserted = as(only('revoke-upsert'), 'message.deleted');
    const { raw, ...fields } = upserted.data;
    expect(fields).toEqual({
      scope: 'everyone',
      message_id: '3EB0A1B2C3D4E5F60001',
      chat_jid: ANA.pn,
      chat_lid: ANA.lid,
      deleted_by_me: false,
      deleted_by_jid: ANA.pn,
      deleted_by_lid: ANA.lid,
      revoke_message_id: '3EB0A1B2C3D4E5F60101',
      timestamp: '2026-01-01T00:05:00.000Z',
    });
    expect(raw).toMatchObject({ key: { id: '3EB0A1B2C3D4E5F60101' } });
    const updated = as(only('revoke-update'), 'message.deleted');
    expect(updated.id).toBe(upserted.id);
    expect(updated.data).toMatchObject({
      scope: 'everyone',
      message_id: '3EB0A1B2C3D4E5F60001',
      revoke_message_id: '3EB0A1B2C3D4E5F60101',
      deleted_by_me: false,
    });
  });

  it('turns an edit into message.edited with the new content, one id for both reports', () => {
    const upserted = as(only('edit-upsert'), 'message.edited');
    expect(upserted.data).toMatchObject({
      message_id: '3EB0A1B2C3D4E5F60001',
      chat_jid: ANA.pn,
      chat_lid: ANA.lid,
      sender_jid: ANA.pn,
      sender_lid: ANA.lid,
      from_me: false,
      edit_message_id: '3EB0A1B2C3D4E5F60102',
      message_type: 'conversation',
      text: 'Olá! Is my order ready yet?',
      timestamp: '2026-01-01T00:00:30.000Z',
    });
    const updated = as(only('edit-update'), 'message.edited');
    expect(updated.id).toBe(upserted.id);
    expect(updated.data).toMatchObject({ text: 'Olá! Is my order ready yet?', timestamp: '2026-01-01T00:00:30.000Z' });
  });

  it('tells a reaction added from one removed, and dedupes the upserted reaction against messages.reaction', () => {
    const upserted = as(only('reaction-upsert'), 'message.reaction');
    expect(upserted.data).toMatchObject({
      message_id: '3EB0A1B2C3D4E5F60002',
      message_from_me: true,
      reaction_id: '3EB0A1B2C3D4E5F60201',
      chat_jid: ANA.pn,
      chat_lid: ANA.lid,
      sender_jid: ANA.pn,
      sender_lid: ANA.lid,
      from_me: false,
      text: '👍',
      removed: false,
      timestamp: '2026-01-01T00:01:30.000Z',
    });
    const [added, removed] = mapCase('reactions').events.map((e) => as(e, 'message.reaction'));
    expect(added?.id).toBe(upserted.id);
    expect(removed?.data).toMatchObject({ message_id: '3EB0A1B2C3D4E5F60002', text: '', removed: true, reaction_id: '3EB0A1B2C3D4E5F60202' });
    expect(removed?.id).not.toBe(added?.id);
  });

  it('maps 1:1 status changes to delivered/read/played receipts', () => {
    const events = mapCase('status-updates').events;
    expect(events.map((e) => e.type)).toEqual(['message.delivered', 'message.read', 'message.played']);
    expect(as(events[0], 'message.delivered').data).toEqual({
      message_id: '3EB0A1B2C3D4E5F60002',
      chat_jid: ANA.pn,
      chat_lid: ANA.lid,
      from_me: true,
      timestamp: '2026-01-01T00:01:01.000Z',
    });
    expect(as(events[2], 'message.played').data.message_id).toBe('3EB0A1B2C3D4E5F60003');
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
  });

  it('maps group receipts per member and per kind, with the member', () => {
    const events = mapCase('group-receipts').events;
    expect(events.map((e) => [e.type, 'participant_lid' in e.data ? e.data.participant_lid : undefined])).toEqual([
      ['message.delivered', BRUNO.lid],
      ['message.delivered', CARLA.lid],
      ['message.read', CARLA.lid],
    ]);
    expect(as(events[2], 'message.read').data).toMatchObject({
      message_id: '3EB0C0FFEE0000000001',
      chat_jid: GROUP,
      from_me: true,
      timestamp: '2026-01-01T00:06:50.000Z',
    });
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
  });

  it('skips message updates with no event type', () => {
    expect(mapCase('other-update')).toEqual({ events: [], skipped: ['update_other'] });
  });

  it('maps delete-for-me per message and a cleared chat', () => {
    expect(as(only('delete-for-me'), 'message.deleted').data).toEqual({
      scope: 'me',
      message_id: '3EB0A1B2C3D4E5F60003',
      chat_jid: ANA.lid,
      chat_lid: ANA.lid,
      from_me: false,
      deleted_by_me: true,
      timestamp: capturedAt.toISOString(),
    });
    expect(as(only('chat-cleared'), 'message.deleted').data).toMatchObject({
      scope: 'me',
      chat_jid: BRUNO.pn,
      all_in_chat: true,
    });
  });

  it('maps presence per participant', () => {
    const group = mapCase('presence').events.map((e) => as(e, 'presence.updated').data);
    expect(group).toEqual([
      { chat_jid: GROUP, participant_jid: BRUNO.lid, participant_lid: BRUNO.lid, presence: 'composing' },
      { chat_jid: GROUP, participant_jid: CARLA.lid, participant_lid: CARLA.lid, presence: 'recording' },
    ]);
    expect(as(only('presence-last-seen'), 'presence.updated').data).toMatchObject({
      presence: 'unavailable',
      last_seen: '2026-01-01T00:08:20.000Z',
    });
  });

  it('maps chats: upserts with both JIDs and no session secrets in raw, updates, deletes', () => {
    const [ana, group] = mapCase('chats-upsert').events.map((e) => as(e, 'chat.upserted').data);
    expect(ana).toMatchObject({
      chat_jid: ANA.pn,
      chat_lid: ANA.lid,
      name: 'Ana',
      unread_count: 2,
      archived: false,
      last_message_at: '2026-01-01T00:01:00.000Z',
      last_message_received_at: '2026-01-01T00:00:00.000Z',
    });
    expect(ana?.raw).not.toHaveProperty('tcToken');
    expect(group).toMatchObject({ chat_jid: GROUP, ephemeral_expiration: 604_800 });
    const updates = mapCase('chats-update').events.map((e) => as(e, 'chat.updated').data);
    expect(updates).toMatchObject([
      { chat_jid: ANA.lid, chat_lid: ANA.lid, archived: true },
      { chat_jid: GROUP, unread_count: 0 },
      { chat_jid: BRUNO.pn, pinned: true },
      { chat_jid: CARLA.pn, mute_end_time: 1_767_312_000 },
    ]);
    expect(as(only('chats-delete'), 'chat.deleted').data).toEqual({ chat_jid: CARLA.pn });
  });

  it('maps contacts with both JIDs', () => {
    const [ana, bruno] = mapCase('contacts-upsert').events.map((e) => as(e, 'contact.upserted').data);
    expect(ana).toMatchObject({ contact_jid: ANA.pn, contact_lid: ANA.lid, name: 'Ana Souza', notify: 'Ana' });
    expect(bruno).toMatchObject({ contact_jid: BRUNO.pn, verified_name: 'Bruno Bikes', status: 'At work' });
    expect(bruno?.contact_lid).toBeUndefined();
    const updates = mapCase('contacts-update').events.map((e) => as(e, 'contact.updated').data);
    expect(updates).toMatchObject([
      { contact_jid: ANA.lid, contact_lid: ANA.lid, notify: 'Ana S.' },
      { contact_jid: BRUNO.pn, img_url: 'changed' },
    ]);
  });

  it('maps groups: metadata with roles and both JIDs, settings changes with their author', () => {
    const group = as(only('groups-upsert'), 'group.upserted').data;
    expect(group).toMatchObject({
      group_jid: GROUP,
      subject: 'Team',
      owner_jid: ANA.pn,
      owner_lid: ANA.lid,
      subject_owner_jid: ANA.pn,
      created_at: '2025-12-31T00:00:00.000Z',
      description: 'Lunch and deploys',
      join_approval_mode: true,
      addressing_mode: 'lid',
      ephemeral_duration: 604_800,
      participants: [
        { jid: ANA.pn, lid: ANA.lid, admin: 'superadmin' },
        { jid: BRUNO.pn, lid: BRUNO.lid, admin: 'admin' },
        { jid: '15559990000@s.whatsapp.net', lid: '99887766554433@lid', admin: null },
      ],
    });
    expect(as(only('groups-update'), 'group.updated').data).toMatchObject({
      group_jid: GROUP,
      announce: true,
      author_jid: ANA.pn,
      author_lid: ANA.lid,
    });
  });

  it('maps each participant action to its own type', () => {
    const actions = ['add', 'remove', 'promote', 'demote', 'modify'].map((a) => only(`participants-${a}`));
    expect(actions.map((e) => e.type)).toEqual([
      'group.participants_added',
      'group.participants_removed',
      'group.participants_promoted',
      'group.participants_demoted',
      'group.participants_modified',
    ]);
    expect(as(actions[2], 'group.participants_promoted').data).toEqual({
      group_jid: GROUP,
      author_jid: ANA.pn,
      author_lid: ANA.lid,
      participants: [{ jid: CARLA.pn, lid: CARLA.lid, admin: 'admin' }],
    });
    expect(as(only('join-request'), 'group.join_requested').data).toEqual({
      group_jid: GROUP,
      participant_jid: CARLA.pn,
      participant_lid: CARLA.lid,
      author_jid: CARLA.pn,
      author_lid: CARLA.lid,
      action: 'created',
      method: 'invite_link',
    });
  });

  it('maps call offers, accepts, rejects, timeouts and ends; skips signalling', () => {
    const offer = as(only('call-offer'), 'call.offered');
    expect(offer.data).toEqual({
      call_id: 'CALLA0000000000000001',
      chat_jid: ANA.pn,
      chat_lid: ANA.lid,
      caller_jid: ANA.pn,
      caller_lid: ANA.lid,
      is_video: true,
      is_group: false,
      offline: false,
      timestamp: '2026-01-01T00:16:40.000Z',
    });
    expect(offer.occurred_at).toBe('2026-01-01T00:16:40.000Z');
    expect(mapCase('call-ringing')).toEqual({ events: [], skipped: ['call_signal'] });
    const types = ['accept', 'reject', 'timeout', 'terminate'].map((s) => only(`call-${s}`).type);
    expect(types).toEqual(['call.accepted', 'call.rejected', 'call.timeout', 'call.terminated']);
    expect(only('call-accept').id).not.toBe(offer.id);
  });

  it('maps labels, the blocklist and LID mappings', () => {
    expect(as(only('label-edit'), 'label.edited').data).toEqual({
      label_id: '5',
      name: 'New order',
      color: 3,
      deleted: false,
      predefined_id: '2',
    });
    expect(as(only('label-chat-add'), 'label.associated').data).toEqual({
      label_id: '5',
      target: 'chat',
      chat_jid: ANA.lid,
      chat_lid: ANA.lid,
    });
    expect(as(only('label-message-remove'), 'label.dissociated').data).toMatchObject({
      target: 'message',
      message_id: '3EB0A1B2C3D4E5F60001',
    });
    expect(as(only('blocklist-set'), 'blocklist.set').data).toEqual({ blocklist: [CARLA.pn] });
    expect(as(only('blocklist-update'), 'blocklist.updated').data).toEqual({ action: 'add', blocklist: [BRUNO.pn] });
    expect(as(only('lid-mapping'), 'lid.mapped').data).toEqual({ lid: CARLA.lid, pn: CARLA.pn });
  });

  it('maps a history chunk to chat, contact and message batches with its position', () => {
    const { events, skipped } = mapCase('history-set');
    expect(events.map((e) => e.type)).toEqual(['history.chats', 'history.contacts', 'history.messages']);
    const position = { sync_type: 'initial_bootstrap', progress: 40, chunk_order: 1, is_latest: true, part: 0, parts: 1 };
    const chats = as(events[0], 'history.chats').data;
    expect(chats).toMatchObject(position);
    expect(chats.chats.map((c) => [c.chat_jid, c.chat_lid])).toEqual([[ANA.pn, ANA.lid], [GROUP, undefined]]);
    const contacts = as(events[1], 'history.contacts').data;
    expect(contacts).toMatchObject({ ...position, contacts: [{ contact_jid: ANA.pn, contact_lid: ANA.lid, notify: 'Ana' }] });
    expect(contacts.lid_mappings).toEqual([{ lid: ANA.lid, pn: ANA.pn }, { lid: BRUNO.lid, pn: BRUNO.pn }]);
    const messages = as(events[2], 'history.messages').data;
    expect(messages).toMatchObject(position);
    // Same shape as message.received / message.sent; the group-creation stub is left out.
    expect(messages.messages).toMatchObject([
      { message_id: '3EB0HIST000000000001', chat_jid: ANA.pn, chat_lid: ANA.lid, from_me: false, text: 'From last week', push_name: 'Ana' },
      { message_id: '3EB0HIST000000000002', from_me: true, sender_jid: self.jid, text: 'Noted!', message_type: 'extendedTextMessage' },
    ]);
    expect(messages.messages[0]?.raw).toMatchObject({ key: { id: '3EB0HIST000000000001' } });
    expect(skipped).toEqual(['stub']);
  });

  it('cuts a big history chunk into parts that each fit, with distinct ids', () => {
    const set = eventPayload('history-set', 'messaging-history.set');
    const many = Array.from({ length: 40 }, (_, i) => ({
      ...set.messages[0]!,
      key: { ...set.messages[0]!.key, id: `3EB0BULK${String(i).padStart(12, '0')}` },
    }));
    const sink = collect();
    const ctx: MapContext = { tenant: 'acme', instance: 'sales-1', capturedAt };
    mapHistorySet({ ...set, chats: [], contacts: [], lidPnMappings: [], messages: many }, ctx, sink, 4_096);
    const parts = sink.events.map((e) => as(e, 'history.messages').data);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.map((p) => p.part)).toEqual(parts.map((_, i) => i));
    expect(parts.every((p) => p.parts === parts.length)).toBe(true);
    expect(parts.every((p) => Buffer.byteLength(JSON.stringify(p.messages)) <= 4_096 + p.messages.length)).toBe(true);
    expect(parts.flatMap((p) => p.messages.map((m) => m.message_id))).toEqual(many.map((m) => m.key.id));
    expect(new Set(sink.events.map((e) => e.id)).size).toBe(parts.length);
  });
});

describe('event ids', () => {
  // Ids from an occurrence key or a snapshot hash (event-ids.ts families 1 and 2).
  const DERIVED = new Set([
    'message.edited',
    'message.reaction',
    'message.delivered',
    'message.read',
    'message.played',
    'chat.upserted',
    'contact.upserted',
    'group.upserted',
    'call.offered',
    'call.accepted',
    'call.rejected',
    'call.timeout',
    'call.terminated',
    'label.edited',
    'blocklist.set',
    'lid.mapped',
    'history.chats',
    'history.contacts',
    'history.messages',
  ]);
  const isDerived = (e: UnsequencedEvent): boolean =>
    DERIVED.has(e.type) || (e.type === 'message.deleted' && e.data.all_in_chat !== true);

  function mapAll(): Array<{ name: string; event: UnsequencedEvent }> {
    const mapper = createBatchMapper({ tenant: 'acme', instance: 'sales-1', self: () => self });
    return loadEventFixtures().flatMap((fixture) =>
      mapCase(fixture.name, mapper).events.map((event) => ({ name: fixture.name, event })),
    );
  }

  it('derives the same id on a re-capture, for every kind with a source key', () => {
    const first = mapAll();
    const second = mapAll();
    expect(second).toHaveLength(first.length);
    first.forEach(({ name, event }, i) => {
      const again = second[i]!.event;
      if (isDerived(event)) expect(again.id, `${name} ${event.type}`).toBe(event.id);
      else expect(again.id, `${name} ${event.type} has no source key: a fresh id`).not.toBe(event.id);
    });
  });

  it('gives distinct events distinct ids; only the two reports of one revoke, edit or reaction share one', () => {
    const byId = new Map<string, string[]>();
    for (const { name, event } of mapAll()) byId.set(event.id, [...(byId.get(event.id) ?? []), name]);
    const shared = [...byId.values()].filter((names) => names.length > 1).map((names) => names.sort());
    expect(shared.sort()).toEqual([
      ['edit-update', 'edit-upsert'],
      ['reaction-upsert', 'reactions'],
      ['revoke-update', 'revoke-upsert'],
    ]);
  });

  it('derives different ids on another instance', () => {
    const other = createBatchMapper({ tenant: 'acme', instance: 'sales-2' });
    expect(mapCase('revoke-upsert', other).events[0]?.id).not.toBe(mapCase('revoke-upsert').events[0]?.id);
  });
});

describe('repeated updates', () => {
  it('collapses an update identical to the entity’s previous one, but keeps A, B, A', () => {
    const mapper = createBatchMapper({ tenant: 'acme', instance: 'sales-1' });
    const sink = collect();
    const update = (notify: string) => ({ 'contacts.update': [{ id: ANA.lid, notify }] });
    for (const name of ['Ana', 'Ana', 'Ana S.', 'Ana']) mapper(update(name), capturedAt, sink);
    expect(sink.events.map((e) => as(e, 'contact.updated').data.notify)).toEqual(['Ana', 'Ana S.', 'Ana']);
    expect(sink.skipped).toEqual(['repeated_update']);
  });
});
