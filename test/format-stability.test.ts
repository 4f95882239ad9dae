import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compressFile } from '../src/index.js';
import { fixture, tempDir } from './helpers.js';

/**
 * sha256 of the containers the fixtures compress to, made with main at 90c99ed (before the
 * architecture work of issue 12): moving code must not change a byte of the format. A deliberate
 * format change updates these with the reason in its commit.
 */
const REFERENCE: [string, string, { bases?: string[]; fast?: boolean; best?: boolean }, string][] = [
  ['cnn bf16', 'cnn_epoch6.bf16.safetensors', {}, '739b8e1d15876ac0e3c62180992748db1245c2a863040952ead65f8e731fccaa'],
  ['cnn fp32', 'cnn_epoch6.fp32.safetensors', {}, 'd3e874bd3154239e7e6508229f5d089822504122c0350787dbb8d63dc95d6e52'],
  ['cnn torch.save', 'cnn_train_epoch6.pt', {}, '0a66d9f49f459eb2f2350f0a2ea8431e9c7186611f94cbdd81a81d1e51f7aafb'],
  ['gpt layer fp16', 'gpt_step500_layer0.fp16.safetensors', {}, 'e52423370fa4641fceba2efa8a19a43270d44d332f1cbee284032276b0f4bf76'],
  ['cnn bf16 --best', 'cnn_epoch6.bf16.safetensors', { best: true }, '82b6fdc050a7f26f29857b917942f643b69eaf93d22575eb671001c1bc026d1f'],
  ['cnn bf16 5->6 --fast', 'cnn_epoch6.bf16.safetensors', { bases: ['cnn_epoch5.bf16.safetensors'], fast: true }, 'cc066eaf0b2d4dba8476b169ff915e2f0f84c7ef259a6c286dda5ff6bb23a412'],
  ['cnn bf16 5->6 (default, strong)', 'cnn_epoch6.bf16.safetensors', { bases: ['cnn_epoch5.bf16.safetensors'] }, '0559700215e44027f913114ec12aabc538e267ca50a1e3c3e34489386f78d69c'],
  ['cnn bf16 5->6 --best', 'cnn_epoch6.bf16.safetensors', { bases: ['cnn_epoch5.bf16.safetensors'], best: true }, '68fdfee568ac909ac035dd3d545e1e166f9f775b94dae0359e9972cbf2b45e3f'],
  ['cnn bf16 4,5->6 --fast', 'cnn_epoch6.bf16.safetensors', { bases: ['cnn_epoch5.bf16.safetensors', 'cnn_epoch4.bf16.safetensors'], fast: true }, '0f3c2cba058cf1ec9e2001bb91e3ea8434c3d1b54dc38115325329219e6bfb30'],
  ['cnn bf16 4,5->6 (default, strong)', 'cnn_epoch6.bf16.safetensors', { bases: ['cnn_epoch5.bf16.safetensors', 'cnn_epoch4.bf16.safetensors'] }, '4c5e76e98e3fe7416e19aab4e550d5c95157450429a08d18d55eec4a9e13bbb7'],
  ['cnn fp32 5->6 --fast', 'cnn_epoch6.fp32.safetensors', { bases: ['cnn_epoch5.fp32.safetensors'], fast: true }, 'ba543248e293f950475a9943a7de029c46228aff8d8f932bf7f74aba6a11acaa'],
  ['cnn fp32 5->6 (default, strong)', 'cnn_epoch6.fp32.safetensors', { bases: ['cnn_epoch5.fp32.safetensors'] }, '457e7382df5cc58ddb28771a7665b960e7502cd35addb229047a8519e5c23496'],
  ['cnn torch.save 5->6 --fast', 'cnn_train_epoch6.pt', { bases: ['cnn_train_epoch5.pt'], fast: true }, 'e69187b0312a90133b7f96f969b77f26ae4744e15a643b6338effac355facfd7'],
  ['cnn torch.save 5->6 (default, strong)', 'cnn_train_epoch6.pt', { bases: ['cnn_train_epoch5.pt'] }, '687da408ea46f74d9160c7b996bde38e8e901f5e1a9ec2f633d26f1b51cbcd1b'],
  ['ft layer 10->20 --best', 'ft_step20_layer0.bf16.safetensors', { bases: ['ft_step10_layer0.bf16.safetensors'], best: true }, 'e8a9b2897e0480244e159b381cfd9c262b344b2b0e872d30b0735324bec005ad'],
  ['ft layer 10->20 (default, strong)', 'ft_step20_layer0.bf16.safetensors', { bases: ['ft_step10_layer0.bf16.safetensors'] }, '6e5feec51e171f26dcc530df02641dc4dfe9b9ca8bd9b2270eb02290ffbdbdb2'],
];

describe('the container format is stable', () => {
  for (const [name, file, options, sha256] of REFERENCE) {
    it(`${name}: the same bytes as the reference`, async () => {
      const output = join(tempDir(), 'out.mth');
      await compressFile(fixture(file), { ...options, output, bases: options.bases?.map(fixture) });
      assert.equal(createHash('sha256').update(readFileSync(output)).digest('hex'), sha256);
    });
  }
});
