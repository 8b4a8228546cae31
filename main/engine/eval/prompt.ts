/**
 * What a held-out row asks and answers, for generation and evaluation (the CLI's `winnow generate` / `winnow eval` and
 * the engine's generate / eval jobs read rows the same way): the prompt is the conversation up to its last assistant
 * turn, rendered with the chat template and the generation prompt; that turn's content is the reference.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { batchRaws, parseFile } from '../data/parse';
import { isTextRecord, toMessages, type Mapping, type Normalized } from '../data/formats';
import type { FileFormat } from '../data/readers';
import { forward } from '../models/forward';
import type { LoadedModel } from '../models/model';
import type { ChatMessage } from '../models/types';
import { WinnowError } from '../util/errors';
import { normaliseAnswer } from './metrics';

/** The turns before the last assistant turn (all turns when there is none), and that turn's content (the reference). */
export function promptTurns(norm: Normalized): { turns: ChatMessage[]; reference: string | null } {
  if (isTextRecord(norm)) return { turns: [], reference: null };
  let last = -1;
  norm.forEach((m, i) => {
    if (m.role === 'assistant') last = i;
  });
  if (last < 0) return { turns: norm.map((m) => ({ role: m.role, content: m.content })), reference: null };
  return { turns: norm.slice(0, last).map((m) => ({ role: m.role, content: m.content })), reference: norm[last]!.content };
}

/** The prompt's text and ids: chat records through the chat template with the generation prompt; text records as they are. */
export function renderPrompt(m: LoadedModel, norm: Normalized): { text: string; ids: number[] } {
  if (isTextRecord(norm)) return { text: norm.text, ids: m.tokenizer.encode(norm.text, { addSpecialTokens: true }).ids };
  const { turns } = promptTurns(norm);
  if (turns.length === 0) throw new WinnowError('bad_input', 'the record has no turn before its assistant turn to use as a prompt');
  const text = m.tokenizer.applyChatTemplate(turns, { addGenerationPrompt: true });
  return { text, ids: m.tokenizer.encode(text, { addSpecialTokens: false }).ids };
}

/** generation_config.json's eos_token_id (a number or a list), when the folder has one */
export function generationConfigEos(dir: string): unknown {
  const file = path.join(dir, 'generation_config.json');
  if (!fs.existsSync(file)) return undefined;
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>).eos_token_id;
  } catch {
    return undefined;
  }
}

/** −log p(ids[t+1] | ids[..t]) for t = 0..T-2 */
export async function tokenNll(m: LoadedModel, ids: number[]): Promise<Float32Array> {
  const T = ids.length;
  if (T < 2) return new Float32Array(0);
  const picked = tf.tidy(() => {
    const logits = forward(m.config, m.weights, tf.tensor2d([ids], [1, T], 'int32'));
    const logp = tf.logSoftmax(tf.reshape(tf.slice(logits, [0, 0, 0], [1, T - 1, m.config.vocabSize]), [T - 1, m.config.vocabSize]));
    const flat = Int32Array.from({ length: T - 1 }, (_, t) => t * m.config.vocabSize + ids[t + 1]!);
    return tf.neg(tf.gather(tf.reshape(logp, [-1]), tf.tensor1d(flat, 'int32')));
  });
  const out = (await picked.data()) as Float32Array;
  picked.dispose();
  return out;
}

/** a multiple-choice record's options: its "choices" (or "options") list of strings, else null */
export function rowChoices(record: Record<string, unknown>): string[] | null {
  const c = record.choices ?? record.options;
  return Array.isArray(c) && c.length >= 2 && c.every((x) => typeof x === 'string') ? (c as string[]) : null;
}

/** the reference of a multiple-choice row: a choice's text, its 0-based index, or its letter (A, B, …) */
export function choiceReference(answer: string, choices: string[]): string {
  const a = answer.trim();
  const byText = choices.find((c) => normaliseAnswer(c) === normaliseAnswer(a));
  if (byText !== undefined) return byText;
  if (/^\d+$/.test(a) && Number(a) < choices.length) return choices[Number(a)]!;
  const letter = /^\(?([A-Za-z])\)?[.:]?$/.exec(a);
  if (letter) {
    const i = letter[1]!.toUpperCase().charCodeAt(0) - 65;
    if (i < choices.length) return choices[i]!;
  }
  return a;
}

/**
 * The label the model finds most likely after the prompt: Σ log p over each label's tokens. Returns the label and
 * every label's score.
 */
export async function pickLabel(m: LoadedModel, promptIds: number[], labels: string[]): Promise<{ label: string; logprobs: Record<string, number> }> {
  const scores: number[] = [];
  for (const l of labels) {
    const ids = m.tokenizer.encode(l, { addSpecialTokens: false }).ids;
    const nll = await tokenNll(m, [...promptIds, ...ids]);
    let s = 0;
    for (let t = promptIds.length - 1; t < nll.length; t++) s -= nll[t]!;
    scores.push(s);
  }
  let best = 0;
  scores.forEach((s, i) => {
    if (s > scores[best]!) best = i;
  });
  return { label: labels[best]!, logprobs: Object.fromEntries(labels.map((l, i) => [l, scores[i]!])) };
}

export interface DataRow {
  /** 0-based position among the file's records */
  index: number;
  /** the record as read (for labels and answers kept in other fields) */
  record: Record<string, unknown>;
  norm: Normalized;
}

/** Every record of a data file, mapped as import maps it (detected, or --format / --mapping). Malformed rows are refused. */
export async function readDataRows(file: string, opts: { format?: string; mapping?: string; skipMalformed?: boolean } = {}): Promise<DataRow[]> {
  let mapping: Mapping | undefined;
  if (opts.mapping !== undefined) {
    try {
      mapping = JSON.parse(opts.mapping) as Mapping;
    } catch (err) {
      throw new WinnowError('bad_input', `--mapping: not valid JSON (${(err as Error).message})`);
    }
  }
  const src = await parseFile(path.resolve(file), { format: opts.format as FileFormat | undefined, mapping });
  const rows: DataRow[] = [];
  for await (const batch of src.batches) {
    if (batch.bad.length && !opts.skipMalformed) {
      const b = batch.bad[0]!;
      throw new WinnowError('parse_error', `${path.basename(file)} line ${b.line}: ${b.reason} (--skip-malformed leaves such rows out)`);
    }
    for (const raw of batchRaws(batch)) {
      const record = JSON.parse(raw) as Record<string, unknown>;
      rows.push({ index: rows.length, record, norm: toMessages(record, src.mapping, rows.length + 1) });
    }
  }
  return rows;
}
