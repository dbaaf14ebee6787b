import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tcpServerProcess, toolBinary } from './child-process.ts';
import { freePort } from './ports.ts';

/** VERSITYGW_BIN, else the repo's .tools/bin/versitygw (neither Debian nor npm packages an S3 server), else `versitygw` on PATH. */
export function s3ServerBinary(): string {
  return toolBinary('versitygw', 'VERSITYGW_BIN');
}

export interface S3Server {
  /** `http://127.0.0.1:<port>`, for the client's `endpoint` (path-style addressing). */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** The directory behind the gateway: bucket `b`'s object `k` is the file `<root>/b/k`. */
  readonly root: string;
  /** Makes an empty bucket. */
  createBucket(name: string): Promise<void>;
  /** SIGKILL: the S3 API goes away (until `start()`), the objects stay. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/**
 * A real S3 API on a free port: versitygw serving a temporary directory (each sub-directory a
 * bucket), with random root credentials. Always `stop()` it.
 */
export async function startS3Server(options: { startTimeoutMs?: number } = {}): Promise<S3Server> {
  const { startTimeoutMs = 15_000 } = options;
  const port = await freePort();
  const root = await mkdtemp(join(tmpdir(), 'switchyard-s3-'));
  const credentials = { accessKeyId: `test${randomBytes(6).toString('hex')}`, secretAccessKey: randomBytes(18).toString('base64url') };
  const region = 'us-east-1';
  const server = tcpServerProcess({
    binary: s3ServerBinary(),
    argv: ['--access', credentials.accessKeyId, '--secret', credentials.secretAccessKey, '--region', region, '--port', `127.0.0.1:${port}`, '--quiet', 'posix', root],
    port,
    startTimeoutMs,
    missingHint: 'scripts/install-tools.sh builds it into .tools/bin',
  });
  await server.launch().catch(async (err: unknown) => {
    await rm(root, { recursive: true, force: true });
    throw err;
  });

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    credentials,
    root,
    async createBucket(name) {
      await mkdir(join(root, name));
    },
    kill: () => server.terminate('SIGKILL'),
    start: () => server.launch(),
    async stop() {
      await server.terminate('SIGTERM');
      await rm(root, { recursive: true, force: true });
    },
  };
}
