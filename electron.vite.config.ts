import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

const root = dirname(fileURLToPath(import.meta.url));

// Top-level main/ preload/ renderer/ (not electron-vite's src/ default), so every entry is explicit.
// The main build also emits the engine entries that run without Electron: the engine host (utilityProcess or plain
// Node), the compute worker, the import's parsing worker, the browser-mode server and the CLI.
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: resolve(root, 'main/index.ts'),
          'engine-host': resolve(root, 'main/engine/host.ts'),
          'compute-worker': resolve(root, 'main/engine/jobs/worker.ts'),
          'import-worker': resolve(root, 'main/engine/data/parse-worker.ts'),
          server: resolve(root, 'main/server/index.ts'),
          cli: resolve(root, 'main/cli/index.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(root, 'preload/index.ts') },
        // sandboxed preloads must be CommonJS
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'renderer'),
    build: {
      outDir: resolve(root, 'out/renderer'),
      rollupOptions: { input: { index: resolve(root, 'renderer/index.html') } },
    },
    plugins: [react()],
  },
});
