import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobNotFoundError, fsBlobStore } from './blob-store.ts';

describe('fsBlobStore', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'media-fs-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const blob = async (text: string) => {
    const file = join(dir, `src-${text.length}`);
    await writeFile(file, text);
    return { file, size: text.length, sha256: createHash('sha256').update(text).digest() };
  };

  it('stores a file under its key and answers its file URL; storing the key again replaces it whole', async () => {
    const store = fsBlobStore(join(dir, 'media'));
    const url = await store.put('acme/phone-1/ev-1', await blob('first'));
    const path = fileURLToPath(url);
    expect(path).toBe(join(dir, 'media', 'acme', 'phone-1', 'ev-1'));
    expect(await readFile(path, 'utf8')).toBe('first');
    expect(await store.put('acme/phone-1/ev-1', await blob('second!'))).toBe(url);
    expect(await readFile(path, 'utf8')).toBe('second!');
    expect(await readdir(join(dir, 'media', 'acme', 'phone-1'))).toEqual(['ev-1']);
  });

  it('leaves nothing under the key when the copy fails', async () => {
    const store = fsBlobStore(join(dir, 'media'));
    const err = await store.put('acme/phone-1/ev-2', { file: join(dir, 'missing'), size: 1, sha256: Buffer.alloc(32) }).catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(await readdir(join(dir, 'media', 'acme', 'phone-1'))).toEqual(['ev-1']);
  });

  it('reads back only its own files, and has no presigned URLs', async () => {
    const store = fsBlobStore(join(dir, 'media'));
    const url = await store.put('acme/phone-1/ev-3', await blob('third'));
    const object = await store.read(url);
    expect(object.size).toBe(5);
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('third');
    expect(await store.presign(url, 60_000)).toBeUndefined();
    for (const outside of ['file:///etc/passwd', `file://${join(dir, 'media-other', 'x')}`, 's3://bucket/acme/x', `file://${join(dir, 'media', 'acme', 'phone-1', 'missing')}`]) {
      await expect(store.read(outside), outside).rejects.toBeInstanceOf(BlobNotFoundError);
    }
  });

  it('deletes the files behind its own URLs, tolerates one already gone, and refuses any other', async () => {
    const store = fsBlobStore(join(dir, 'media'));
    const a = await store.put('acme/phone-2/ev-a', await blob('a'));
    const b = await store.put('acme/phone-2/ev-b', await blob('bb'));
    expect([store.holds(a), store.holds('file:///etc/hostname'), store.holds('s3://media/acme/x')]).toEqual([true, false, false]);
    await expect(store.delete([a, 'file:///etc/hostname'])).rejects.toBeInstanceOf(BlobNotFoundError);
    expect((await readdir(join(dir, 'media', 'acme', 'phone-2'))).sort()).toEqual(['ev-a', 'ev-b']);
    await store.delete([a]);
    await store.delete([a, b]);
    expect(await readdir(join(dir, 'media', 'acme', 'phone-2'))).toEqual([]);
  });
});
