import { defineConfig } from 'vite';

export default defineConfig({
  // vitguard names its Web Worker and its two wasm binaries as `new URL('./file', import.meta.url)`, which Vite's
  // production build follows and emits with the app. Its dependency pre-bundling (dev server only) would move the
  // package's code away from those files: leave vitguard out of it.
  optimizeDeps: { exclude: ['vitguard'] },
  build: { target: 'es2022' },
});
