/**
 * `winnow select --project P --name NAME <rule>`: a subset of the project's rows. The rules that read every row with a
 * model or every embedding (--uds, --kcenter) run as a job with progress on stderr; the others are one call.
 */
import { WinnowError } from '../../engine/util/errors';
import { findSubsetByName } from '../../engine/selection/subsets';
import type { ApiInput } from '../../../preload/contract';
import { need, num, parseWhere, type Opts } from '../flags';
import { backendLine, withSession, type CommandContext, type Session } from '../session';

type Rule = ApiInput<'subsets.create'>['rule'];

export async function selectCommand({ o, quiet }: CommandContext): Promise<unknown> {
  return withSession(need(o, 'project'), quiet, async (s) => {
    const name = need(o, 'name');
    if (o.kcenter !== undefined) {
      // k-center reads every embedding and takes n·k distance steps: a job, with progress on stderr
      const among = typeof o.among === 'string' ? findSubsetByName(s.service.current().db, o.among).id : undefined;
      const { jobId } = await s.call('subsets.start', { name, rule: { kind: 'kcenter', count: num(o.kcenter, 'kcenter')!, seed: num(o.seed, 'seed') ?? 0, subsetId: among } });
      return subsetOfJob(s, jobId);
    }
    if (o.uds !== undefined) {
      // UDS runs the model over every row: a job, with progress on stderr, on the backend set up here
      await backendLine(quiet);
      const modelId = await s.model(need(o, 'model'));
      const { jobId } = await s.call('subsets.start', {
        name,
        rule: {
          kind: 'uds', modelId, keep: num(o.uds, 'uds')!, batchSize: num(o.batch, 'batch') ?? 8, bufferSize: num(o['uds-buffer'], 'uds-buffer') ?? 1024,
          lambda: num(o['uds-lambda'], 'uds-lambda') ?? 2.5e-3, seed: num(o.seed, 'seed') ?? 0, maxTokens: num(o['max-tokens'], 'max-tokens') ?? 256,
        },
      });
      return subsetOfJob(s, jobId);
    }
    if (o.where !== undefined || o.search !== undefined) {
      // the Examples table's filters and search, as "Save as subset" there stores them
      const among = typeof o.among === 'string' ? findSubsetByName(s.service.current().db, o.among).id : undefined;
      const filters = parseWhere(Array.isArray(o.where) ? o.where : []);
      const text = typeof o.search === 'string' ? o.search : undefined;
      const subset = await s.call('subsets.create', { name, rule: { kind: 'filter', filters, text, subsetId: among } });
      return { subset: subset.id, name: subset.name, size: subset.size, rule: subset.rule };
    }
    const subset = await s.call('subsets.create', { name, rule: ruleOfFlags(o) });
    return { subset: subset.id, name: subset.name, size: subset.size, rule: subset.rule };
  });
}

/** The subset a finished subsets.start job made. */
async function subsetOfJob(s: Session, jobId: string): Promise<unknown> {
  const job = await s.job(jobId);
  const subset = (await s.call('subsets.list', {})).find((x) => x.id === Number(job.stats.subsetId))!;
  return { subset: subset.id, name: subset.name, size: subset.size, rule: subset.rule };
}

/** The rule the flags give (no rule flag: every row). */
function ruleOfFlags(o: Opts): Rule {
  if (o.s2l !== undefined) {
    return { kind: 's2l', count: num(o.s2l, 's2l')!, runId: num(need(o, 'run'), 'run')!, clusters: num(o.clusters, 'clusters') ?? 10, seed: num(o.seed, 'seed') ?? 0 };
  }
  if (o.random !== undefined) return { kind: 'random', count: num(o.random, 'random')!, seed: num(o.seed, 'seed') ?? 0 };
  if (o['ifd-top'] !== undefined || o['ifd-top-percent'] !== undefined) {
    if (o['ifd-top'] !== undefined && o['ifd-top-percent'] !== undefined) {
      throw new WinnowError('bad_input', 'give --ifd-top K or --ifd-top-percent X, not both');
    }
    // the rule always ranks by ifd: a --signal would be ignored, so it is refused rather than silently dropped
    if (o.signal !== undefined) throw new WinnowError('bad_input', '--ifd-top ranks by ifd; leave out --signal');
    return { kind: 'ifd_top', count: num(o['ifd-top'], 'ifd-top'), percent: num(o['ifd-top-percent'], 'ifd-top-percent') };
  }
  if (o['per-cluster'] !== undefined || o['per-cluster-percent'] !== undefined) {
    if (o['per-cluster'] !== undefined && o['per-cluster-percent'] !== undefined) {
      throw new WinnowError('bad_input', 'give --per-cluster N or --per-cluster-percent X, not both');
    }
    return {
      kind: 'cluster_quota',
      count: num(o['per-cluster'], 'per-cluster'),
      percent: num(o['per-cluster-percent'], 'per-cluster-percent'),
      signal: o.signal as string | undefined,
      dir: o.asc ? 'asc' : 'desc',
      seed: num(o.seed, 'seed') ?? 0,
      clusterRunId: num(o['cluster-run'], 'cluster-run'),
    };
  }
  if (o['top-percent'] !== undefined) return { kind: 'top', signal: need(o, 'signal'), percent: num(o['top-percent'], 'top-percent'), dir: o.asc ? 'asc' : 'desc' };
  if (o.top !== undefined) return { kind: 'top', signal: need(o, 'signal'), count: num(o.top, 'top'), dir: o.asc ? 'asc' : 'desc' };
  if (o.min !== undefined || o.max !== undefined) return { kind: 'threshold', signal: need(o, 'signal'), min: num(o.min, 'min'), max: num(o.max, 'max') };
  return { kind: 'all' };
}
