import { createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { getMediaKeys } from '@whiskeysockets/baileys';
import type { MediaDescriptor } from '@switchyard/schema';
import { MediaFailure } from './media-failure.ts';

/** WhatsApp appends the first 10 bytes of HMAC-SHA256(macKey, iv ‖ ciphertext) to the ciphertext. */
const MAC_LENGTH = 10;

export interface MediaKeys {
  iv: Buffer;
  cipherKey: Buffer;
  macKey: Buffer;
}

/** The keys of one blob, expanded by Baileys from the message's `mediaKey` for its kind. */
export async function mediaKeysFor(descriptor: MediaDescriptor): Promise<MediaKeys> {
  if (descriptor.media_key === undefined || descriptor.media_key === '') {
    throw new MediaFailure('MEDIA_UNAVAILABLE', 'the media descriptor has no media_key: the blob cannot be decrypted');
  }
  const { iv, cipherKey, macKey } = await getMediaKeys(Buffer.from(descriptor.media_key, 'base64'), descriptor.kind);
  if (iv === undefined || cipherKey === undefined || macKey === undefined) throw new Error(`Baileys derived no keys for a ${descriptor.kind}`);
  return { iv: Buffer.from(iv), cipherKey: Buffer.from(cipherKey), macKey: Buffer.from(macKey) };
}

export interface ExpectedHashes {
  /** SHA-256 of the plaintext (`fileSha256`), when the message gave it. */
  fileSha256?: Buffer | undefined;
  /** SHA-256 of what the media host serves, MAC included (`fileEncSha256`). */
  fileEncSha256?: Buffer | undefined;
}

export interface DecryptedBlob {
  /** Plaintext bytes written. */
  size: number;
  /** SHA-256 of the plaintext. */
  sha256: Buffer;
}

/**
 * Streams an encrypted WhatsApp blob (AES-256-CBC ciphertext ‖ 10-byte MAC) into `out` as
 * plaintext, and only resolves once every check holds: the MAC over iv ‖ ciphertext, the
 * encrypted file's hash and the plaintext's hash (each when the message gave one), and the
 * cipher's padding. Baileys' own download decrypts without checking any of them; a blob that
 * fails here is refused as `MEDIA_INTEGRITY`, and the caller discards what was written.
 *
 * Memory is bounded by one chunk: the last 10 bytes are held back until the next chunk shows
 * they are not the MAC.
 */
export async function decryptMedia(
  source: AsyncIterable<Uint8Array>,
  keys: MediaKeys,
  expected: ExpectedHashes,
  out: Writable,
): Promise<DecryptedBlob> {
  const decipher = createDecipheriv('aes-256-cbc', keys.cipherKey, keys.iv);
  const mac = createHmac('sha256', keys.macKey).update(keys.iv);
  const encHash = createHash('sha256');
  const plainHash = createHash('sha256');
  let size = 0;
  let tail = Buffer.alloc(0);

  const write = async (plain: Buffer): Promise<void> => {
    if (plain.length === 0) return;
    // A destroyed stream (its file could not be opened or written) never drains: fail instead.
    if (out.destroyed) throw out.errored ?? new Error('the output stream closed before the blob was written');
    size += plain.length;
    plainHash.update(plain);
    if (!out.write(plain)) await once(out, 'drain');
  };

  for await (const chunk of source) {
    const data = tail.length === 0 ? Buffer.from(chunk) : Buffer.concat([tail, chunk]);
    const cut = Math.max(0, data.length - MAC_LENGTH);
    const body = data.subarray(0, cut);
    tail = data.subarray(cut);
    encHash.update(body);
    mac.update(body);
    await write(decipher.update(body));
  }

  if (tail.length < MAC_LENGTH) {
    throw new MediaFailure('MEDIA_INTEGRITY', `the blob is ${tail.length} bytes long: shorter than its ${MAC_LENGTH}-byte MAC`);
  }
  encHash.update(tail);
  const encSha256 = encHash.digest();
  if (expected.fileEncSha256 !== undefined && !encSha256.equals(expected.fileEncSha256)) {
    throw new MediaFailure('MEDIA_INTEGRITY', `the downloaded blob's SHA-256 ${encSha256.toString('base64')} is not the message's file_enc_sha256 ${expected.fileEncSha256.toString('base64')}`);
  }
  if (!timingSafeEqual(mac.digest().subarray(0, MAC_LENGTH), tail)) {
    throw new MediaFailure('MEDIA_INTEGRITY', 'the blob\'s MAC does not match its media key: wrong key or tampered blob');
  }
  try {
    await write(decipher.final());
  } catch (err) {
    throw new MediaFailure('MEDIA_INTEGRITY', `the blob does not decrypt: ${(err as Error).message}`);
  }
  const sha256 = plainHash.digest();
  if (expected.fileSha256 !== undefined && !sha256.equals(expected.fileSha256)) {
    throw new MediaFailure('MEDIA_INTEGRITY', `the decrypted file's SHA-256 ${sha256.toString('base64')} is not the message's file_sha256 ${expected.fileSha256.toString('base64')}`);
  }
  return { size, sha256 };
}
