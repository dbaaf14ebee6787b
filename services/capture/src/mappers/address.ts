import { isHostedLidUser, isLidUser } from '@whiskeysockets/baileys';
import type { SplitAddress } from '../jid-addressing.ts';
import { readString } from '../wa-readers.ts';

function isLid(jid: string): boolean {
  return isLidUser(jid) === true || isHostedLidUser(jid) === true;
}

/**
 * Like `splitAddress`, for payloads that name one party in up to three fields (a contact's `id`,
 * `lid` and `phoneNumber`; a caller's `from` and `callerPn`): the first phone-number-or-group JID
 * goes to `jid` (the LID when nothing else is known), the first LID to `lid`.
 */
export function addressOf(...candidates: unknown[]): SplitAddress {
  const jids = candidates.map(readString).filter((jid): jid is string => jid !== undefined);
  const lid = jids.find(isLid);
  const pn = jids.find((jid) => !isLid(jid));
  return { jid: pn ?? lid, lid };
}
