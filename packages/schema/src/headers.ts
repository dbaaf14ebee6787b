/**
 * NATS headers with a meaning across services (besides `Nats-Msg-Id`, which is always the event id
 * or a key derived from it).
 */
export const HEADERS = {
  /** On EVENTS: this message re-publishes a stored event for replay `<value>` (persistence API). */
  replay: 'Switchyard-Replay',
  /** On any stream: this message was requeued by an SRE from exhausted event `<dlq key>`. */
  requeuedFrom: 'Switchyard-Requeued-From',
} as const;

/** A header's first value, whatever case the publisher used for its name. */
export function headerValue(headers: Record<string, string[]>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, values] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return values[0];
  }
  return undefined;
}
