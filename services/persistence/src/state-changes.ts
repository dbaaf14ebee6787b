/**
 * What a batch of events changes in the state tables, folded in memory first: one bulk
 * statement per table can touch a row only once, and folding with the same rules the SQL
 * applies (state-writes.ts) gives the same result whatever the batch boundaries were.
 */

/** The event that wrote a row last; an older one never overwrites it. */
export interface Version {
  at: string;
  seq: number;
}

export function compareVersions(a: Version, b: Version): number {
  const byTime = Date.parse(a.at) - Date.parse(b.at);
  return byTime !== 0 ? byTime : a.seq - b.seq;
}

/** Receipts only ever move a message's status up, whatever order they arrive in. */
export const STATUS_RANK = { unknown: 0, received: 1, sent: 1, delivered: 2, read: 3, played: 4 } as const;
export type MessageStatus = keyof typeof STATUS_RANK;

export interface MessageContent {
  chat_lid: string | null;
  sender_jid: string | null;
  sender_lid: string | null;
  from_me: boolean;
  push_name: string | null;
  message_type: string;
  text: string | null;
  media: Record<string, unknown> | null;
  quoted_message_id: string | null;
  sent_at: string;
  content_event_id: string;
}

export interface MessageEdit {
  edited_at: string;
  message_type: string | null;
  text: string | null;
  media: Record<string, unknown> | null;
  /** Edits folded into this patch (each new edit event counts, even an out-of-order one). */
  count: number;
}

export interface MessageDeletion {
  deleted_at: string;
  deleted_scope: string;
  deleted_by_jid: string | null;
  deleted_by_lid: string | null;
}

export interface MessagePatch {
  instance: string;
  message_id: string;
  chat_jid: string;
  content?: MessageContent;
  status?: { status: MessageStatus; rank: number; at: string };
  edit?: MessageEdit;
  deletion?: MessageDeletion;
}

export interface MessageHistoryRow {
  instance: string;
  message_id: string;
  event_id: string;
  kind: 'status' | 'edit' | 'delete';
  status: string | null;
  participant_jid: string | null;
  participant_lid: string | null;
  at: string;
  detail: Record<string, unknown> | null;
}

/** A chat, contact or group: what changed (merged into `attrs`), never older than the row. */
export interface EntityPatch {
  instance: string;
  key: string;
  lid: string | null;
  phone: string | null;
  attrs: Record<string, unknown>;
  /** When it was deleted; null for any other event (an update after a deletion revives it). */
  deleted_at: string | null;
  version: Version;
}

export interface ParticipantRow {
  instance: string;
  group_jid: string;
  participant_jid: string;
  participant_lid: string | null;
  admin: string | null;
  active: boolean;
  version: Version;
}

export interface ReactionRow {
  instance: string;
  message_id: string;
  reactor: string;
  reactor_lid: string | null;
  chat_jid: string;
  reaction_id: string;
  text: string;
  removed: boolean;
  reacted_at: string;
  version: Version;
}

export interface MediaPatch {
  instance: string;
  message_id: string;
  kind: string;
  mimetype: string | null;
  file_length: number | null;
  file_name: string | null;
  descriptor: Record<string, unknown> | null;
  storage_url: string | null;
  sha256: string | null;
  size: number | null;
  stored_event_id: string | null;
  stored_at: string | null;
}

export interface OnboardingRow {
  instance: string;
  contact_jid: string;
  contact_lid: string | null;
  push_name: string | null;
  chat_jid: string;
  first_message_id: string;
  first_event_id: string;
  first_message_at: string;
}

export interface LidMappingRow {
  instance: string;
  lid: string;
  pn: string;
}

export class StateChanges {
  readonly messages = new Map<string, MessagePatch>();
  readonly history: MessageHistoryRow[] = [];
  readonly chats = new Map<string, EntityPatch>();
  readonly contacts = new Map<string, EntityPatch>();
  readonly groups = new Map<string, EntityPatch>();
  readonly participants = new Map<string, ParticipantRow>();
  readonly reactions = new Map<string, ReactionRow>();
  readonly media = new Map<string, MediaPatch>();
  readonly onboarding = new Map<string, OnboardingRow>();
  readonly lidMappings: LidMappingRow[] = [];

  message(instance: string, messageId: string, chatJid: string): MessagePatch {
    const key = `${instance}\u0000${messageId}`;
    let patch = this.messages.get(key);
    if (patch === undefined) {
      patch = { instance, message_id: messageId, chat_jid: chatJid };
      this.messages.set(key, patch);
    }
    return patch;
  }

  /** The first message event of a message sets its content; later copies (history, re-sync) do not. */
  setContent(patch: MessagePatch, content: MessageContent): void {
    patch.content ??= content;
  }

  raiseStatus(patch: MessagePatch, status: MessageStatus, at: string): void {
    const rank = STATUS_RANK[status];
    if (patch.status === undefined || rank > patch.status.rank) patch.status = { status, rank, at };
  }

  addEdit(patch: MessagePatch, edit: Omit<MessageEdit, 'count'>): void {
    const count = (patch.edit?.count ?? 0) + 1;
    if (patch.edit === undefined || Date.parse(edit.edited_at) > Date.parse(patch.edit.edited_at)) patch.edit = { ...edit, count };
    else patch.edit.count = count;
  }

  markDeleted(patch: MessagePatch, deletion: MessageDeletion): void {
    patch.deletion ??= deletion;
  }

  /** Newer-or-equal merges into what the batch has so far; older is dropped, as in SQL. */
  entity(map: Map<string, EntityPatch>, patch: EntityPatch): void {
    const key = `${patch.instance}\u0000${patch.key}`;
    const current = map.get(key);
    if (current === undefined) {
      map.set(key, patch);
      return;
    }
    if (compareVersions(patch.version, current.version) < 0) return;
    map.set(key, {
      ...patch,
      lid: patch.lid ?? current.lid,
      phone: patch.phone ?? current.phone,
      attrs: { ...current.attrs, ...patch.attrs },
    });
  }

  participant(row: ParticipantRow): void {
    const key = `${row.instance}\u0000${row.group_jid}\u0000${row.participant_jid}`;
    const current = this.participants.get(key);
    if (current === undefined || compareVersions(row.version, current.version) >= 0) {
      this.participants.set(key, { ...row, participant_lid: row.participant_lid ?? current?.participant_lid ?? null });
    }
  }

  reaction(row: ReactionRow): void {
    const key = `${row.instance}\u0000${row.message_id}\u0000${row.reactor}`;
    const current = this.reactions.get(key);
    if (current === undefined || Date.parse(row.reacted_at) >= Date.parse(current.reacted_at)) this.reactions.set(key, row);
  }

  mediaPatch(patch: MediaPatch): void {
    const key = `${patch.instance}\u0000${patch.message_id}`;
    const current = this.media.get(key);
    if (current === undefined) {
      this.media.set(key, patch);
      return;
    }
    // Descriptor fields: the first wins; stored fields: whatever says where the blob is.
    this.media.set(key, {
      ...current,
      descriptor: current.descriptor ?? patch.descriptor,
      mimetype: current.mimetype ?? patch.mimetype,
      file_length: current.file_length ?? patch.file_length,
      file_name: current.file_name ?? patch.file_name,
      storage_url: patch.storage_url ?? current.storage_url,
      sha256: patch.sha256 ?? current.sha256,
      size: patch.size ?? current.size,
      stored_event_id: patch.stored_event_id ?? current.stored_event_id,
      stored_at: patch.stored_at ?? current.stored_at,
    });
  }

  firstMessageFrom(row: OnboardingRow): void {
    const key = `${row.instance}\u0000${row.contact_jid}`;
    const current = this.onboarding.get(key);
    if (current === undefined || Date.parse(row.first_message_at) < Date.parse(current.first_message_at)) this.onboarding.set(key, row);
  }
}
