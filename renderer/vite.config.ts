// Vite config for the renderer alone (web mode and tests): `npx vite build --config renderer/vite.config.ts`
// writes out/renderer/, which the engine host serves at `/` (HEARTH_RENDERER_DIR). Inside the
// Electron app, electron.vite.config.ts builds the same root (renderer/) to the same folder.
// No Node imports here: everything under renderer/ obeys the renderer's layer rule.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = import.meta.dirname;

export default defineConfig({
  root: here,
  base: './',
  plugins: [react()],
  build: {
    outDir: `${here}/../out/renderer`,
    emptyOutDir: true,
    sourcemap: false,
  },
  server: { host: '127.0.0.1' },
});
