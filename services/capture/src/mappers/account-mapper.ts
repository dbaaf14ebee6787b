import type { BaileysEventMap, LIDMapping } from '@whiskeysockets/baileys';
import { readString } from '../wa-readers.ts';
import { contentHash } from './content-hash.ts';
import { eventIdOf, randomEventId } from './event-ids.ts';
import { makeEvent, type MapContext, type MapSink } from './map-context.ts';

/** Account-wide facts: the blocklist and LID↔phone-number mappings. */

function jidsOf(list: unknown): string[] {
  return Array.isArray(list)
    ? list.map(readString).filter((jid): jid is string => jid !== undefined)
    : [];
}

/** `blocklist.set`: the whole list, fetched on every connect — id: hash of the sorted list. */
export function mapBlocklistSet(
  { blocklist }: BaileysEventMap['blocklist.set'],
  ctx: MapContext,
  sink: MapSink,
): void {
  const jids = jidsOf(blocklist);
  const id = eventIdOf(ctx, 'blocklist.set', contentHash({ blocklist: [...jids].sort() }));
  sink.emit(makeEvent(ctx, 'blocklist.set', id, undefined, { blocklist: jids }));
}

/** `blocklist.update`: block and unblock toggle with no time — random ids. */
export function mapBlocklistUpdate(
  { blocklist, type }: BaileysEventMap['blocklist.update'],
  ctx: MapContext,
  sink: MapSink,
): void {
  const jids = jidsOf(blocklist);
  if (jids.length === 0) {
    sink.skip('missing_key', 'blocklist update without a jid');
    return;
  }
  const action = type === 'add' ? 'add' : 'remove';
  sink.emit(makeEvent(ctx, 'blocklist.updated', randomEventId(), undefined, { action, blocklist: jids }));
}

/** `lid-mapping.update`: a pair is a fact, so the pair is the id. */
export function mapLidMapping(mapping: LIDMapping, ctx: MapContext, sink: MapSink): void {
  const lid = readString(mapping.lid);
  const pn = readString(mapping.pn);
  if (lid === undefined || pn === undefined) {
    sink.skip('missing_key', 'lid mapping without lid or pn');
    return;
  }
  sink.emit(makeEvent(ctx, 'lid.mapped', eventIdOf(ctx, 'lid.mapped', lid, pn), undefined, { lid, pn }));
}
