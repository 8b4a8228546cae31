import { m001 } from './001_initial';
import { m002 } from './002_examples_fts';
import { m003 } from './003_jobs_and_runs';
import { m004 } from './004_example_vectors';
import { m005 } from './005_render_sort_indexes';
import { m006 } from './006_score_pass_state';
import { m007 } from './007_param_masks';
import { m008 } from './008_fast_import';
import { m009 } from './009_job_state';
import { m010 } from './010_render_keys';
import { m011 } from './011_grad_sim_base';
import { m012 } from './012_eval_runs';
import { m013 } from './013_loss_trajectories';
import { m014 } from './014_clusters_layouts';
import type { Migration } from './types';

export type { Migration } from './types';

/** In version order; never edit a released migration, add a new one. */
export const migrations: Migration[] = [m001, m002, m003, m004, m005, m006, m007, m008, m009, m010, m011, m012, m013, m014];
