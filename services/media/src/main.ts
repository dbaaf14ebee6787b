import { runService } from '@switchyard/runtime';
import { startMedia } from './app.ts';
import { loadMediaConfig } from './config.ts';

await runService({ service: 'media', start: () => startMedia(loadMediaConfig()) });
