import { proto, type BaileysEventMap } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import { mapMessage, type MessageEventType } from '../message-mapper.ts';
import { readString, readUint } from '../wa-readers.ts';
import { chatData } from './chat-mapper.ts';
import { contactData } from './contact-mapper.ts';
import { contentHash } from './content-hash.ts';
import { eventIdOf } from './event-ids.ts';
import { makeEvent, setIf, type MapContext, type MapSink } from './map-context.ts';

type HistorySet = BaileysEventMap['messaging-history.set'];
type SyncType = EventData<'history.chats'>['sync_type'];
type MessageData = EventData<MessageEventType>;
type LidMapping = EventData<'lid.mapped'>;

const SYNC_TYPES = new Set<string>([
  'initial_bootstrap',
  'initial_status_v3',
  'full',
  'recent',
  'push_name',
  'non_blocking_data',
  'on_demand',
]);

function syncTypeOf(value: unknown): SyncType {
  const code = readUint(value);
  const name = code === undefined ? undefined : proto.HistorySync.HistorySyncType[code];
  const lower = typeof name === 'string' ? name.toLowerCase() : undefined;
  return lower !== undefined && SYNC_TYPES.has(lower) ? (lower as SyncType) : 'unknown';
}

/** Default budget for one part's items: half of NATS' default max_payload, leaving room for the envelope. */
export const DEFAULT_HISTORY_PART_BYTES = 512 * 1024;

/**
 * `messaging-history.set` → up to three batch events: `history.chats`, `history.contacts`
 * (with the sync's LID↔PN pairs) and `history.messages`, each carrying the sync's position
 * (type, progress, chunk order, is_latest). Messages are read exactly as live ones
 * (message-mapper.ts); those that are no message (stubs, protocol traffic) are left out and
 * counted. A chunk holds thousands of items and NATS messages are bounded, so each kind is cut
 * into `parts` of at most `partBytes` of JSON; an item too big for a part alone loses its `raw`.
 * Id: kind, sync type, chunk order, part, hash of the part's items (event-ids.ts).
 */
export function mapHistorySet(
  set: HistorySet,
  ctx: MapContext,
  sink: MapSink,
  partBytes = DEFAULT_HISTORY_PART_BYTES,
): void {
  const position: Omit<EventData<'history.chats'>, 'chats' | 'part' | 'parts'> = {
    sync_type: syncTypeOf(set.syncType),
    is_latest: set.isLatest === true,
  };
  const progress = readUint(set.progress);
  if (progress !== undefined && progress <= 100) position.progress = progress;
  setIf(position, 'chunk_order', readUint(set.chunkOrder));
  setIf(position, 'peer_data_request_session_id', readString(set.peerDataRequestSessionId));
  const split = <T extends { raw?: Record<string, unknown> | undefined }>(items: T[]): T[][] =>
    splitBySize(items, partBytes, () => sink.skip('history_raw_dropped', 'item larger than a part'));
  const idOf = (kind: string, part: number, items: unknown[]): string =>
    eventIdOf(
      ctx,
      kind,
      position.sync_type,
      String(position.chunk_order ?? ''),
      String(part),
      contentHash({ items }),
    );

  const chats = set.chats.map(chatData).filter((c) => c !== undefined);
  split(chats).forEach((part, i, parts) => {
    const data = { ...position, part: i, parts: parts.length, chats: part };
    sink.emit(makeEvent(ctx, 'history.chats', idOf('history.chats', i, part), undefined, data));
  });

  const contacts = set.contacts.map(contactData).filter((c) => c !== undefined);
  const mappings = (set.lidPnMappings ?? []).flatMap((m): LidMapping[] => {
    const lid = readString(m.lid);
    const pn = readString(m.pn);
    return lid !== undefined && pn !== undefined ? [{ lid, pn }] : [];
  });
  // The pairs ride on the first part; a sync with pairs and no contacts still gets one.
  const contactParts = contacts.length > 0 ? split(contacts) : mappings.length > 0 ? [[]] : [];
  contactParts.forEach((part, i, parts) => {
    const data: EventData<'history.contacts'> = { ...position, part: i, parts: parts.length, contacts: part };
    if (i === 0 && mappings.length > 0) data.lid_mappings = mappings;
    const id = idOf('history.contacts', i, i === 0 ? [part, mappings] : part);
    sink.emit(makeEvent(ctx, 'history.contacts', id, undefined, data));
  });

  const messages: MessageData[] = [];
  for (const message of set.messages) {
    const result = mapMessage(message, { tenant: ctx.tenant, instance: ctx.instance, capturedAt: ctx.capturedAt, self: ctx.self });
    if (result.ok) messages.push(result.event.data);
    else sink.skip(result.reason, `history: ${result.detail}`);
  }
  split(messages).forEach((part, i, parts) => {
    const data = { ...position, part: i, parts: parts.length, messages: part };
    sink.emit(makeEvent(ctx, 'history.messages', idOf('history.messages', i, part), undefined, data));
  });
}

/** Cuts items into consecutive parts of at most `budget` bytes of JSON (an oversized item alone, without `raw`). */
export function splitBySize<T extends { raw?: Record<string, unknown> | undefined }>(
  items: T[],
  budget: number,
  onRawDropped: () => void,
): T[][] {
  const parts: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const original of items) {
    let item = original;
    let itemSize = Buffer.byteLength(JSON.stringify(item));
    if (itemSize > budget && item.raw !== undefined) {
      const { raw: _raw, ...rest } = item;
      item = rest as T;
      itemSize = Buffer.byteLength(JSON.stringify(item));
      onRawDropped();
    }
    if (current.length > 0 && size + itemSize > budget) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemSize + 1;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}
