// Writes the JSON Schema documents generated from the zod schemas into json-schema/.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateJsonSchemas } from '../src/json-schema.ts';

const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'json-schema');
await rm(outDir, { recursive: true, force: true });
for (const [file, schema] of Object.entries(generateJsonSchemas())) {
  const path = join(outDir, file);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(schema, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(generateJsonSchemas()).length} schemas to ${outDir}`);
