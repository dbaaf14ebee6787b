import type { EnvelopeOf, EventEnvelope, EventType, MessageData } from '@switchyard/schema';
import { StateChanges, type MessageStatus, type Version } from './state-changes.ts';

/**
 * Event type → what it changes in the state tables. Adding a type is one entry here; a type
 * without an entry is only kept in the events log (presence, calls, labels, sessions…).
 */
type Projector<T extends EventType> = (event: EnvelopeOf<T>, changes: StateChanges) => void;
type Projectors = { [T in EventType]?: Projector<T> };

const versionOf = (event: { occurred_at: string; seq?: number | undefined }): Version => ({ at: event.occurred_at, seq: event.seq ?? -1 });

const receipt =
  (status: MessageStatus): Projector<'message.delivered' | 'message.read' | 'message.played'> =>
  (event, changes) => {
    const d = event.data;
    changes.raiseStatus(changes.message(event.instance, d.message_id, d.chat_jid), status, d.timestamp);
    changes.history.push({
      instance: event.instance,
      message_id: d.message_id,
      event_id: event.id,
      kind: 'status',
      status,
      participant_jid: d.participant_jid ?? null,
      participant_lid: d.participant_lid ?? null,
      at: d.timestamp,
      detail: null,
    });
  };

/** Any event naming group members: the participants_* types, and group upserts listing them. */
interface ParticipantsEvent {
  instance: string;
  occurred_at: string;
  seq?: number | undefined;
  data: { group_jid: string; participants?: { jid: string; lid?: string | undefined; admin?: string | null | undefined }[] | undefined };
}

const participants =
  (change: { active: boolean; admin?: 'admin' | null }) =>
  (event: ParticipantsEvent, changes: StateChanges): void => {
    for (const p of event.data.participants ?? []) {
      changes.participant({
        instance: event.instance,
        group_jid: event.data.group_jid,
        participant_jid: p.jid,
        participant_lid: p.lid ?? null,
        admin: change.admin !== undefined ? change.admin : (p.admin ?? null),
        active: change.active,
        version: versionOf(event),
      });
    }
  };

export const projectors: Projectors = {
  'message.received': (event, changes) => projectMessage(event.instance, event.data, changes, { live: true, eventId: event.id }),
  'message.sent': (event, changes) => projectMessage(event.instance, event.data, changes, { live: true, eventId: event.id }),
  'message.delivered': receipt('delivered'),
  'message.read': receipt('read'),
  'message.played': receipt('played'),
  'message.edited': (event, changes) => {
    const d = event.data;
    const patch = changes.message(event.instance, d.message_id, d.chat_jid);
    changes.addEdit(patch, { edited_at: d.timestamp, message_type: d.message_type ?? null, text: d.text ?? null, media: d.media ?? null });
    changes.history.push({
      instance: event.instance,
      message_id: d.message_id,
      event_id: event.id,
      kind: 'edit',
      status: null,
      participant_jid: d.sender_jid ?? null,
      participant_lid: d.sender_lid ?? null,
      at: d.timestamp,
      detail: { text: d.text ?? null, message_type: d.message_type ?? null },
    });
  },
  'message.deleted': (event, changes) => {
    const d = event.data;
    // "Clear chat" (no message id) is kept in the log; only a named message changes state.
    if (d.message_id === undefined) return;
    changes.markDeleted(changes.message(event.instance, d.message_id, d.chat_jid), {
      deleted_at: d.timestamp,
      deleted_scope: d.scope,
      deleted_by_jid: d.deleted_by_jid ?? null,
      deleted_by_lid: d.deleted_by_lid ?? null,
    });
    changes.history.push({
      instance: event.instance,
      message_id: d.message_id,
      event_id: event.id,
      kind: 'delete',
      status: null,
      participant_jid: d.deleted_by_jid ?? null,
      participant_lid: d.deleted_by_lid ?? null,
      at: d.timestamp,
      detail: { scope: d.scope, deleted_by_me: d.deleted_by_me },
    });
  },
  'message.reaction': (event, changes) => {
    const d = event.data;
    changes.reaction({
      instance: event.instance,
      message_id: d.message_id,
      reactor: d.from_me ? 'me' : (d.sender_jid ?? d.sender_lid ?? d.chat_jid),
      reactor_lid: d.sender_lid ?? null,
      chat_jid: d.chat_jid,
      reaction_id: d.reaction_id,
      text: d.text,
      removed: d.removed,
      reacted_at: d.timestamp,
      version: versionOf(event),
    });
  },
  'chat.upserted': (event, changes) => projectChat(event, event.data, changes),
  'chat.updated': (event, changes) => projectChat(event, event.data, changes),
  'chat.deleted': (event, changes) =>
    changes.entity(changes.chats, {
      instance: event.instance,
      key: event.data.chat_jid,
      lid: event.data.chat_lid ?? null,
      phone: null,
      attrs: {},
      deleted_at: event.occurred_at,
      version: versionOf(event),
    }),
  'contact.upserted': (event, changes) => projectContact(event, event.data, changes),
  'contact.updated': (event, changes) => projectContact(event, event.data, changes),
  'lid.mapped': (event, changes) => changes.lidMappings.push({ instance: event.instance, lid: event.data.lid, pn: event.data.pn }),
  'group.upserted': (event, changes) => {
    projectGroup(event, changes);
    participants({ active: true })(event, changes);
  },
  'group.updated': (event, changes) => {
    projectGroup(event, changes);
    participants({ active: true })(event, changes);
  },
  'group.participants_added': participants({ active: true }),
  'group.participants_modified': participants({ active: true }),
  'group.participants_removed': participants({ active: false, admin: null }),
  'group.participants_promoted': participants({ active: true, admin: 'admin' }),
  'group.participants_demoted': participants({ active: true, admin: null }),
  'media.stored': (event, changes) => {
    const d = event.data;
    changes.mediaPatch({
      instance: event.instance,
      message_id: d.message_id,
      kind: d.kind,
      mimetype: d.mimetype ?? null,
      file_length: null,
      file_name: null,
      descriptor: null,
      storage_url: d.storage_url,
      sha256: d.sha256,
      size: d.size,
      stored_event_id: event.id,
      stored_at: event.occurred_at,
    });
  },
  // A history batch is applied like the live events it stands for, in the same transaction.
  'history.messages': (event, changes) => {
    for (const message of event.data.messages) projectMessage(event.instance, message, changes, { live: false, eventId: event.id });
  },
  'history.chats': (event, changes) => {
    for (const chat of event.data.chats) projectChat(event, chat, changes);
  },
  'history.contacts': (event, changes) => {
    for (const contact of event.data.contacts) projectContact(event, contact, changes);
    for (const m of event.data.lid_mappings ?? []) changes.lidMappings.push({ instance: event.instance, lid: m.lid, pn: m.pn });
  },
};

/** Folds events (in stream order) into the state changes they make. */
export function projectEvents(events: readonly EventEnvelope[]): StateChanges {
  const changes = new StateChanges();
  for (const event of events) {
    // The map is keyed by type, so the projector found takes this very envelope type.
    const project = projectors[event.type] as ((e: EventEnvelope, c: StateChanges) => void) | undefined;
    project?.(event, changes);
  }
  return changes;
}

function projectMessage(instance: string, d: MessageData, changes: StateChanges, how: { live: boolean; eventId: string }): void {
  const patch = changes.message(instance, d.message_id, d.chat_jid);
  changes.setContent(patch, {
    chat_lid: d.chat_lid ?? null,
    sender_jid: d.sender_jid ?? null,
    sender_lid: d.sender_lid ?? null,
    from_me: d.from_me,
    push_name: d.push_name ?? null,
    message_type: d.message_type,
    text: d.text ?? null,
    media: d.media ?? null,
    quoted_message_id: d.quoted_message_id ?? null,
    sent_at: d.timestamp,
    content_event_id: how.eventId,
  });
  changes.raiseStatus(patch, d.from_me ? 'sent' : 'received', d.timestamp);
  if (d.media !== undefined) {
    changes.mediaPatch({
      instance,
      message_id: d.message_id,
      kind: d.media.kind,
      mimetype: d.media.mimetype ?? null,
      file_length: d.media.file_length ?? null,
      file_name: d.media.file_name ?? null,
      descriptor: d.media,
      storage_url: null,
      sha256: null,
      size: null,
      stored_event_id: null,
      stored_at: null,
    });
  }
  // Onboarding looks at live traffic only: a history sync brings back people already talked to.
  if (how.live && !d.from_me && isPersonalChat(d.chat_jid)) {
    changes.firstMessageFrom({
      instance,
      contact_jid: d.chat_jid,
      contact_lid: d.chat_lid ?? d.sender_lid ?? null,
      push_name: d.push_name ?? null,
      chat_jid: d.chat_jid,
      first_message_id: d.message_id,
      first_event_id: how.eventId,
      first_message_at: d.timestamp,
    });
  }
}

/** 1:1 chats only: groups, broadcasts, status and newsletters have no single new contact. */
function isPersonalChat(jid: string): boolean {
  return jid.endsWith('@s.whatsapp.net') || jid.endsWith('@lid');
}

type ChatFields = EnvelopeOf<'chat.updated'>['data'];

function projectChat(event: EventEnvelope, d: ChatFields, changes: StateChanges): void {
  const { chat_jid, chat_lid, raw: _raw, ...attrs } = d;
  changes.entity(changes.chats, {
    instance: event.instance,
    key: chat_jid,
    lid: chat_lid ?? null,
    phone: null,
    attrs,
    deleted_at: null,
    version: versionOf(event),
  });
}

type ContactFields = EnvelopeOf<'contact.updated'>['data'];

function projectContact(event: EventEnvelope, d: ContactFields, changes: StateChanges): void {
  const { contact_jid, contact_lid, raw: _raw, ...attrs } = d;
  changes.entity(changes.contacts, {
    instance: event.instance,
    key: contact_jid,
    lid: contact_lid ?? (contact_jid.endsWith('@lid') ? contact_jid : null),
    phone: contact_jid.endsWith('@s.whatsapp.net') ? contact_jid : null,
    attrs,
    deleted_at: null,
    version: versionOf(event),
  });
}

function projectGroup(event: EnvelopeOf<'group.upserted'> | EnvelopeOf<'group.updated'>, changes: StateChanges): void {
  const { group_jid, participants: _p, raw: _raw, ...attrs } = event.data;
  changes.entity(changes.groups, {
    instance: event.instance,
    key: group_jid,
    lid: null,
    phone: null,
    attrs,
    deleted_at: null,
    version: versionOf(event),
  });
}
