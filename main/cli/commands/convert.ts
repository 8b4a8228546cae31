/** `winnow convert llama2c MODEL.bin TOKENIZER.bin OUT_DIR`: a llama2.c checkpoint as a Hugging Face model folder. */
import { resolve } from 'node:path';
import { convertLlama2c } from '../../engine/models/llama2c';
import { WinnowError } from '../../engine/util/errors';
import type { CommandContext } from '../session';

export async function convertCommand({ positionals }: CommandContext): Promise<unknown> {
  const [kind, modelBin, tokBin, outDir] = positionals;
  if (kind !== 'llama2c' || !modelBin || !tokBin || !outDir) throw new WinnowError('bad_input', 'usage: winnow convert llama2c MODEL.bin TOKENIZER.bin OUT_DIR');
  const header = convertLlama2c(resolve(modelBin), resolve(tokBin), resolve(outDir));
  return { out: resolve(outDir), ...header };
}
