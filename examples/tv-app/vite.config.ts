import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The TV app uses the package as built (`npm run build`), as an app that installed it would.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: {
    alias: { 'oauth2-device-flow': fileURLToPath(new URL('../../dist/index.js', import.meta.url)) },
  },
  oxc: { jsx: { runtime: 'automatic' } },
  build: { target: 'es2022' },
});
