/** The chat and message ids the capture driver emits, shared with the tests that check them. */
export const DRIVER_CHAT = '5511999990000@s.whatsapp.net';

export function driverMessageId(k: number): string {
  return `CHAOS${k.toString().padStart(8, '0')}`;
}
