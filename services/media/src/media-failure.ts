import type { DlqReason } from '@switchyard/schema';

/** Why no retry can fetch a blob: the job fails and its event is dead-lettered with this reason. */
export type MediaFailureReason = Extract<DlqReason, 'MEDIA_UNAVAILABLE' | 'MEDIA_INTEGRITY' | 'PAYLOAD_TOO_LARGE'>;

/**
 * A media job that failed for good. Anything else thrown while fetching (network, timeouts, 5xx,
 * 429, the store or NATS away) is retried on the consume loop's schedule instead.
 */
export class MediaFailure extends Error {
  constructor(
    readonly reason: MediaFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'MediaFailure';
  }
}
