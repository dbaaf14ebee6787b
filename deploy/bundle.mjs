// Bundles a service for the container image: our workspace packages (@switchyard/*, which
// export TypeScript source) are inlined, every third-party package stays external and is loaded
// from node_modules at runtime. `esbuild --packages=external` alone would leave @switchyard/*
// imports in the bundle, which plain Node cannot load (.ts), hence this script.
//
//   node deploy/bundle.mjs [--outdir DIR] [services/router packages/cli …]
// Defaults to every services/*/ with a src/main.ts; writes <dir>/dist/main.js, or
// DIR/<basename>/main.js with --outdir.
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const args = process.argv.slice(2);
let outdir;
const dirs = [];
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--outdir') outdir = resolve(args[++i] ?? '');
  else dirs.push(resolve(args[i]));
}
if (dirs.length === 0) {
  for (const name of readdirSync(join(repoRoot, 'services')))
    dirs.push(join(repoRoot, 'services', name));
}

/** Inline @switchyard/*, leave every other bare import to node_modules. */
const externalThirdParty = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@switchyard/') ? undefined : { path: args.path, external: true },
    );
  },
};

let failed = false;
for (const dir of dirs) {
  const entry = join(dir, 'src', 'main.ts');
  if (!existsSync(entry)) {
    console.error(`[bundle] ${entry} does not exist`);
    failed = true;
    continue;
  }
  const outfile = outdir ? join(outdir, basename(dir), 'main.js') : join(dir, 'dist', 'main.js');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    plugins: [externalThirdParty],
    logLevel: 'warning',
  });
  console.log(`[bundle] ${entry} -> ${outfile}`);
}
process.exit(failed ? 1 : 0);
