import type { Contact } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import { toRawJson } from '../raw-message.ts';
import { readString } from '../wa-readers.ts';
import { addressOf } from './address.ts';
import { contentHash } from './content-hash.ts';
import { eventIdOf, randomEventId } from './event-ids.ts';
import { makeEvent, setIf, type MapContext, type MapSink } from './map-context.ts';

type ContactData = EventData<'contact.upserted'>;

/** A contact (full or partial) as event data; undefined when it names no one. */
export function contactData(contact: Partial<Contact>): ContactData | undefined {
  const address = addressOf(contact.id, contact.phoneNumber, contact.lid);
  if (address.jid === undefined) return undefined;
  const data: ContactData = { contact_jid: address.jid };
  setIf(data, 'contact_lid', address.lid);
  setIf(data, 'name', readString(contact.name)?.slice(0, 1024));
  setIf(data, 'notify', readString(contact.notify)?.slice(0, 1024));
  setIf(data, 'username', readString(contact.username)?.slice(0, 256));
  setIf(data, 'verified_name', readString(contact.verifiedName)?.slice(0, 1024));
  setIf(data, 'img_url', contact.imgUrl === null ? null : readString(contact.imgUrl));
  setIf(data, 'status', readString(contact.status)?.slice(0, 1024));
  data.raw = toRawJson(contact);
  return data;
}

/** `contacts.upsert`: a snapshot — id: contact + content hash (event-ids.ts). */
export function mapContactUpserts(contacts: Contact[], ctx: MapContext, sink: MapSink): void {
  for (const contact of contacts) {
    const data = contactData(contact);
    if (!data) {
      sink.skip('missing_key', 'contact without id');
      continue;
    }
    const id = eventIdOf(ctx, 'contact.upserted', data.contact_jid, contentHash(data));
    sink.emit(makeEvent(ctx, 'contact.upserted', id, undefined, data));
  }
}

/**
 * `contacts.update`: a delta — random id. Baileys emits one with the sender's push name for
 * every incoming message, so a repeat of the contact's previous update is collapsed.
 */
export function mapContactUpdates(
  updates: Array<Partial<Contact>>,
  ctx: MapContext,
  sink: MapSink,
): void {
  for (const update of updates) {
    const data = contactData(update);
    if (!data) {
      sink.skip('missing_key', 'contact update without id');
      continue;
    }
    if (ctx.lastState?.changed(`contact:${data.contact_jid}`, contentHash(data)) === false) {
      sink.skip('repeated_update', 'contact update identical to the previous one');
      continue;
    }
    sink.emit(makeEvent(ctx, 'contact.updated', randomEventId(), undefined, data));
  }
}
