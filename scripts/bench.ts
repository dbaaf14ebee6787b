// `pnpm bench <name> [--out file.json] [--flag value …]`: runs bench/<name>.ts's default export.
import { readdir } from 'node:fs/promises';
import { parseBenchArgs } from '../bench/lib/args.ts';

const benchDir = new URL('../bench/', import.meta.url);
const available = (await readdir(benchDir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => f.slice(0, -3)).sort();
const [name, ...rest] = process.argv.slice(2);

if (name === undefined || !available.includes(name)) {
  process.stderr.write(`usage: pnpm bench <name> [--out file.json] [--flag value …]\nbenchmarks: ${available.join(', ')}\n`);
  process.exit(name === undefined ? 0 : 1);
}

try {
  const mod = (await import(new URL(`${name}.ts`, benchDir).href)) as { default: (args: ReturnType<typeof parseBenchArgs>) => Promise<void> };
  await mod.default(parseBenchArgs(rest));
} catch (err) {
  process.stderr.write(`bench ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
