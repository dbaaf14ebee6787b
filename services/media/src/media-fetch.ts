import { DEFAULT_ORIGIN } from '@whiskeysockets/baileys';
import { request, type Dispatcher } from 'undici';
import type { MediaDescriptor } from '@switchyard/schema';
import { MediaFailure } from './media-failure.ts';

/**
 * Where a blob is fetched from. Like Baileys, the direct path on the media host comes first; a
 * full `url` is used only when it is on that same host. Events published by tenants carry
 * descriptors too, so the media service never fetches from a host an event names: only from
 * `MEDIA_DOWNLOAD_BASE_URL` (WhatsApp's `https://mmg.whatsapp.net` by default).
 */
export function mediaUrlFor(descriptor: MediaDescriptor, base: URL): URL {
  if (descriptor.direct_path !== undefined && descriptor.direct_path.startsWith('/')) {
    const url = new URL(descriptor.direct_path, base);
    // `//host/…` and `/\host/…` are paths only in name: URL resolution takes them as another host.
    if (url.origin !== base.origin) {
      throw new MediaFailure('MEDIA_UNAVAILABLE', `the media descriptor's direct_path ${JSON.stringify(descriptor.direct_path.slice(0, 200))} leads off the media host ${base.origin} (MEDIA_DOWNLOAD_BASE_URL)`);
    }
    return url;
  }
  if (descriptor.url !== undefined) {
    let url: URL;
    try {
      url = new URL(descriptor.url);
    } catch {
      throw new MediaFailure('MEDIA_UNAVAILABLE', `the media descriptor's url is not a URL: ${JSON.stringify(descriptor.url.slice(0, 200))}`);
    }
    if (url.origin !== base.origin) {
      throw new MediaFailure('MEDIA_UNAVAILABLE', `the media descriptor's url is on ${url.origin}, not on the media host ${base.origin} (MEDIA_DOWNLOAD_BASE_URL)`);
    }
    return url;
  }
  throw new MediaFailure('MEDIA_UNAVAILABLE', 'the media descriptor has neither a direct_path nor a url');
}

export interface FetchMediaOptions {
  dispatcher: Dispatcher;
  /** The whole download, headers and body, must finish within this. */
  timeoutMs: number;
  /** Encrypted bytes allowed; more is refused as PAYLOAD_TOO_LARGE. */
  maxBytes: number;
}

// The media host's answers that no retry changes: the blob expired or was never there.
const GONE = new Set([401, 403, 404, 410]);

/**
 * The encrypted blob at `url`, as a stream of chunks counted against `maxBytes`. Throws a
 * MediaFailure for answers no retry can change (gone, refused, too large); anything else that
 * goes wrong (network, timeout, 408/429/5xx, a redirect, which is not followed) is a plain Error
 * the caller retries.
 */
export async function fetchMedia(url: URL, options: FetchMediaOptions): Promise<AsyncIterable<Uint8Array>> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const response = await request(url, {
    method: 'GET',
    dispatcher: options.dispatcher,
    headers: { origin: DEFAULT_ORIGIN },
    signal,
  });
  const { statusCode } = response;
  if (statusCode < 200 || statusCode > 299) {
    const snippet = (await response.body.text().catch(() => '')).slice(0, 200);
    const what = `GET ${url.origin}${url.pathname} answered ${statusCode}${snippet ? `: ${snippet}` : ''}`;
    if (GONE.has(statusCode) || (statusCode >= 400 && statusCode < 500 && statusCode !== 408 && statusCode !== 429)) {
      throw new MediaFailure('MEDIA_UNAVAILABLE', what);
    }
    throw new Error(what);
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    response.body.destroy();
    throw new MediaFailure('PAYLOAD_TOO_LARGE', `the blob is ${declared} bytes, over MEDIA_MAX_BYTES (${options.maxBytes})`);
  }
  return counted(response.body, options.maxBytes);
}

async function* counted(body: AsyncIterable<Uint8Array> & { destroy(): void }, maxBytes: number): AsyncIterable<Uint8Array> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > maxBytes) {
      body.destroy();
      throw new MediaFailure('PAYLOAD_TOO_LARGE', `the blob is over MEDIA_MAX_BYTES (${maxBytes}) bytes`);
    }
    yield chunk;
  }
}
