/**
 * The first screen: what Winnow does, and the steps from a dataset to an exported bundle, each one click from its
 * screen and checked once the project holds its result (`project.progress`, re-asked whenever a job finishes). A
 * step is checked only when the steps it needs are: a training run kept from a deleted dataset, or from another
 * dataset than the one in use, is shown as earlier work, not as this dataset's step done.
 */
import { useApp, useCall, useEngineEvent } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { plural } from '../../components/format';
import { HOME_STEPS, stepsDone, type HomeStep } from './steps';

export function HomeScreen() {
  const { project, datasetId } = useApp();
  const progress = useCall('project.progress', project ? (datasetId === null ? {} : { datasetId }) : null);
  // a job that finished may have done a step
  useEngineEvent((e) => {
    if (e.type === 'job' && e.job.status === 'done') progress.reload();
  });
  const dataset = project?.datasets.find((d) => d.id === datasetId);
  const p = progress.data;
  const done = p ? stepsDone(p) : new Set<HomeStep['id']>();
  const next = p ? HOME_STEPS.find((s) => !done.has(s.id)) : undefined;
  return (
    <div className="screen screen-home" data-testid="screen-home">
      <h1>Winnow</h1>
      <p className="home-lede">
        Winnow helps you decide what to fine-tune on before anyone tunes: which <b>examples</b> to keep, which{' '}
        <b>tokens</b> to learn from and which <b>layers</b> to train. It scores a dataset with the model you will tune, lets
        you pick a subset, tries it in a short training run, and exports the choice for your own trainer. Everything runs on
        this machine.
      </p>
      <ErrorText error={progress.error} testId="home-error" />
      <section className="card">
        <h2>First steps</h2>
        {dataset && (
          <p className="muted home-dataset">
            Working on <b>{dataset.name}</b> ({plural(dataset.rowCount, 'row')}); change it with Dataset in the top bar.
          </p>
        )}
        <ol className="home-steps" data-testid="home-steps" data-loading={p ? 'false' : 'true'}>
          {HOME_STEPS.map((s, i) => {
            const isDone = done.has(s.id);
            // its result exists, but a step it needs is not done (on this dataset): earlier work, not ticked
            const kept = !isDone && !!p && s.done(p);
            const isNext = next?.id === s.id;
            return (
              <li
                key={s.id}
                className={`home-step${isDone ? ' done' : ''}${isNext ? ' next' : ''}`}
                data-testid={`home-step-${s.id}`}
                data-done={isDone}
                data-kept={kept}
                data-next={isNext}
              >
                <span className="home-check" aria-label={isDone ? 'done' : 'not done yet'}>
                  {isDone ? '✓' : i + 1}
                </span>
                <div className="home-step-body">
                  <a href={`#/${s.screen}`} className="home-step-title" data-testid={`home-go-${s.id}`}>
                    {s.title}
                  </a>
                  {isNext && <span className="pill home-next">next</span>}
                  {isDone && p && <span className="muted home-have"> · {s.have(p)}</span>}
                  {kept && p && (
                    <span
                      className="muted home-have"
                      data-testid={`home-kept-${s.id}`}
                      title="Made on another dataset, or on data since deleted: not ticked until this dataset gets there"
                    >
                      {' '}
                      · {s.have(p)} from earlier work
                    </span>
                  )}
                  <div className="muted home-what">{s.what}</div>
                </div>
              </li>
            );
          })}
        </ol>
        {p && !next && <p data-testid="home-all-done">All steps done. Open the exported folder with your trainer, or go round again with another subset.</p>}
      </section>
    </div>
  );
}
