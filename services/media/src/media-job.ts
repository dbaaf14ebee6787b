import { MEDIA_BEARING_TYPES, type EventEnvelope, type MediaDescriptor } from '@switchyard/schema';

/** What the media service must fetch for one event: one job per event, keyed by the event id. */
export interface MediaJob {
  eventId: string;
  messageId: string;
  instance: string;
  kind: MediaDescriptor['kind'];
  descriptor: MediaDescriptor;
  /** The message's time: the tenant's event retention removes its media with it. */
  occurredAt: string;
}

const mediaBearing: ReadonlySet<string> = new Set(MEDIA_BEARING_TYPES);

/** The job an event calls for, or undefined when it carries no media (text, receipts, sessions…). */
export function mediaJobFor(event: EventEnvelope): MediaJob | undefined {
  if (!mediaBearing.has(event.type) || !('media' in event.data)) return undefined;
  const { media, message_id: messageId } = event.data;
  if (media === undefined) return undefined;
  return { eventId: event.id, messageId, instance: event.instance, kind: media.kind, descriptor: media, occurredAt: event.occurred_at };
}
