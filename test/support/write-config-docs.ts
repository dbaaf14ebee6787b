// `pnpm docs:config`: rewrites docs/configuration.md from the config schemas.
import { writeFile } from 'node:fs/promises';
import { renderConfigurationDoc } from './config-docs.ts';

await writeFile(new URL('../../docs/configuration.md', import.meta.url), renderConfigurationDoc());
console.log('wrote docs/configuration.md');
