/**
 * Housekeeping: what a project holds that can be renamed or deleted, and what deleting it takes with it.
 */
import { z } from 'zod';
import { id } from './common';

/** What a project holds that can be renamed or deleted (models: the registration, never the folder). */
export const ITEM_KINDS = ['dataset', 'subset', 'model', 'score_run', 'train_run', 'layer_mask', 'param_mask', 'token_mask'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

/** One kind of thing a deletion touches: `count` of them (rows, values, runs), named one per entry of `names`. */
export interface DependencyLine {
  what: string;
  count: number;
  names: string[];
}

/** What deleting a thing would delete with it, and what would stay but refer to it (items.dependents). */
export interface DependencyReport {
  kind: ItemKind;
  /** null for token masks, which are named */
  id: number | null;
  name: string;
  deletes: DependencyLine[];
  keeps: DependencyLine[];
  /** why it cannot be deleted now (a job is running); null when it can */
  blockedBy: string | null;
  /** give it back to items.delete: a deletion whose report changed since it was shown is refused */
  token: string;
}

const ItemRefSchema = z.object({ kind: z.enum(ITEM_KINDS), id: id.optional(), name: z.string().min(1).max(200).optional() });

/** items.*: each call's input schema (composed into ApiInputs, index.ts). */
export const HousekeepingInputs = {
  /** what deleting a thing would delete, and what would stay referring to it; `name` for token masks, else `id` */
  'items.dependents': ItemRefSchema,
  /** delete a thing and exactly what its report named, in one transaction; `token` from items.dependents */
  'items.delete': ItemRefSchema.extend({ token: z.string().min(1) }),
  /** rename a thing (score and train runs keep their number and get a label); unique names stay unique */
  'items.rename': ItemRefSchema.extend({ newName: z.string().min(1).max(200) }),
} as const;

/** items.*: each call's output. */
export interface HousekeepingOutputs {
  'items.dependents': DependencyReport;
  'items.delete': DependencyReport;
  'items.rename': { kind: ItemKind; id: number | null; name: string };
}
