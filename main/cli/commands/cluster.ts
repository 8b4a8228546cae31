/** `winnow cluster --project P --k K`: K-means on the embedding, written as the cluster column. */
import { need, num } from '../flags';
import { withSession, type CommandContext } from '../session';

export async function clusterCommand({ o, quiet }: CommandContext): Promise<unknown> {
  return withSession(need(o, 'project'), quiet, async (s) => {
    const { jobId } = await s.call('clusters.start', { k: num(need(o, 'k'), 'k')!, seed: num(o.seed, 'seed') ?? 0, maxIter: num(o['max-iter'], 'max-iter') ?? 100 });
    await s.job(jobId);
    const info = (await s.call('clusters.info', {}))!;
    return { runId: info.runId, k: info.k, n: info.n, sizes: info.sizes, iterations: info.iterations, converged: info.converged, objective: info.objective };
  });
}
