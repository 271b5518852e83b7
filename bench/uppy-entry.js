// Entry of the Uppy bundle the bench compares with: @uppy/core + @uppy/aws-s3, bundled by
// `esbuild --bundle --format=esm --minify` (scripts/bench.sh) into the bench page as /uppy.bundle.js.
export { default as Uppy } from '@uppy/core';
export { default as AwsS3 } from '@uppy/aws-s3';
