import { runService } from '@switchyard/runtime';
import { startCapture } from './app.ts';
import { loadCaptureConfig } from './config.ts';

await runService({ service: 'capture', start: () => startCapture(loadCaptureConfig()) });
