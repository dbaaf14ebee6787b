import { runService } from '@switchyard/runtime';
import { startDlqWorker } from './app.ts';
import { loadDlqWorkerConfig } from './config.ts';

await runService({ service: 'dlq-worker', start: () => startDlqWorker(loadDlqWorkerConfig()) });
