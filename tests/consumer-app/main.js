// The default entry: with a bundler the wasm is loaded for you (no init()).
import { Uploader, putFile } from 'presigned-upload';
import { mountApp } from './app.js';

mountApp({ Uploader, putFile }, 'bundler');
