import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { assertTenantId } from '@switchyard/schema';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export interface StoredBlob {
  /** A verified plaintext file, deleted by the caller once `put` returns. */
  file: string;
  size: number;
  sha256: Buffer;
  contentType?: string | undefined;
}

export interface StoredObject {
  body: Readable;
  size: number;
}

/** The object a storage URL names is not in the store (deleted by hand, or another store's URL). */
export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
}

/**
 * Where decrypted media ends. `put` is idempotent by key: a job retried after a crash writes the
 * same bytes under the same key again, so a blob is never stored twice under two names.
 */
export interface BlobStore {
  /** Stores the file under `key` and returns the URL recorded in `media.stored`. */
  put(key: string, blob: StoredBlob): Promise<string>;
  /** The object behind a URL `put` returned; BlobNotFoundError when it is not in this store. */
  read(storageUrl: string): Promise<StoredObject>;
  /** A URL that GETs the object without credentials for `ttlMs`; undefined for a directory. */
  presign(storageUrl: string, ttlMs: number): Promise<string | undefined>;
  /**
   * Removes every object under `<tenant>/` last written before `before` (all of them when it is
   * undefined) and answers how many went; `onProgress` hears the running count after each batch.
   */
  deleteTenant(tenant: string, before: Date | undefined, onProgress?: (removed: number) => void): Promise<number>;
  /**
   * Removes the objects behind these URLs (`put`'s answers; at most 1,000). One already gone is
   * not an error; a URL outside this store is (BlobNotFoundError), and nothing is removed then.
   */
  delete(storageUrls: readonly string[]): Promise<void>;
  /** Whether a URL names an object of this store (its directory, or its bucket). */
  holds(storageUrl: string): boolean;
  close(): void;
}

/** Objects deleted per request (S3's DeleteObjects takes up to 1,000). */
const DELETE_BATCH = 1_000;

/** A directory (a volume, in Kubernetes): each key is a file, written whole or not at all. */
export function fsBlobStore(root: string): BlobStore {
  const base = resolve(root);
  return {
    async put(key, blob) {
      const target = join(base, key);
      const partial = `${target}.part`;
      await mkdir(dirname(target), { recursive: true });
      try {
        await copyFile(blob.file, partial);
        await rename(partial, target);
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
      return pathToFileURL(target).href;
    },
    async read(storageUrl) {
      // Only files of this store: a URL is read from the tenant's own rows, but never trusted.
      const path = pathOf(storageUrl);
      if (path === undefined) throw new BlobNotFoundError(`${storageUrl} is not in this media store (${pathToFileURL(base).href})`);
      try {
        const { size } = await stat(path);
        return { body: createReadStream(path), size };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(`${storageUrl} is gone from the media store`, { cause: err });
        throw err;
      }
    },
    presign: () => Promise.resolve(undefined),
    async delete(storageUrls) {
      const paths = storageUrls.map((url) => {
        const path = pathOf(url);
        if (path === undefined) throw new BlobNotFoundError(`${url} is not in this media store (${pathToFileURL(base).href})`);
        return path;
      });
      for (const path of paths) await rm(path, { force: true });
    },
    holds: (storageUrl) => pathOf(storageUrl) !== undefined,
    async deleteTenant(tenant, before, onProgress) {
      assertTenantId(tenant);
      const dir = join(base, tenant);
      let removed = 0;
      // Depth first, so a directory is looked at after its files went.
      const sweep = async (path: string): Promise<boolean> => {
        let entries;
        try {
          entries = await readdir(path, { withFileTypes: true });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
          throw err;
        }
        let empty = true;
        for (const entry of entries) {
          const child = join(path, entry.name);
          if (entry.isDirectory()) {
            if (await sweep(child)) await rmdir(child);
            else empty = false;
            continue;
          }
          if (before !== undefined && (await stat(child)).mtime >= before) {
            empty = false;
            continue;
          }
          await rm(child, { force: true });
          if (++removed % DELETE_BATCH === 0) onProgress?.(removed);
        }
        return empty;
      };
      if (await sweep(dir)) await rmdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
      onProgress?.(removed);
      return removed;
    },
    close() {},
  };

  /** The file of one of this store's URLs; undefined for any other URL. */
  function pathOf(storageUrl: string): string | undefined {
    const path = storageUrl.startsWith('file:') ? fileURLToPath(storageUrl) : undefined;
    return path !== undefined && path.startsWith(base + sep) ? path : undefined;
  }
}

export interface S3BlobStoreOptions {
  bucket: string;
  region: string;
  /** An S3-compatible server (MinIO, versitygw, Ceph…); AWS itself when absent. */
  endpoint?: string | undefined;
  forcePathStyle: boolean;
  /** Prepended to every key (e.g. `switchyard/`). */
  prefix: string;
  /** Tests; otherwise the SDK's default chain (AWS_* variables, web identity, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * An S3 bucket. The SDK sends the object's SHA-256 with it (`ChecksumSHA256`), so S3 refuses a
 * body that changed on the way rather than storing it.
 */
export function s3BlobStore(options: S3BlobStoreOptions): BlobStore {
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  });
  return {
    async put(key, blob) {
      const objectKey = `${options.prefix}${key}`;
      await client.send(
        new PutObjectCommand({
          Bucket: options.bucket,
          Key: objectKey,
          Body: createReadStream(blob.file),
          ContentLength: blob.size,
          ChecksumSHA256: blob.sha256.toString('base64'),
          ...(blob.contentType !== undefined ? { ContentType: blob.contentType } : {}),
        }),
      );
      return `s3://${options.bucket}/${objectKey}`;
    },
    async read(storageUrl) {
      const key = keyOf(storageUrl);
      try {
        const got = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }));
        if (!(got.Body instanceof Readable)) throw new Error(`S3 answered ${storageUrl} without a body stream`);
        return { body: got.Body, size: got.ContentLength ?? 0 };
      } catch (err) {
        if (err instanceof NoSuchKey) throw new BlobNotFoundError(`${storageUrl} is gone from the bucket`, { cause: err });
        throw err;
      }
    },
    presign(storageUrl, ttlMs) {
      return getSignedUrl(client, new GetObjectCommand({ Bucket: options.bucket, Key: keyOf(storageUrl) }), { expiresIn: Math.max(1, Math.round(ttlMs / 1000)) });
    },
    async delete(storageUrls) {
      if (storageUrls.length > DELETE_BATCH) throw new RangeError(`at most ${DELETE_BATCH} objects per delete, got ${storageUrls.length}`);
      const keys = storageUrls.map(keyOf);
      if (keys.length > 0) await deleteKeys(keys);
    },
    holds: (storageUrl) => storageUrl.startsWith(`s3://${options.bucket}/`),
    async deleteTenant(tenant, before, onProgress) {
      assertTenantId(tenant);
      let removed = 0;
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: options.bucket, Prefix: `${options.prefix}${tenant}/`, MaxKeys: DELETE_BATCH, ...(token !== undefined ? { ContinuationToken: token } : {}) }),
        );
        const doomed = (page.Contents ?? []).filter((o) => o.Key !== undefined && (before === undefined || o.LastModified === undefined || o.LastModified < before));
        if (doomed.length > 0) {
          await deleteKeys(doomed.map((o) => o.Key!));
          removed += doomed.length;
          onProgress?.(removed);
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return removed;
    },
    close() {
      client.destroy();
    },
  };

  /** DeleteObjects, quiet: S3 answers only the keys it failed on (a missing key is not one). */
  async function deleteKeys(keys: string[]): Promise<void> {
    const result = await client.send(new DeleteObjectsCommand({ Bucket: options.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new Error(`S3 refused to delete ${failed.length} of ${keys.length} objects (first: ${first.Key}: ${first.Code} ${first.Message})`);
    }
  }

  function keyOf(storageUrl: string): string {
    const prefix = `s3://${options.bucket}/`;
    if (!storageUrl.startsWith(prefix)) throw new BlobNotFoundError(`${storageUrl} is not in this media store (${prefix})`);
    return storageUrl.slice(prefix.length);
  }
}
