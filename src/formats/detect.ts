import { MithrilError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import type { Layout } from './layout.js';
import { looksLikeSafetensors, readSafetensorsLayout } from './safetensors.js';
import { LEGACY_TORCH_PROBLEM, looksLikeLegacyTorch, looksLikeTorchZip, readTorchLayout } from './torch.js';

/** Enough leading bytes to tell every format apart (a legacy torch file with a pickle FRAME needs 23). */
export const SNIFF_BYTES = 32;

/** Whether the file's first bytes are those of a checkpoint format mithril reads (for -r). */
export function looksLikeCheckpoint(first: Uint8Array, size: number): boolean {
  return looksLikeSafetensors(first, size) || looksLikeTorchZip(first);
}

/** Recognises the checkpoint format from the file's first bytes and returns its layout. */
export function detectLayout(source: ByteSource): Layout {
  const first = source.read(0, Math.min(SNIFF_BYTES, source.size));
  if (looksLikeSafetensors(first, source.size)) return readSafetensorsLayout(source);
  if (looksLikeTorchZip(first)) return readTorchLayout(source);
  if (looksLikeLegacyTorch(first)) throw new MithrilError(source.name, LEGACY_TORCH_PROBLEM);
  if (first.length >= 9 && first[8] === 0x7b) return readSafetensorsLayout(source); // let the parser say what is wrong
  throw new MithrilError(source.name, 'not a recognised checkpoint format (mithril reads .safetensors and torch.save .pt/.bin files)');
}
