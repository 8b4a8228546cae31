/**
 * `winnow export --model DIR (--data FILE | --project P [--subset NAME]) --out DIR`: the bundle (subset, token masks,
 * scores, trainer configs, manifest; with --layers the layer mask too).
 */
import { resolve } from 'node:path';
import { need, tokenPolicyFlags } from '../flags';
import { withData, withSession, type CommandContext } from '../session';

export async function exportCommand({ o, quiet }: CommandContext): Promise<unknown> {
  return withSession(o.project as string | undefined, quiet, async (s) => {
    const modelId = await s.model(need(o, 'model'));
    const { datasetId, subsetId } = await withData(s, o);
    const what: Array<'subset' | 'token_masks' | 'layer_mask' | 'scores' | 'configs'> = ['subset', 'token_masks', 'scores', 'configs'];
    let layerMaskId: number | undefined;
    if (typeof o.layers === 'string') {
      layerMaskId = (await s.call('layerMasks.save', { name: `cli-${Date.now()}`, modelId, layers: o.layers })).id;
      what.push('layer_mask');
    }
    const out = resolve(need(o, 'out'));
    const { jobId } = await s.call('export.start', {
      outDir: out, subsetId, datasetId, modelId, layerMaskId, what, overwrite: !!o.overwrite,
      ...tokenPolicyFlags(o),
    });
    const job = await s.job(jobId);
    return { out, files: job.stats.files };
  });
}
