// What `pnpm bench e2e --source capture` feeds capture with, shared by the bench (which must know
// every event id it waits for) and the capture feed process (capture-feed.ts, which emits them).

/** The chat every fed message comes from: one contact writing to each WhatsApp number. */
export const FEED_CHAT = '5511988880000@s.whatsapp.net';

/** Message `i` of a phase: tenants in turn, and within a tenant its numbers `phone-1…` in turn. */
export interface FedMessage {
  tenant: string;
  instance: string;
  /** The WhatsApp message id (`key.id`). */
  messageId: string;
}

/** What every message id of a phase starts with: alphanumeric, as WhatsApp's own ids are. */
export function fedMessagePrefix(phase: string): string {
  return `E2E${phase.toUpperCase()}`;
}

export function fedMessage(phase: string, i: number, tenants: readonly string[], instances: number): FedMessage {
  const tenant = tenants[i % tenants.length]!;
  const perTenant = Math.floor(i / tenants.length);
  return { tenant, instance: `phone-${(perTenant % instances) + 1}`, messageId: `${fedMessagePrefix(phase)}${i}` };
}

/** bench → feed: hand `count` messages of `phase` to Baileys' emitters, as fast as they go or at `rate`/s. */
export interface FeedCommand {
  op: 'feed';
  phase: string;
  tenants: string[];
  instances: number;
  count: number;
  /** Open loop, every 10 ms what is due; absent: as fast as the emitters take them. */
  rate?: number;
}

/** feed → bench. */
export type FeedReply =
  | { op: 'progress'; phase: string; emitted: number }
  | { op: 'done'; phase: string; emitted: number; seconds: number }
  | { op: 'failed'; phase: string; error: string };
