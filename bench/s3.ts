import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readIndex } from '../src/index.js';
import { S3Output } from '../src/io/s3-output.js';
import { S3Source } from '../src/io/s3-source.js';
import { FileSource } from '../src/io/source.js';
import { LocalS3 } from '../test/s3-server.js';
import { runBigChild, warmPageCache } from './big.js';
import { MiB } from './measure.js';

const CLI = fileURLToPath(new URL('../src/bundle/main.js', import.meta.url));
const BUCKET = 'bench';

interface Run {
  seconds: number;
  peakRssMiB: number;
}

/** Bytes the CLI fetched from object storage for `args` (MITHRIL_DEBUG_S3_BYTES). */
function fetchedBy(args: string[], dir: string): number {
  const stats = join(dir, 'fetched.json');
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, MITHRIL_DEBUG_S3_BYTES: stats } });
  if (run.status !== 0) throw new Error(`mithril ${args.join(' ')} failed: ${run.stderr.trim()}`);
  return (JSON.parse(readFileSync(stats, 'utf8')) as { bytes: number }).bytes;
}

/** The server alone: `file`'s bytes uploaded and read back as they are, in MiB/s, with nothing else running. */
async function rawTransfer(file: string, object: string): Promise<[number, number]> {
  const source = new FileSource(file);
  const piece = new Uint8Array(MiB);
  let start = performance.now();
  const output = await S3Output.open(object, true, source.size);
  for (let at = 0; at < source.size; at += piece.length) await output.sink.write(await source.read(at, Math.min(piece.length, source.size - at), piece));
  await output.commit();
  const up = source.size / MiB / ((performance.now() - start) / 1000);
  start = performance.now();
  const remote = await S3Source.open(object);
  remote.willRead([{ offset: 0, length: remote.size }]);
  for (let at = 0; at < remote.size; at += piece.length) await remote.read(at, Math.min(piece.length, remote.size - at), piece);
  const down = remote.size / MiB / ((performance.now() - start) / 1000);
  source.close();
  return [up, down];
}

/**
 * The same checkpoint compressed and decompressed file to file, then to and from s3rver on
 * loopback (in the same run, page cache warm), and what `info` and `extract` of one tensor fetch.
 */
export async function measureS3(file: string, script: string, threads: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mithril-bench-s3-'));
  const server = await LocalS3.start(join(dir, 'data'), BUCKET);
  // The children (runBigChild, the CLI) find the server through the usual variables.
  Object.assign(process.env, LocalS3.env, { AWS_ENDPOINT_URL: server.endpoint });
  const size = statSync(file).size;
  const [packed, restored, object] = [join(dir, 'x.mth'), join(dir, 'x.out'), `s3://${BUCKET}/x.mth`];
  const mibs = (run: Run): string => `${Math.round(size / MiB / run.seconds)} MiB/s, peak RSS ${Math.round(run.peakRssMiB)} MiB`;
  try {
    warmPageCache(file);
    const local = [runBigChild(script, 'compress', file, packed, threads), runBigChild(script, 'decompress', packed, restored, threads)];
    rmSync(restored);
    const remote = [runBigChild(script, 'compress', file, object, threads), runBigChild(script, 'decompress', object, restored, threads)];
    if (statSync(restored).size !== size) throw new Error('restored size differs');
    const { index } = await readIndex(packed);
    // One of the largest tensors, from the middle of the file.
    const tensors = index.segments.filter((s) => s.kind === 'tensor');
    const largest = tensors.filter((t) => t.length === Math.max(...tensors.map((u) => u.length)));
    const tensor = largest[Math.floor(largest.length / 2)]!;
    const name = tensor.kind === 'tensor' ? tensor.name : '';
    const chunks = index.chunks.filter((c) => c.rawOffset + c.rawLength > tensor.offset && c.rawOffset < tensor.offset + tensor.length);
    const chunkBytes = chunks.reduce((sum, c) => sum + c.streams.reduce((s, stream) => s + stream.codedLength, 0), 0);
    const info = fetchedBy(['info', object], dir);
    const extract = fetchedBy(['extract', '-f', object, name, '-o', join(dir, 'tensor.raw')], dir);
    const objectSize = statSync(packed).size;
    const [up, down] = await rawTransfer(packed, `s3://${BUCKET}/raw`);
    return [
      `${file} (${(size / MiB).toFixed(0)} MiB), -T ${threads}, s3rver 3.7.1 on 127.0.0.1`,
      '',
      '| run | compress | decompress |',
      '|---|---|---|',
      `| file → file | ${mibs(local[0]!)} | ${mibs(local[1]!)} |`,
      `| file → s3, s3 → file | ${mibs(remote[0]!)} | ${mibs(remote[1]!)} |`,
      `| the ${(objectSize / MiB).toFixed(0)} MiB container's bytes alone, up / down | ${Math.round(up)} MiB/s | ${Math.round(down)} MiB/s |`,
      '',
      `info: fetched ${info} bytes of a ${objectSize}-byte object`,
      `extract ${name} (${tensor.length} bytes, ${chunks.length} chunks, ${chunkBytes} coded bytes): fetched ${extract} bytes (index ${info} + chunks ${chunkBytes} = ${info + chunkBytes})`,
    ].join('\n');
  } finally {
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
