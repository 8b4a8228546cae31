/**
 * A mapping guessed from the fields' names AND contents, for records no known format fits (MBPP's `text`/`code`,
 * HumanEval's `prompt`/`canonical_solution`, self-instruct's `instruction` + `instances[{input, output}]`): a prompt
 * and a response are fields that hold text (long, worded, varied), not ids, paths, hashes or enumerations, and whose
 * names read as a prompt and a response. Every candidate is scored over the whole sample; the guess says how sure it
 * is and why, and the caller tests it on every sampled record before saying anything about fit.
 */
import type { Mapping } from './mapping';

type Rec = Record<string, unknown>;
const isObj = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

export type Certainty = 'high' | 'medium' | 'low';

export interface Guess {
  mapping: Mapping;
  certainty: Certainty;
  /** why these fields, in words */
  basis: string;
}

/** names of fields that never hold a prompt or a response */
const ID_NAME = /(^|_|-|\s)(id|ids|uuid|guid|hash|sha|md5|key|idx|index|url|uri|link|path|file|filename|lang|language|locale|split|date|time|timestamp|created|created_at|updated_at|license|state|status|entry_point|source_file|task_id|app)$/i;
const ID_VALUE = /^(?:[\w-]+\/\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,64}|https?:\/\/\S+|(?:(?!\. )[^\n?!]){1,200}\.[A-Za-z][A-Za-z0-9]{0,7})$/i;

const PROMPT_NAMES: Record<string, number> = {
  prompt: 1, question: 1, instruction: 1, query: 1, problem: 1, input: 0.8, inputs: 0.8, text: 0.6, sentence: 0.6, context: 0.5,
  article: 0.5, document: 0.5, source: 0.4, src: 0.4, premise: 0.4, request: 0.8, user: 0.8, human: 0.8, task: 0.5, description: 0.4,
};
const RESPONSE_NAMES: Record<string, number> = {
  completion: 1, response: 1, answer: 1, output: 1, outputs: 0.9, solution: 1, canonical_solution: 1, reply: 0.9, code: 0.8, target: 0.8,
  targets: 0.8, tgt: 0.6, translation: 0.7, chosen: 0.8, summary: 0.7, highlights: 0.7, assistant: 0.8, gpt: 0.8, rationale: 0.5, explanation: 0.5, label: 0.3,
};

interface Stat {
  path: string;
  /** the last key, lowercased: what the name tables look up */
  name: string;
  /** share of records where the field holds text (or a number) */
  share: number;
  avgLen: number;
  /** share of its values with a space or line break in them */
  worded: number;
  /** share of its values shaped like ids, hashes, paths or URLs */
  idShare: number;
  distinct: number;
  n: number;
  /** `instances` for `instances[*].input` */
  list: string | null;
}

/** Text-likeness of a field in [0, 1]: 0 for ids, paths, enumerations and fields that are mostly absent. */
function textiness(s: Stat, forResponse: boolean): number {
  if (s.share < 0.8 || ID_NAME.test(s.name) || s.idShare > 0.5) return 0;
  const enumeration = s.n >= 8 && s.distinct <= Math.max(2, s.n / 10);
  if (enumeration && !forResponse) return 0;
  const length = Math.min(1, Math.log10(s.avgLen + 1) / 2.5);
  return (forResponse ? 0.3 : 0.1) + 0.7 * length * (0.4 + 0.6 * s.worded) * (enumeration ? 0.3 : 1);
}

function collectStats(records: unknown[]): Stat[] {
  const values = new Map<string, { list: string | null; vals: unknown[]; present: number }>();
  const add = (path: string, list: string | null, v: unknown, count: boolean) => {
    let e = values.get(path);
    if (!e) values.set(path, (e = { list, vals: [], present: 0 }));
    e.vals.push(v);
    if (count) e.present++;
  };
  const objs = records.filter(isObj);
  for (const r of objs) {
    for (const [k, v] of Object.entries(r)) {
      if (Array.isArray(v) && v.length > 0 && v.every(isObj)) {
        const seen = new Set<string>();
        for (const item of v) {
          for (const [ik, iv] of Object.entries(item)) {
            add(`${k}[*].${ik}`, k, iv, !seen.has(ik));
            seen.add(ik);
          }
        }
      } else if (isObj(v)) {
        for (const [ik, iv] of Object.entries(v)) add(`${k}.${ik}`, null, iv, true);
      } else add(k, null, v, true);
    }
  }
  const out: Stat[] = [];
  for (const [path, e] of values) {
    const texts = e.vals.filter((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))).map(String).filter((t) => t.trim() !== '');
    const n = texts.length;
    out.push({
      path,
      name: (path.split(/[.\]]/).pop() ?? path).toLowerCase(),
      share: objs.length ? Math.min(1, (n / Math.max(1, e.vals.length)) * (e.present / objs.length)) : 0,
      avgLen: n ? texts.reduce((a, t) => a + t.length, 0) / n : 0,
      worded: n ? texts.filter((t) => /\s/.test(t.trim())).length / n : 0,
      idShare: n ? texts.filter((t) => ID_VALUE.test(t.trim()) && !/\n/.test(t)).length / n : 0,
      distinct: new Set(texts).size,
      n,
      list: e.list,
    });
  }
  return out;
}

const pct = (x: number) => `${Math.round(x)} chars`;

/** The best prompt/response pair in the records, or null when no two fields hold text. */
export function guessMapping(records: unknown[]): Guess | null {
  const stats = collectStats(records);
  const prompts = stats.map((s) => ({ s, t: textiness(s, false), n: PROMPT_NAMES[s.name] ?? 0 })).filter((c) => c.t > 0);
  const responses = stats.map((s) => ({ s, t: textiness(s, true), n: RESPONSE_NAMES[s.name] ?? 0 })).filter((c) => c.t > 0);
  let best: { p: (typeof prompts)[number]; r: (typeof responses)[number]; score: number } | null = null;
  for (const p of prompts) {
    for (const r of responses) {
      if (p.s.path === r.s.path) continue;
      if (p.s.list && r.s.list && p.s.list !== r.s.list) continue;
      // a response taken from inside a list the prompt is not in: one row per item (self-instruct's instances)
      const score = p.t + r.t + 1.5 * p.n + 1.5 * r.n + (stats.indexOf(p.s) < stats.indexOf(r.s) ? 0.05 : 0);
      if (!best || score > best.score) best = { p, r, score };
    }
  }
  if (!best) return null;
  const { p, r } = best;
  const certainty: Certainty = p.n >= 0.8 && r.n >= 0.8 ? 'high' : p.n > 0 && r.n > 0 ? 'medium' : 'low';
  const why = (c: { s: Stat; n: number }, role: string) =>
    `"${c.s.path}" as the ${role} (${c.n > 0 ? 'named like one, ' : ''}text of ${pct(c.s.avgLen)} on average${c.s.worded > 0.5 ? ', in words' : ''})`;
  let mapping: Mapping;
  if (p.s.name === 'instruction') {
    // alpaca, with the other text field of the response's list (or the record) as the input
    const input = stats.find((s) => s !== p.s && s !== r.s && /^(input|inputs|context)$/.test(s.name) && s.list === r.s.list && s.share > 0.5);
    mapping = { format: 'alpaca', instruction: p.s.path, ...(input ? { input: input.path } : {}), output: r.s.path };
  } else if (p.s.name === 'question' && r.s.name === 'answer') mapping = { format: 'question_answer', question: p.s.path, answer: r.s.path };
  else mapping = { format: 'prompt_completion', prompt: p.s.path, completion: r.s.path };
  const expands = r.s.list ?? p.s.list;
  const basis = `${why(p, 'prompt')} and ${why(r, 'response')}` +
    `${expands ? `; one row per item of "${expands}"` : ''}; ids, paths and labels were passed over`;
  return { mapping, certainty, basis };
}

/**
 * Classification records by their contents (a headerless TSV's `column_1`/`column_2`): one field of worded text and
 * one of a few short labels. Null when the records do not read so.
 */
export function guessClassification(records: unknown[]): { prompt: string; label: string } | null {
  const stats = collectStats(records).filter((s) => !s.path.includes('.') && !s.path.includes('['));
  const text = stats.filter((s) => s.share >= 0.8 && s.worded > 0.5 && s.avgLen >= 15 && !ID_NAME.test(s.name)).sort((a, b) => b.avgLen - a.avgLen)[0];
  if (!text) return null;
  const label = stats.find((s) => s !== text && s.share >= 0.8 && s.avgLen <= 20 && s.n >= 2 && s.distinct <= Math.min(50, Math.max(2, s.n / 2)) &&
    !ID_NAME.test(s.name));
  return label ? { prompt: text.path, label: label.path } : null;
}
