import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the capture driver shares with the suite: the chat and message ids it emits, and where it spools. */
export const DRIVER_CHAT = '5511999990000@s.whatsapp.net';

export function driverMessageId(k: number): string {
  return `CHAOS${k.toString().padStart(8, '0')}`;
}

/**
 * Where the capture driver spools, one folder per scratch database; the suite's teardown removes
 * it, since by then every file's fleet has stopped and its spools were replayed or abandoned.
 */
export const CHAOS_SPOOL_ROOT = join(tmpdir(), 'switchyard-chaos-spool');
