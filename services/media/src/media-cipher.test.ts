import { PassThrough } from 'node:stream';
import { downloadEncryptedContent, getMediaKeys } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import { decryptMedia, mediaKeysFor } from './media-cipher.ts';
import { MediaFailure } from './media-failure.ts';
import { mediaUrlFor } from './media-fetch.ts';
import { encryptBlob, startBlobServer, type EncryptedBlob } from './test-support.ts';

async function* chunksOf(data: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function decrypt(blob: EncryptedBlob, encrypted: Buffer, chunk: number, expected = true) {
  const out = new PassThrough();
  const written: Buffer[] = [];
  out.on('data', (b: Buffer) => written.push(b));
  const result = await decryptMedia(chunksOf(encrypted, chunk), await mediaKeysFor(blob.descriptor), expected
    ? { fileSha256: Buffer.from(blob.descriptor.file_sha256!, 'base64'), fileEncSha256: Buffer.from(blob.descriptor.file_enc_sha256!, 'base64') }
    : {}, out);
  return { result, plain: Buffer.concat(written) };
}

async function failure(promise: Promise<unknown>): Promise<MediaFailure> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MediaFailure);
  return err as MediaFailure;
}

describe('decryptMedia', () => {
  it('turns what Baileys encrypted back into the file, whatever the chunking, with its hash', async () => {
    const blob = await encryptBlob('image', 100_003);
    for (const chunk of [7, 16, 4096, 1 << 20]) {
      const { result, plain } = await decrypt(blob, blob.encrypted, chunk);
      expect(plain.equals(blob.plain)).toBe(true);
      expect(result.size).toBe(100_003);
      expect(result.sha256.toString('base64')).toBe(blob.descriptor.file_sha256);
    }
  });

  it('derives the same keys as Baileys for every kind', async () => {
    for (const kind of ['image', 'video', 'audio', 'document', 'sticker'] as const) {
      const blob = await encryptBlob(kind, 64);
      const ours = await mediaKeysFor(blob.descriptor);
      const theirs = await getMediaKeys(Buffer.from(blob.descriptor.media_key, 'base64'), kind);
      expect([ours.iv, ours.cipherKey, ours.macKey].map((k) => k.toString('hex'))).toEqual(
        [theirs.iv, theirs.cipherKey, theirs.macKey].map((k) => Buffer.from(k!).toString('hex')),
      );
      const { plain } = await decrypt(blob, blob.encrypted, 1000);
      expect(plain.equals(blob.plain)).toBe(true);
    }
  });

  it('refuses a tampered blob by its MAC even when the message gave no hashes, where Baileys decrypts it silently', async () => {
    const blob = await encryptBlob('document', 5_000);
    const tampered = Buffer.from(blob.encrypted);
    tampered[100] = tampered[100]! ^ 0xff;
    const err = await failure(decrypt(blob, tampered, 512, false));
    expect(err.reason).toBe('MEDIA_INTEGRITY');
    expect(err.message).toContain('MAC');

    // Baileys' own download of the same bytes hands back a corrupted file without a word.
    const host = await startBlobServer();
    try {
      host.serve('/tampered', { body: tampered });
      const stream = await downloadEncryptedContent(`${host.url}/tampered`, await getMediaKeys(Buffer.from(blob.descriptor.media_key, 'base64'), 'document'));
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      const corrupted = Buffer.concat(chunks);
      expect(corrupted.length).toBe(blob.plain.length);
      expect(corrupted.equals(blob.plain)).toBe(false);
    } finally {
      await host.stop();
    }
  });

  it('refuses a blob whose hashes are not the message\'s, and one shorter than its MAC', async () => {
    const blob = await encryptBlob('image', 2_000);
    const other = await encryptBlob('image', 2_000);
    const wrongPlain = { ...blob, descriptor: { ...blob.descriptor, file_sha256: other.descriptor.file_sha256 } };
    expect((await failure(decrypt(wrongPlain, blob.encrypted, 300))).message).toContain('file_sha256');
    const wrongEnc = { ...blob, descriptor: { ...blob.descriptor, file_enc_sha256: other.descriptor.file_enc_sha256 } };
    expect((await failure(decrypt(wrongEnc, blob.encrypted, 300))).message).toContain('file_enc_sha256');
    // Someone else's blob under this message's key: the MAC catches it.
    expect((await failure(decrypt(blob, other.encrypted, 300, false))).message).toContain('MAC');
    expect((await failure(decrypt(blob, blob.encrypted.subarray(0, 6), 300, false))).message).toContain('shorter than');
  });

  it('refuses a descriptor without a media key', async () => {
    const err = await failure(mediaKeysFor({ kind: 'image' }));
    expect(err.reason).toBe('MEDIA_UNAVAILABLE');
  });
});

describe('mediaUrlFor', () => {
  const base = new URL('https://mmg.whatsapp.net');

  it('resolves a direct path on the media host and takes a url only on that host', () => {
    expect(mediaUrlFor({ kind: 'image', direct_path: '/v/t62.7118-24/1.enc?ccb=11-4' }, base).href).toBe('https://mmg.whatsapp.net/v/t62.7118-24/1.enc?ccb=11-4');
    expect(mediaUrlFor({ kind: 'image', url: 'https://mmg.whatsapp.net/v/t62/2.enc?x=1' }, base).href).toBe('https://mmg.whatsapp.net/v/t62/2.enc?x=1');
    // The direct path wins over a url, as in Baileys.
    expect(mediaUrlFor({ kind: 'image', direct_path: '/a.enc', url: 'https://mmg.whatsapp.net/b.enc' }, base).pathname).toBe('/a.enc');
  });

  it('never fetches from a host an event names (SSRF), nor without a place to fetch from', () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'https://mmg.whatsapp.net.evil.example/x.enc', 'not a url']) {
      const err = (() => {
        try {
          mediaUrlFor({ kind: 'image', url }, base);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(MediaFailure);
      expect((err as MediaFailure).reason).toBe('MEDIA_UNAVAILABLE');
    }
    // Paths that URL resolution reads as another host.
    for (const direct_path of ['//169.254.169.254/latest/meta-data/', '/\\evil.example/x.enc']) {
      expect(() => mediaUrlFor({ kind: 'image', direct_path }, base), direct_path).toThrow(/leads off the media host/);
    }
    expect(() => mediaUrlFor({ kind: 'image' }, base)).toThrow(/neither a direct_path nor a url/);
  });
});
