// The plain-browser entry: call init() once; it fetches the .wasm from next to the code (Vite copies it
// there; with esbuild, copy it yourself).
import init, { Uploader, putFile } from 'presigned-upload/web';
import { mountApp } from './app.js';

await init();
mountApp({ Uploader, putFile }, 'web');
