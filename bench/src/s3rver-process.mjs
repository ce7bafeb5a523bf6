#!/usr/bin/env node
/**
 * Child-process entry: an s3rver (an S3-compatible server in JavaScript) on 127.0.0.1, on a
 * free port, with one bucket, in a process of its own so that serving objects does not share an
 * event loop with the cell that downloads them. Prints `{"port":N}` on one line once it listens;
 * stops when its stdin closes (the cell ended, however it ended) or on SIGTERM.
 *
 * Usage: node s3rver-process.mjs <directory> <bucket>
 */
import { createRequire } from 'node:module';

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) {
  console.error('usage: s3rver-process.mjs <directory> <bucket>');
  process.exit(2);
}
const S3rver = createRequire(import.meta.url)('s3rver');
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
