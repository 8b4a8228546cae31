/**
 * An open project: its folder, SQLite file and job queue. The bundled demo project is created on first open with the
 * demo model registered and the demo dataset imported by an ordinary import job.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineEvent, ProjectInfo, ProjectProgress } from '../../../preload/contract';
import { openProjectDb, listDatasets, listImportSkips, countRenderErrors, type Db } from '../db';
import { activeModelId, projectCounts, setProjectMeta } from '../db/project-meta';
import { defaultRenderKeyId } from '../data/render-key';
import { JobManager, type JobExecutor } from '../jobs/manager';
import { projectSlug, resourcesDir } from '../util/paths';
import { addModel, listModels } from './models-registry';
import { textIndexBacklog } from '../data/textIndex';

export const DEMO_PROJECT = 'demo';
export const PROJECT_FILE = 'project.winnow';

export interface OpenProject {
  name: string;
  dir: string;
  dbPath: string;
  db: Db;
  jobs: JobManager;
}

export function demoDatasetPath(): string {
  return join(resourcesDir(), 'demo', 'gsm8k', 'train.jsonl');
}
export function demoModelPath(): string {
  return join(resourcesDir(), 'models', 'stories260K');
}

export function openProject(
  projectsDir: string,
  name: string,
  executor: JobExecutor,
  emit: (e: EngineEvent) => void,
  onJobFinished: (p: OpenProject, job: import('../../../preload/contract').Job) => void,
): OpenProject {
  const dir = join(projectsDir, projectSlug(name));
  mkdirSync(dir, { recursive: true });
  const dbPath = join(dir, PROJECT_FILE);
  const isNew = !existsSync(dbPath);
  const db = openProjectDb(dbPath);
  const project: OpenProject = { name, dir, dbPath, db, jobs: undefined as unknown as JobManager };
  project.jobs = new JobManager(db, {
    dbPath,
    projectDir: dir,
    executor,
    emit,
    onFinished: (job) => onJobFinished(project, job),
  });
  project.jobs.recoverAfterRestart();
  // imports stopped after their commit finish their later phases now (the search index included)
  const resumed = isNew ? [] : project.jobs.resumeCommittedImports();
  if (isNew) {
    setProjectMeta(db, 'name', name);
    seed(project, name === DEMO_PROJECT);
  } else if (resumed.length === 0 && textIndexBacklog(db).length > 0) {
    // a search index left incomplete by a cancelled or killed import is finished in the background
    project.jobs.submit('import', { textIndexOnly: true });
  }
  return project;
}

/** Every new project starts with the bundled model registered, so it can score at once; the demo also gets GSM8K. */
function seed(p: OpenProject, withDataset: boolean): void {
  if (existsSync(demoModelPath())) addModel(p.db, demoModelPath(), { name: 'stories260K (demo)' });
  if (withDataset && existsSync(demoDatasetPath())) {
    p.jobs.submit('import', { path: demoDatasetPath(), name: 'gsm8k-train (demo)', skipMalformed: false });
  }
}

/** The active model (project_meta; the first model registered when none was chosen), as the service and CLI use it. */
export { activeModelId, setActiveModel } from '../db/project-meta';

export function projectInfo(p: OpenProject): ProjectInfo {
  // render errors of the active model's default render: another job's render options never change the count
  const keyId = defaultRenderKeyId(p.db, activeModelId(p.db));
  const datasets = listDatasets(p.db).map((d) => ({
    id: d.id,
    name: d.name,
    sourcePath: d.sourcePath,
    format: d.format,
    rowCount: d.rowCount,
    renderErrors: countRenderErrors(p.db, d.id, keyId),
    skipped: listImportSkips(p.db, d.id).length,
  }));
  return { name: p.name, path: p.dbPath, datasets, models: listModels(p.db) };
}

/** What the project holds, step by step (the first screen's check marks); scores and subsets of one dataset when given. */
export function projectProgress(db: Db, datasetId?: number): ProjectProgress {
  return projectCounts(db, datasetId);
}

export function listProjectNames(projectsDir: string): string[] {
  if (!existsSync(projectsDir)) return [];
  return readdirSync(projectsDir).filter((n) => existsSync(join(projectsDir, n, PROJECT_FILE)));
}
