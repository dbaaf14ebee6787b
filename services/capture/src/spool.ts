import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { isValidInstanceId, isValidTenantId } from '@switchyard/schema';

/**
 * Capture's local spool: what Baileys' handler hands over is appended here, synchronously,
 * before `enqueue` returns. A `writeSync` lands in the page cache, which a SIGKILL of the process
 * does not lose (a power loss does, unless `fsync` is 'always'). The Postgres outbox write that
 * stores the same events also records how far the spool is consumed (capture_spool_progress), so
 * after a crash exactly the tail that never reached the outbox is replayed.
 *
 * Layout: `<dir>/<tenant>/<instance>/<process stamp>-<pid>-<n>-<random>.spool`, one file per writer
 * (one ingest publisher, until it rotates). Records: u32 body length, u32 CRC-32 of the body,
 * body = u16 id length, id, u16 type length, type, envelope bytes. A torn last record (the
 * process died inside the write) fails its length or CRC check and is ignored: its `enqueue`
 * never returned, so nothing was promised for it.
 */

/** Where spools live when CAPTURE_SPOOL_DIR is not set (local runs; production mounts a volume). */
export const DEFAULT_SPOOL_DIR = join(tmpdir(), 'switchyard-capture-spool');

export type SpoolFsync = 'never' | 'always';

export interface SpoolSettings {
  dir: string;
  /** 'always': fsync after every append (survives power loss, costs a disk flush per batch). */
  fsync: SpoolFsync;
  /** A fully consumed spool larger than this is replaced by a fresh file. Default 16 MiB. */
  rotateBytes?: number;
}

export interface SpoolEntry {
  eventId: string;
  type: string;
  payload: Uint8Array;
}

export interface SpoolWriter {
  /** The file name, the key of its capture_spool_progress row. */
  readonly name: string;
  /** Appends the entries (one write) and returns the file size after each one. */
  append(entries: readonly SpoolEntry[]): number[];
  /** Bytes written so far. */
  size(): number;
  /** Once fully consumed (`consumed === size()`) and large: starts a fresh file, deleting this one. */
  rotateIfConsumed(consumed: number): boolean;
  /** Closes the file; deletes it when everything in it was consumed (else it waits for a replay). */
  close(consumed: number): void;
}

export interface SpoolFile {
  tenant: string;
  instance: string;
  name: string;
  path: string;
}

const HEADER = 8;
const SUFFIX = '.spool';
const NAME_PATTERN = /^(\d+)-(\d+)-(\d+)-[0-9a-f]+\.spool$/;
// This process's start time: with the pid it tells this incarnation's files from those of a
// previous one that had the same pid (a restarted container is pid 1 again).
const PROCESS_STAMP = Math.round(performance.timeOrigin);
// Files this process holds open, never replayed by it.
const openHere = new Set<string>();
let counter = 0;

function instanceDir(dir: string, tenant: string, instance: string): string {
  return join(dir, tenant, instance);
}

export function openSpool(settings: SpoolSettings, tenant: string, instance: string): SpoolWriter {
  const rotateBytes = settings.rotateBytes ?? 16 * 1024 * 1024;
  const folder = instanceDir(settings.dir, tenant, instance);
  mkdirSync(folder, { recursive: true });
  let name = '';
  let path = '';
  let fd = -1;
  let size = 0;

  function open(): void {
    // The random part keeps names unique across worker threads, which share the pid.
    name = `${PROCESS_STAMP}-${process.pid}-${++counter}-${randomBytes(4).toString('hex')}${SUFFIX}`;
    path = join(folder, name);
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      // Another process's replay may have removed the (then empty) folder since mkdir.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(folder, { recursive: true });
      fd = openSync(path, 'wx');
    }
    openHere.add(path);
    size = 0;
  }
  function shut(remove: boolean): void {
    closeSync(fd);
    openHere.delete(path);
    if (remove) unlinkSync(path);
  }
  function removeEmptyFolders(): void {
    for (const dir of [folder, join(settings.dir, tenant)]) {
      try {
        rmdirSync(dir); // only when empty
      } catch {
        return;
      }
    }
  }
  open();

  return {
    get name() {
      return name;
    },
    append(entries) {
      // One buffer and one write for the whole batch: the cost per event is a copy and a CRC.
      let total = 0;
      for (const e of entries)
        total += HEADER + 4 + Buffer.byteLength(e.eventId) + Buffer.byteLength(e.type) + e.payload.byteLength;
      const buffer = Buffer.allocUnsafe(total);
      const ends: number[] = [];
      let at = 0;
      for (const e of entries) {
        at = encodeRecord(buffer, at, e);
        ends.push(size + at);
      }
      writeFully(fd, buffer);
      if (settings.fsync === 'always') fsyncSync(fd);
      size += total;
      return ends;
    },
    size: () => size,
    rotateIfConsumed(consumed) {
      if (consumed !== size || size < rotateBytes) return false;
      shut(true);
      open();
      return true;
    },
    close(consumed) {
      shut(consumed === size);
      if (consumed === size) removeEmptyFolders();
    },
  };
}

function writeFully(fd: number, buffer: Buffer): void {
  // writeSync may write less than asked (a signal, a full disk); loop until all of it is there.
  let offset = 0;
  while (offset < buffer.byteLength) offset += writeSync(fd, buffer, offset);
}

/** Writes one record at `start` of `out`; returns where the next one starts. */
function encodeRecord(out: Buffer, start: number, entry: SpoolEntry): number {
  const bodyAt = start + HEADER;
  let at = bodyAt + 2;
  const idLength = out.write(entry.eventId, at);
  out.writeUInt16LE(idLength, bodyAt);
  at += idLength;
  const typeLength = out.write(entry.type, at + 2);
  out.writeUInt16LE(typeLength, at);
  at += 2 + typeLength;
  out.set(entry.payload, at);
  at += entry.payload.byteLength;
  out.writeUInt32LE(at - bodyAt, start);
  out.writeUInt32LE(crc32(out.subarray(bodyAt, at)), start + 4);
  return at;
}

function decodeBody(body: Buffer): SpoolEntry | undefined {
  const idLength = body.readUInt16LE(0);
  if (2 + idLength + 2 > body.byteLength) return undefined;
  const eventId = body.toString('utf8', 2, 2 + idLength);
  const typeAt = 2 + idLength;
  const typeLength = body.readUInt16LE(typeAt);
  const payloadAt = typeAt + 2 + typeLength;
  if (payloadAt > body.byteLength) return undefined;
  const type = body.toString('utf8', typeAt + 2, payloadAt);
  return { eventId, type, payload: Uint8Array.prototype.slice.call(body, payloadAt) };
}

export interface SpoolRecord {
  entry: SpoolEntry;
  /** File offset just past this record: the `consumed` value once it is stored. */
  end: number;
}

/**
 * The whole records of a spool file from `from` on, in up to `limit`-record pages. Stops at the
 * end of the file or at a torn or corrupt record (then `torn` says where).
 */
export function readSpoolPage(path: string, from: number, limit: number): { records: SpoolRecord[]; torn: boolean } {
  const fd = openSync(path, 'r');
  try {
    const records: SpoolRecord[] = [];
    let at = from;
    const header = Buffer.alloc(HEADER);
    while (records.length < limit) {
      const got = readSync(fd, header, 0, HEADER, at);
      if (got === 0) return { records, torn: false };
      if (got < HEADER) return { records, torn: true };
      const bodyLength = header.readUInt32LE(0);
      const body = Buffer.allocUnsafe(bodyLength);
      if (bodyLength < 4 || readSync(fd, body, 0, bodyLength, at + HEADER) < bodyLength)
        return { records, torn: true };
      if (crc32(body) !== header.readUInt32LE(4)) return { records, torn: true };
      const entry = decodeBody(body);
      if (entry === undefined) return { records, torn: true };
      at += HEADER + bodyLength;
      records.push({ entry, end: at });
    }
    return { records, torn: false };
  } finally {
    closeSync(fd);
  }
}

/**
 * Spool files no live writer holds, oldest first: left by a crashed or killed process, or closed
 * by a publisher of this process with events still unconsumed. Only `tenant` (and `instance`)
 * when given. A file whose pid belongs to a live process of another incarnation is skipped (it
 * may still be written); a recycled pid makes that a false "alive", which only delays a replay.
 */
export function deadSpools(dir: string, tenant?: string, instance?: string): SpoolFile[] {
  const out: Array<SpoolFile & { order: [number, number, number] }> = [];
  for (const t of tenant !== undefined ? [tenant] : listDir(dir)) {
    if (!isValidTenantId(t)) continue;
    for (const i of instance !== undefined ? [instance] : listDir(join(dir, t))) {
      if (!isValidInstanceId(i)) continue;
      const folder = instanceDir(dir, t, i);
      for (const name of listDir(folder)) {
        const match = NAME_PATTERN.exec(name);
        if (!match) continue;
        const path = join(folder, name);
        const stamp = Number(match[1]);
        const pid = Number(match[2]);
        if (openHere.has(path) || !writerGone(pid)) continue;
        out.push({ tenant: t, instance: i, name, path, order: [stamp, pid, Number(match[3])] });
      }
    }
  }
  out.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1] || a.order[2] - b.order[2]);
  return out.map(({ order: _order, ...file }) => file);
}

function writerGone(pid: number): boolean {
  if (pid === process.pid) return true; // this process (files it holds are in openHere) or a previous incarnation
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Deletes a replayed spool file (and its folder once empty). */
export function removeSpool(file: SpoolFile, dir: string): void {
  rmSync(file.path, { force: true });
  for (const folder of [instanceDir(dir, file.tenant, file.instance), join(dir, file.tenant)]) {
    try {
      rmdirSync(folder); // only when empty: a writer may have just created it
    } catch {
      return;
    }
  }
}
