import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encryptedStream } from '@whiskeysockets/baileys';
import type { MediaDescriptor } from '@switchyard/schema';
import { messageReceivedEvent, randomName } from '@switchyard/testing';

export interface EncryptedBlob {
  plain: Buffer;
  /** What the media host serves: ciphertext ‖ MAC. */
  encrypted: Buffer;
  /** The descriptor capture would have mapped from the message, minus where to fetch it. */
  descriptor: Omit<MediaDescriptor, 'direct_path' | 'url'> & { media_key: string };
}

/** A random blob encrypted by Baileys itself, as a WhatsApp client would have uploaded it. */
export async function encryptBlob(kind: MediaDescriptor['kind'], size = 50_000, mimetype = 'image/jpeg'): Promise<EncryptedBlob> {
  const plain = randomBytes(size);
  const result = await encryptedStream(plain, kind);
  try {
    const encrypted = await readFile(result.encFilePath);
    return {
      plain,
      encrypted,
      descriptor: {
        kind,
        mimetype,
        file_length: result.fileLength,
        media_key: Buffer.from(result.mediaKey).toString('base64'),
        file_sha256: Buffer.from(result.fileSha256).toString('base64'),
        file_enc_sha256: Buffer.from(result.fileEncSha256).toString('base64'),
      },
    };
  } finally {
    await rm(result.encFilePath, { force: true });
  }
}

/** Answers one request for a path: a body to serve (after `delayMs`, a slow host), or a status to fail with. */
export type BlobAnswer = { body: Buffer; delayMs?: number } | { status: number; body?: string };

export interface BlobServer {
  /** `http://127.0.0.1:<port>`: the media service's MEDIA_DOWNLOAD_BASE_URL. */
  url: string;
  /** Serves `path`: the n-th request gets `answers[n]`, the last answer repeats. */
  serve(path: string, ...answers: BlobAnswer[]): void;
  /** Requests made for `path` so far. */
  hits(path: string): number;
  /** The most requests it was answering at once (a body still being sent counts). */
  maxInFlight(): number;
  stop(): Promise<void>;
}

/** A stand-in for WhatsApp's media host on loopback, serving what each test tells it to. */
export async function startBlobServer(): Promise<BlobServer> {
  const routes = new Map<string, BlobAnswer[]>();
  const counts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => inFlight--);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const n = counts.get(path) ?? 0;
    counts.set(path, n + 1);
    const answers = routes.get(path);
    const answer = answers?.[Math.min(n, answers.length - 1)] ?? { status: 404, body: 'no such blob' };
    if ('status' in answer) {
      res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body ?? '');
      return;
    }
    const send = () => res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.body.length }).end(answer.body);
    if (answer.delayMs === undefined) send();
    else setTimeout(send, answer.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    serve(path, ...answers) {
      routes.set(path, answers);
      counts.delete(path);
    },
    hits: (path) => counts.get(path) ?? 0,
    maxInFlight: () => maxInFlight,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** A `message.received` of instance phone-1 as capture would publish it; `data` fields override. */
export function messageEvent(tenant: string, data: Record<string, unknown>): Record<string, unknown> & { id: string } {
  const base = messageReceivedEvent(tenant, 'phone-1', 1, { source: 'baileys' });
  return { ...base, data: { ...base.data, message_id: randomName('msg'), ...data } };
}
