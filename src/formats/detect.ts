import { MithrilError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import type { Layout } from './layout.js';
import { looksLikeSafetensors, readSafetensorsLayout } from './safetensors.js';

/** Recognises the checkpoint format from the file's first bytes and returns its layout. */
export function detectLayout(source: ByteSource): Layout {
  const first = source.read(0, Math.min(16, source.size));
  if (looksLikeSafetensors(first, source.size)) return readSafetensorsLayout(source);
  if (first.length >= 9 && first[8] === 0x7b) return readSafetensorsLayout(source); // let the parser say what is wrong
  throw new MithrilError(source.name, 'not a recognised checkpoint format (mithril reads .safetensors files)');
}
