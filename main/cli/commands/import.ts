/**
 * `winnow import FILE --project P`: a data file as a dataset of the project, with the first skipped records and the
 * first rows the active model's chat template could not render, each with why.
 */
import { WinnowError } from '../../engine/util/errors';
import { need } from '../flags';
import { withSession, type CommandContext } from '../session';

export async function importCommand({ o, positionals, quiet }: CommandContext): Promise<unknown> {
  const file = positionals[0];
  if (!file) throw new WinnowError('bad_input', 'usage: winnow import FILE --project P');
  return withSession(need(o, 'project'), quiet, async (s) => {
    const job = await s.importFile(file, {
      format: o.format as string | undefined, name: o.name as string | undefined, skipMalformed: !!o['skip-malformed'], mapping: o.mapping as string | undefined,
    });
    // the first skipped records with their lines and reasons (all of them: datasets.importSkips, or the Data screen)
    const skips = Number(job.stats.skipped) > 0
      ? (await s.call('datasets.importSkips', { datasetId: Number(job.stats.datasetId), offset: 0, limit: 20 })).rows : undefined;
    // and the first rows the active model's chat template could not render, with why (row: 0-based dataset row)
    const renders = Number(job.stats.renderErrors) > 0
      ? (await s.call('datasets.renderErrors', { datasetId: Number(job.stats.datasetId), offset: 0, limit: 20 })).rows.map((r) => ({ row: r.rowIndex, reason: r.reason }))
      : undefined;
    if (renders && !quiet) {
      process.stderr.write(`${String(job.stats.renderErrors)} rows could not be rendered${Number(job.stats.renderErrors) > 20 ? ' (the first 20)' : ''}:\n` +
        renders.map((r) => `  row ${r.row}: ${r.reason}\n`).join(''));
    }
    return {
      dataset: job.stats.datasetId, rows: job.stats.rows, skipped: job.stats.skipped, renderErrors: job.stats.renderErrors,
      format: job.stats.format, mapping: typeof job.stats.mapping === 'string' ? JSON.parse(job.stats.mapping) as unknown : undefined,
      ...(skips ? { skips } : {}), ...(renders ? { renderErrorReasons: renders } : {}),
    };
  });
}
