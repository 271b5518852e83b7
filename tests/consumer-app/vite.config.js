import { defineConfig } from 'vite';

export default defineConfig({
  // What the README ("With a bundler") asks for: without it, `vite` (dev) pre-bundles the package's glue
  // apart from the copy its .wasm imports, and the page fails with "Cannot read properties of
  // undefined (reading '__wbindgen_externrefs')". `vite build` does not need it.
  optimizeDeps: { exclude: ['presigned-upload'] },
  build: {
    // Only because this app has several pages, one per entry of the package.
    rolldownOptions: {
      input: {
        main: new URL('./index.html', import.meta.url).pathname,
        web: new URL('./web.html', import.meta.url).pathname,
        element: new URL('./element.html', import.meta.url).pathname,
      },
    },
  },
});
