/**
 * Every limit mithril enforces on what it reads, in one place (docs/FORMAT.md lists them too).
 * Each bounds what a damaged or hostile file can make a reader allocate or do, whatever it declares.
 */

/** A safetensors JSON header (the official implementation's limit); this also bounds the tensor count. */
export const SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024;
/** A torch.save `data.pkl` that is interpreted; a larger one leaves the storages as plain bytes. */
export const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
/** A DCP `.metadata` read for tensor names is a pickle too: the same limit (a larger one is not read). */
export const MAX_DCP_METADATA_BYTES = MAX_PICKLE_BYTES;
/** How far into a file not named `.distcp` its first torch.save record must end for it to be read as DCP by its content. */
export const DCP_CONTENT_SCAN = 64 * 1024 * 1024;
/** Byte strings that look like a zip end record inside a DCP record's tensor bytes, tried before the walk gives up. */
export const DCP_MAX_FALSE_ENDS = 32;
/** Nested MARKs on the pickle machine's stack. */
export const MAX_MARK_DEPTH = 10_000;
/** Nesting of containers walked when naming the tensors of a pickle. */
export const MAX_WALK_DEPTH = 1_000;
/** The JSON index of a .mth container. */
export const MAX_INDEX_BYTES = 1024 * 1024 * 1024;
/** The least `--chunk-size` allows: smaller chunks would cost more in the index than they save. */
export const MIN_CHUNK_BYTES = 4096;
/** One chunk's original bytes in a .mth container (the most `--chunk-size` allows). */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/**
 * The most a zstd frame can expand: an RLE block of up to 128 KiB takes 4 bytes. A stream that
 * declares more is damaged, and is refused before anything of its declared size is allocated.
 */
export const MAX_ZSTD_RATIO = 32 * 1024;
/** The same for a rANS residual stream: 12-bit probabilities cost at least 1/2840 bit a symbol. */
export const MAX_RESIDUAL_RATIO = 64 * 1024;
