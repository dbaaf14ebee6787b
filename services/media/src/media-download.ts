import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import type { BlobStore } from './blob-store.ts';
import { decryptMedia, mediaKeysFor } from './media-cipher.ts';
import { MediaFailure } from './media-failure.ts';
import { fetchMedia, mediaUrlFor } from './media-fetch.ts';
import type { MediaJob } from './media-job.ts';

export interface MediaDownloaderOptions {
  store: BlobStore;
  dispatcher: Dispatcher;
  /** The media host (`MEDIA_DOWNLOAD_BASE_URL`). */
  baseUrl: URL;
  timeoutMs: number;
  maxBytes: number;
  /** Where a blob is decrypted to before it is stored (`MEDIA_WORK_DIR`). */
  workDir: string;
}

export interface DownloadedMedia {
  storageUrl: string;
  size: number;
  /** SHA-256 of the plaintext, base64. */
  sha256: string;
}

/** Fetches, decrypts, verifies and stores one job's blob; throws MediaFailure when no retry can help. */
export type MediaDownloader = (tenant: string, job: MediaJob) => Promise<DownloadedMedia>;

/**
 * The blob goes through a file in `workDir`, never whole in memory, and reaches the store only
 * once every check passed: a blob that fails half-way leaves nothing behind. The key is the
 * source event's (`<tenant>/<instance>/<event id>`), so a retry after a crash overwrites the
 * same object with the same bytes.
 */
export function mediaDownloader(options: MediaDownloaderOptions): MediaDownloader {
  // Made once, not per job; made again if something removed it (a cleaner of the temp dir).
  let workDirReady: Promise<unknown> | undefined;
  return async (tenant, job) => {
    const { descriptor } = job;
    const keys = await mediaKeysFor(descriptor);
    const url = mediaUrlFor(descriptor, options.baseUrl);
    workDirReady ??= mkdir(options.workDir, { recursive: true });
    await workDirReady;
    const file = join(options.workDir, `${job.eventId}.${randomUUID()}.part`);
    try {
      const source = await fetchMedia(url, { dispatcher: options.dispatcher, timeoutMs: options.timeoutMs, maxBytes: options.maxBytes });
      const out = createWriteStream(file);
      // A failed write (disk full, the directory gone) must fail the try, never store a short file.
      let writeError: NodeJS.ErrnoException | undefined;
      out.on('error', (err: NodeJS.ErrnoException) => {
        writeError ??= err;
        if (err.code === 'ENOENT') workDirReady = undefined;
      });
      const closed = once(out, 'close');
      let decrypted;
      try {
        decrypted = await decryptMedia(source, keys, {
          fileSha256: optionalBase64(descriptor.file_sha256),
          fileEncSha256: optionalBase64(descriptor.file_enc_sha256),
        }, out);
      } finally {
        out.end();
        await closed;
      }
      if (writeError !== undefined) throw new Error(`writing the decrypted blob to ${options.workDir} failed: ${writeError.message}`, { cause: writeError });
      if (descriptor.file_length !== undefined && descriptor.file_length !== decrypted.size) {
        throw new MediaFailure('MEDIA_INTEGRITY', `the decrypted file is ${decrypted.size} bytes, the message says ${descriptor.file_length}`);
      }
      const storageUrl = await options.store.put(`${tenant}/${job.instance}/${job.eventId}`, {
        file,
        size: decrypted.size,
        sha256: decrypted.sha256,
        contentType: descriptor.mimetype,
      });
      return { storageUrl, size: decrypted.size, sha256: decrypted.sha256.toString('base64') };
    } finally {
      await rm(file, { force: true });
    }
  };
}

function optionalBase64(value: string | undefined): Buffer | undefined {
  return value === undefined || value === '' ? undefined : Buffer.from(value, 'base64');
}
