/**
 * Task metrics over generated answers and held-out rows: exact match of a final answer (GSM8K's `#### N`, the last
 * number otherwise, or a user regex), label accuracy, and token-weighted loss / perplexity. Pure functions: the
 * `winnow eval` command (cli/commands/eval.ts) feeds them completions and per-token losses.
 */
import { WinnowError } from '../util/errors';

/** A user regex (`--answer-regex`), checked: its first capture group (or the whole match) is the answer. */
export function compileAnswerRegex(src: string | undefined): RegExp | undefined {
  if (src === undefined) return undefined;
  try {
    return new RegExp(src, 'g');
  } catch (err) {
    throw new WinnowError('bad_input', `--answer-regex: not a valid regular expression (${(err as Error).message})`);
  }
}

const NUMBER = /-?\$?\d[\d,]*(?:\.\d+)?|-?\$?\.\d+/g;

/**
 * The final answer in a text: with `re`, its last match (group 1 when it has one); else what follows the last `####`
 * (GSM8K) up to the line's end; else the last number in the text; else the whole text. null when `re` finds nothing.
 */
export function extractAnswer(text: string, re?: RegExp): string | null {
  if (re) {
    let last: RegExpExecArray | null = null;
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    for (let m = g.exec(text); m; m = g.exec(text)) {
      last = m;
      if (m[0] === '') g.lastIndex++;
    }
    if (!last) return null;
    return last[1] ?? last[0];
  }
  const hash = text.lastIndexOf('####');
  if (hash >= 0) return text.slice(hash + 4).split('\n')[0]!.trim();
  const nums = text.match(NUMBER);
  if (nums && nums.length) return nums[nums.length - 1]!;
  return text;
}

/**
 * Answers compared as numbers when both read as one ("1,234", "$1234.00" and "1234" are equal), else as text with
 * case, surrounding space and punctuation at the ends ignored.
 */
export function normaliseAnswer(a: string): string {
  const t = a.trim().replace(/[.。!?]+$/, '').trim();
  const n = t.replace(/[,$\s]/g, '').replace(/^\+/, '');
  if (/^-?(\d+(\.\d*)?|\.\d+)$/.test(n)) {
    const v = Number(n);
    return Number.isFinite(v) ? String(v === 0 ? 0 : v) : n;
  }
  return t.toLowerCase().replace(/\s+/g, ' ');
}

export function answersMatch(prediction: string | null, reference: string | null): boolean {
  if (prediction === null || reference === null) return false;
  return normaliseAnswer(prediction) === normaliseAnswer(reference);
}

/** mean of 0/1 outcomes (0 rows: 0) */
export function meanOf(hits: boolean[]): number {
  return hits.length ? hits.filter(Boolean).length / hits.length : 0;
}

/**
 * Token-weighted loss over every row's answer tokens: Σ NLL / Σ tokens, and perplexity = exp(loss). Each row's own
 * loss is the mean over its tokens (null when it has none).
 */
export function lossReport(rowsNll: number[][]): { loss: number; perplexity: number; tokens: number; rowLoss: Array<number | null> } {
  let sum = 0;
  let n = 0;
  const rowLoss = rowsNll.map((r) => {
    if (!r.length) return null;
    let s = 0;
    for (const x of r) s += x;
    sum += s;
    n += r.length;
    return s / r.length;
  });
  const loss = n ? sum / n : NaN;
  return { loss, perplexity: Math.exp(loss), tokens: n, rowLoss };
}
