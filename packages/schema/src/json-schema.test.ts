import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateJsonSchemas } from './json-schema.ts';

const dir = fileURLToPath(new URL('../json-schema/', import.meta.url));

async function committedFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('committed JSON Schema', () => {
  // The files tenants read must be exactly what the code validates with.
  it('matches the zod schemas (run `pnpm --filter @switchyard/schema generate` to refresh)', async () => {
    const generated = generateJsonSchemas();
    expect(await committedFiles(dir)).toEqual(Object.keys(generated).sort());
    for (const [file, schema] of Object.entries(generated)) {
      const committed = await readFile(join(dir, file), 'utf8');
      expect(committed, `${file} drifted`).toBe(`${JSON.stringify(schema, null, 2)}\n`);
    }
  });
});
