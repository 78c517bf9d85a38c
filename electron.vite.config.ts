// Builds the desktop app into out/ (`npx electron-vite build`, `npm run build:app`):
//   out/main/index.js         Electron main (electron/main.ts)
//   out/main/engineHost.js    the engine host, run in a utilityProcess (engine/host/main.ts)
//   out/main/runnerWorker.mjs the engine's model-runner worker thread (engine/runtime/runnerWorker.ts),
//                             at the path engine/runtime/modelRunner.ts asks for (./runnerWorker.mjs
//                             next to the code that starts it)
//   out/main/grammarWorker.mjs the runner's grammar thread (engine/runtime/grammar/grammarWorker.ts),
//                             beside runnerWorker.mjs, which asks for ./grammarWorker.mjs
//   out/preload/index.cjs     preload, CommonJS because sandboxed preloads cannot be ES modules
//   out/renderer/             React UI (renderer/index.html), also what the host serves in web mode
// The engine host is bundled as a second main-side entry rather than run through tsx inside
// Electron: no TypeScript compiler in the shipped app, and packages resolve from node_modules as
// usual. Every package.json dependency stays external (electron-vite's externalizeDeps), so the
// native ones (better-sqlite3, onnxruntime-node) load from node_modules, unpacked from asar
// (electron-builder.yml). Outside Electron, scripts/build.mjs (`npm run build`) compiles the same
// engine entries into dist/ the same way (packages external, runnerWorker.mjs beside the code that
// starts it); `hearth serve` and `hearth app --web` run that, or the source through tsx while
// dist/ is older than engine/.
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';

const root = import.meta.dirname;
// HEARTH_ELECTRON_OUT lets a test build elsewhere without emptying the out/renderer other tests
// serve; it must stay inside the repo so the bundles still find node_modules.
const outRoot = process.env.HEARTH_ELECTRON_OUT ? resolve(process.env.HEARTH_ELECTRON_OUT) : resolve(root, 'out');

export default defineConfig({
  main: {
    build: {
      // Every package.json dependency stays an import from node_modules; above all the native
      // better-sqlite3 and onnxruntime-node, which cannot be bundled (the build test checks).
      externalizeDeps: true,
      outDir: resolve(outRoot, 'main'),
      rollupOptions: {
        input: {
          index: resolve(root, 'electron/main.ts'),
          engineHost: resolve(root, 'engine/host/main.ts'),
          runnerWorker: resolve(root, 'engine/runtime/runnerWorker.ts'),
          grammarWorker: resolve(root, 'engine/runtime/grammar/grammarWorker.ts'),
        },
        output: {
          format: 'es',
          entryFileNames: (chunk) => (chunk.name === 'runnerWorker' || chunk.name === 'grammarWorker' ? '[name].mjs' : '[name].js'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: resolve(outRoot, 'preload'),
      rollupOptions: {
        input: { index: resolve(root, 'electron/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'renderer'),
    base: './',
    plugins: [react()],
    build: {
      outDir: resolve(outRoot, 'renderer'),
      rollupOptions: { input: { index: resolve(root, 'renderer/index.html') } },
    },
  },
});
