import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsBlobStore } from './blob-store.ts';
import { mediaDownloader } from './media-download.ts';
import { MediaFailure } from './media-failure.ts';
import { encryptBlob, startBlobServer, type BlobServer } from './test-support.ts';

describe('mediaDownloader', () => {
  let host: BlobServer;
  let dir: string;
  const dispatcher = new Agent();
  beforeAll(async () => {
    host = await startBlobServer();
    dir = await mkdtemp(join(tmpdir(), 'media-download-'));
  });
  afterAll(async () => {
    await host.stop();
    await dispatcher.close();
    await rm(dir, { recursive: true, force: true });
  });

  const downloader = (workDir: string) =>
    mediaDownloader({ store: fsBlobStore(join(dir, 'store')), dispatcher, baseUrl: new URL(host.url), timeoutMs: 5_000, maxBytes: 1_000_000, workDir });

  it('stores the decrypted file under the job key and leaves no scratch file behind', async () => {
    const blob = await encryptBlob('audio', 30_000, 'audio/ogg');
    host.serve('/a.enc', { body: blob.encrypted });
    const work = join(dir, 'work');
    const stored = await downloader(work)('acme', { eventId: 'ev-1', messageId: 'M1', instance: 'phone-1', occurredAt: '2026-11-25T00:00:00Z', kind: 'audio', descriptor: { ...blob.descriptor, direct_path: '/a.enc' } });
    expect(stored).toMatchObject({ size: 30_000, sha256: blob.descriptor.file_sha256 });
    expect((await readFile(fileURLToPath(stored.storageUrl))).equals(blob.plain)).toBe(true);
    expect(fileURLToPath(stored.storageUrl)).toBe(join(dir, 'store', 'acme', 'phone-1', 'ev-1'));
    expect(await readdir(work)).toEqual([]);
  });

  it('fails the try, as retryable, when the scratch file cannot be written, and stores nothing', async () => {
    // Large enough that the decryption waits for the stream to drain, which a failed stream never does.
    const blob = await encryptBlob('image', 400_000);
    host.serve('/b.enc', { body: blob.encrypted });
    // Files cannot be created under /proc/self: the scratch file's stream fails on open.
    const err = await downloader('/proc/self')('acme', { eventId: 'ev-2', messageId: 'M2', instance: 'phone-1', occurredAt: '2026-11-25T00:00:00Z', kind: 'image', descriptor: { ...blob.descriptor, direct_path: '/b.enc' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(MediaFailure);
    expect((await readdir(join(dir, 'store', 'acme', 'phone-1')).catch((): string[] => [])).includes('ev-2')).toBe(false);
  });

  it('refuses a blob larger than the size its message declares', async () => {
    const blob = await encryptBlob('image', 5_000);
    host.serve('/c.enc', { body: blob.encrypted });
    const err = await downloader(join(dir, 'work'))('acme', { eventId: 'ev-3', messageId: 'M3', instance: 'phone-1', occurredAt: '2026-11-25T00:00:00Z', kind: 'image', descriptor: { ...blob.descriptor, file_sha256: undefined, file_enc_sha256: undefined, file_length: 4_000, direct_path: '/c.enc' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaFailure);
    expect((err as MediaFailure).reason).toBe('MEDIA_INTEGRITY');
    expect((err as MediaFailure).message).toContain('the message says 4000');
  });
});
