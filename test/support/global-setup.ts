import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One temporary directory for the whole test run, removed at its end. Tests leave files in the
 * temporary directory that nothing else removes: a capture adapter stopped with events still
 * unacknowledged keeps its spool file for a replay (that is the spool's job), and the next capture
 * started by any test would find it there and try to replay it. TMPDIR is set before the workers
 * start, so `os.tmpdir()` (and the capture spool's default directory) points here in all of them.
 */
export function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  process.env['TMPDIR'] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
