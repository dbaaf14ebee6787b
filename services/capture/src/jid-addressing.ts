import { isHostedLidUser, isLidUser } from '@whiskeysockets/baileys';

/**
 * WhatsApp addresses people by LID (`…@lid`) and, where it still reveals it, by phone-number JID
 * (`…@s.whatsapp.net`). Baileys 7 puts whichever the stanza used in `remoteJid`/`participant`
 * (see `key.addressingMode`) and the other, when known, in `remoteJidAlt`/`participantAlt`.
 * Our events keep both in fixed slots: `*_jid` holds the phone-number (or group/broadcast/
 * newsletter) JID, `*_lid` the LID — so a consumer never has to know which one WhatsApp led with.
 */
export interface SplitAddress {
  /** The phone-number form, or the LID when that is all WhatsApp revealed (the `_jid` slots must address something). */
  jid: string | undefined;
  lid: string | undefined;
}

function isLid(jid: string): boolean {
  return isLidUser(jid) === true || isHostedLidUser(jid) === true;
}

export function splitAddress(
  primary: string | null | undefined,
  alt: string | null | undefined,
): SplitAddress {
  const candidates = [primary, alt].filter(
    (jid): jid is string => typeof jid === 'string' && jid !== '',
  );
  const lid = candidates.find(isLid);
  const pn = candidates.find((jid) => !isLid(jid));
  return { jid: pn ?? lid, lid };
}
