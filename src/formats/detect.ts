import { MithrilError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import type { Layout } from './layout.js';
import { looksLikeSafetensors, readSafetensorsLayout } from './safetensors.js';
import { LEGACY_TORCH_PROBLEM, looksLikeLegacyTorch, looksLikeTorchZip, readTorchLayout, torchPickleEntry } from './torch.js';
import { readZipEntries } from './zip.js';

/** Enough leading bytes to tell every format apart (a legacy torch file with a pickle FRAME needs 23). */
const SNIFF_BYTES = 32;

/** Whether a file is in a checkpoint format mithril reads (for -r): by its first bytes, and for a zip, torch's data.pkl record. */
export async function looksLikeCheckpoint(source: ByteSource): Promise<boolean> {
  const first = await source.read(0, Math.min(SNIFF_BYTES, source.size));
  if (looksLikeSafetensors(first, source.size)) return true;
  if (!looksLikeTorchZip(first)) return false;
  try {
    return torchPickleEntry(await readZipEntries(source)) !== undefined;
  } catch {
    return true; // a damaged archive is still picked, for compress to say what is wrong with it
  }
}

/** Recognises the checkpoint format from the file's first bytes and returns its layout. */
export async function detectLayout(source: ByteSource): Promise<Layout> {
  const first = await source.read(0, Math.min(SNIFF_BYTES, source.size));
  if (looksLikeSafetensors(first, source.size)) return readSafetensorsLayout(source);
  if (looksLikeTorchZip(first)) return readTorchLayout(source);
  if (looksLikeLegacyTorch(first)) throw new MithrilError(source.name, LEGACY_TORCH_PROBLEM, 'UNSUPPORTED');
  if (first.length >= 9 && first[8] === 0x7b) return readSafetensorsLayout(source); // let the parser say what is wrong
  throw new MithrilError(source.name, 'not a recognised checkpoint format (mithril reads .safetensors and torch.save .pt/.bin files)', 'NOT_CHECKPOINT');
}
