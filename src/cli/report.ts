import { describeSource } from '../container/reader.js';
import { STDIN, STDOUT } from '../files.js';
import type { Summary } from '../summary.js';

/** A path as messages show it: `-` is standard input or output. */
export const shownInput = (path: string): string => (path === STDIN ? 'stdin' : path);
export const shownOutput = (path: string): string => (path === STDOUT ? 'stdout' : path);

export const ratio = (original: number, compressed: number): string => (compressed > 0 ? (original / compressed).toFixed(4) : '-');
/** The one size style of every report; exact byte counts appear only where they identify a file (describeSource). */
export function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (bytes >= 1024 * 10 && unit < units.length - 1) [bytes, unit] = [bytes / 1024, unit + 1];
  return unit === 0 ? `${bytes} B` : `${bytes.toFixed(1)} ${units[unit]}`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** The human-readable `info` report. */
export function formatSummary(file: string, summary: Summary, showTensors: boolean): string {
  const { source, compressedSize } = summary;
  const parts = [
    `${file}: ${summary.format} checkpoint ${describeSource(source)}, ${size(source.size)} -> ${size(compressedSize)} (ratio ${ratio(source.size, compressedSize)})`,
    ...summary.bases.map((base, i) => `${i === 0 ? 'base' : 'older base'}: ${describeSource(base)} (needed to decompress)`),
    '',
    table(
      ['dtype', 'tensors', 'original', 'compressed', 'ratio'],
      // Opaque bytes (headers, pickles) hold no tensors: '-' rather than 0.
      summary.dtypes.map((d) => [d.dtype, d.tensors ? String(d.tensors) : '-', size(d.original), size(d.compressed), ratio(d.original, d.compressed)]),
    ),
    '',
    table(
      ['dtype', 'plane', 'original', 'compressed', 'ratio', 'coders (share of bytes)'],
      summary.planes.map((p) => [
        p.dtype, p.plane, size(p.original), size(p.compressed), ratio(p.original, p.compressed),
        Object.entries(p.coders).sort(([, a], [, b]) => b - a).map(([coder, bytes]) => `${coder} ${Math.round((100 * bytes) / p.original)}%`).join(', '),
      ]),
    ),
  ];
  if (showTensors) {
    parts.push('', table(['tensor', 'dtype', 'shape', 'size'], summary.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, size(t.bytes)])));
  } else {
    parts.push('', `${summary.tensors.length} tensors (--tensors lists them)`);
  }
  return parts.join('\n');
}

export function formatResult(input: string, output: string, originalSize: number, compressedSize: number): string {
  return `${input}: ${size(originalSize)} -> ${size(compressedSize)} (ratio ${ratio(originalSize, compressedSize)}) => ${output}`;
}

/** One line per file, for `info -r`, with a total. */
export function formatSummaryTable(rows: [string, Summary][]): string {
  const total = rows.reduce((sum, [, s]) => [sum[0]! + s.source.size, sum[1]! + s.compressedSize], [0, 0]);
  return table(
    ['file', 'format', 'tensors', 'original', 'compressed', 'ratio', 'bases'],
    [
      ...rows.map(([file, s]) => [file, s.format, String(s.tensors.length), size(s.source.size), size(s.compressedSize), ratio(s.source.size, s.compressedSize), s.bases.map((b) => b.name).join(', ') || '-']),
      ['total', '', '', size(total[0]!), size(total[1]!), ratio(total[0]!, total[1]!), ''],
    ],
  );
}
