import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderConfigurationDoc } from '../support/config-docs.ts';

describe('docs/configuration.md', () => {
  it('lists every variable the services read (run `pnpm docs:config` to refresh)', async () => {
    const committed = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderConfigurationDoc());
  });
});
