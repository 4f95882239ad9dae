import { MithrilError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { looksLikeDcpMetadata } from './dcp-metadata.js';
import { isDistcpName, readDcpByContent, readDcpLayout, siblingItems } from './dcp.js';
import type { Layout } from './layout.js';
import { looksLikeSafetensors, readSafetensorsLayout } from './safetensors.js';
import { LEGACY_TORCH_PROBLEM, looksLikeLegacyTorch, looksLikeTorchZip, readTorchCheckpoint, torchPickleEntry, type TorchCheckpoint } from './torch.js';
import { readZipEntries } from './zip.js';

/** Enough leading bytes to tell every format apart (a legacy torch file with a pickle FRAME needs 23; a DCP .metadata names its module by byte 50). */
const SNIFF_BYTES = 64;

/** Whether a file is in a checkpoint format mithril reads (for -r): by its first bytes, and for a zip, torch's data.pkl record. */
export async function looksLikeCheckpoint(source: ByteSource): Promise<boolean> {
  const first = await source.read(0, Math.min(SNIFF_BYTES, source.size));
  if (looksLikeSafetensors(first, source.size) || looksLikeDcpMetadata(first)) return true;
  if (!looksLikeTorchZip(first)) return false;
  if (isDistcpName(source.name)) return true;
  try {
    return torchPickleEntry(await readZipEntries(source)) !== undefined;
  } catch {
    return true; // a damaged archive (or a DCP file renamed) is still picked, for compress to say what is wrong with it
  }
}

/** Recognises the checkpoint format from the file's first bytes (and for DCP, its name or folder) and returns its layout. */
export async function detectLayout(source: ByteSource): Promise<Layout> {
  const first = await source.read(0, Math.min(SNIFF_BYTES, source.size));
  if (looksLikeSafetensors(first, source.size)) return readSafetensorsLayout(source);
  if (looksLikeTorchZip(first)) return readZipLayout(source);
  if (looksLikeLegacyTorch(first)) throw new MithrilError(source.name, LEGACY_TORCH_PROBLEM, 'UNSUPPORTED');
  // A DCP folder's .metadata: a small pickle kept as it is, so that a folder is compressed whole.
  if (looksLikeDcpMetadata(first)) return { format: 'dcp-metadata', size: source.size, segments: [{ kind: 'opaque', role: 'dcp metadata', offset: 0, length: source.size }] };
  if (first.length >= 9 && first[8] === 0x7b) return readSafetensorsLayout(source); // let the parser say what is wrong
  throw new MithrilError(source.name, 'not a recognised checkpoint format (mithril reads .safetensors, torch.save .pt/.bin files and DCP folders)', 'NOT_CHECKPOINT');
}

/**
 * A torch.save archive, or a DCP `.distcp` file: named so, or placed by the `.metadata` beside it,
 * or by its content, several archives back to back (the end records then describe the last one,
 * which reads as a broken archive or as one with stray bytes before its end record).
 */
async function readZipLayout(source: ByteSource): Promise<Layout> {
  const items = await siblingItems(source);
  if (items || isDistcpName(source.name)) return readDcpLayout(source, items);
  let torch: TorchCheckpoint;
  try {
    torch = await readTorchCheckpoint(source);
  } catch (e) {
    if (!(e instanceof MithrilError) || e.code !== 'INVALID_CHECKPOINT') throw e;
    const dcp = await readDcpByContent(source);
    if (!dcp) throw e;
    return dcp;
  }
  if (torch.archive.strayBytes === 0) return torch.layout;
  return (await readDcpByContent(source)) ?? torch.layout;
}
