/**
 * S2L and UDS on the Subsets screen (issue #19), fresh project: a training run's loss trajectories are written
 * straight into the project (recording them is tested in test/unit/selection/s2l.test.ts) — three shapes by
 * row % 3 — and the S2L rule picks the run, spreads 6 rows over 3 clusters (2 from each, by S2L's rule on three
 * equal clusters) and the table shows the rule in words. The UDS rule's form is shown with its hint, and the Train
 * form offers both options. Screenshots go to test-results/screens/s2l-uds-*.png.
 */
import { expect, test } from '@playwright/test';
import { GSM8K_50, importDataset, shooter, useServer, withProjectDb } from './helpers';

const server = useServer('s2luds');
const shot = shooter('s2l-uds-');

test('import, then a run with loss trajectories (three shapes) written into the project', async ({ page }) => {
  await importDataset(page, server, GSM8K_50, 50);
  withProjectDb(server, 's2luds', (db) => {
    const config = JSON.stringify({ modelId: 1, subsetId: null, layers: 'last:1', steps: 30, checkpointEvery: 10, recordTrajectories: true });
    db.prepare(`INSERT INTO train_runs (id, config_json, status, step, total_steps, created_at) VALUES (1, ?, 'done', 30, 30, datetime('now'))`).run(config);
    const ids = db.prepare('SELECT id, row_index FROM examples ORDER BY id').all() as Array<{ id: number; row_index: number }>;
    const shapes = [[4, 2, 1], [5, 5, 5], [1, 1, 1]];
    const ins = db.prepare('INSERT INTO loss_trajectories (run_id, step, example_id, loss) VALUES (1, ?, ?, ?)');
    for (const e of ids) shapes[e.row_index % 3]!.forEach((l, s) => ins.run((s + 1) * 10, e.id, l + (e.row_index % 7) / 100));
  });
});

test('the S2L rule spreads the count over the trajectory clusters; the UDS rule and the Train options are offered', async ({ page }) => {
  await page.goto(`${server.url}#/subsets`);
  await page.getByTestId('subset-kind').selectOption('s2l');
  await expect(page.getByTestId('subset-s2l-run')).toHaveValue('1');
  await expect(page.getByTestId('subset-s2l-hint')).toContainText('loss trajectory');
  await page.getByTestId('subset-amount').fill('6');
  await page.getByTestId('subset-s2l-clusters').fill('3');
  await page.getByTestId('subset-seed').fill('2');
  await page.getByTestId('subset-name').fill('s2l-6');
  await page.getByTestId('subset-create').click();
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '6');
  const row = page.locator('[data-testid="subset-row"][data-name="s2l-6"]');
  await expect(row).toContainText('S2L 6 from the loss trajectories of run #1 (3 clusters, seed 2)');
  await shot(page, '01-subsets-s2l');

  // two rows of each shape: S2L's even share over three clusters of 16–17 rows
  withProjectDb(server, 's2luds', (db) => {
    const picked = db.prepare(`SELECT e.row_index FROM subset_members m JOIN subsets s ON s.id = m.subset_id JOIN examples e ON e.id = m.example_id WHERE s.name = 's2l-6'`).pluck().all() as number[];
    const per = [0, 0, 0];
    for (const r of picked) per[r % 3]!++;
    expect(per).toEqual([2, 2, 2]);
  });

  await page.getByTestId('subset-kind').selectOption('uds');
  await expect(page.getByTestId('subset-uds-hint')).toContainText('nuclear norm');
  await expect(page.getByTestId('subset-uds-lambda')).toHaveValue('0.0025');
  await shot(page, '02-subsets-uds-form');

  await page.goto(`${server.url}#/train`);
  await expect(page.getByTestId('train-record-trajectories')).toBeVisible();
  await page.getByTestId('train-uds').check();
  await expect(page.getByTestId('train-uds-keep')).toHaveValue('50');
  await shot(page, '03-train-s2l-uds-options');
});
