/**
 * GSM8K-like JSONL for the benchmarks: real GSM8K rows (the bundled demo's train split, else the test fixture) with their numbers
 * changed per row, a row tag, and a few exact and near copies so duplicate detection has something to find.
 * Two shapes: `gsm8k` ({question, answer}, ~570 bytes a row) and `chat` (`messages` with a system prompt, the
 * question and answer, and for 4 rows in 10 a follow-up turn: ~1 KB a row, so a million rows make the ~1 GB file of
 * issue 4).
 */
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCES = [resolve(HERE, '../resources/demo/gsm8k/train.jsonl'), resolve(HERE, '../test/fixtures/data/gsm8k-50.jsonl')];

export function gsm8kRows(): Array<{ question: string; answer: string }> {
  const file = SOURCES.find((f) => existsSync(f));
  if (!file) throw new Error(`no GSM8K source found (looked in ${SOURCES.join(', ')})`);
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question: string; answer: string });
}

const SYSTEM = [
  'You are a patient math tutor. Solve the problem step by step, show each calculation, and give the final answer on the last line after "####".',
  'You are a helpful assistant for grade-school arithmetic word problems. Explain your reasoning briefly, write every intermediate result, and end with "#### <answer>".',
  'Answer the question. Think about the quantities involved, compute carefully, and state the result at the end.',
  'You are a careful assistant. Read the word problem, identify what is asked, work through the arithmetic one step per line, double-check units, and finish with the numeric answer after four hash marks.',
];

export type Shape = 'gsm8k' | 'chat';

/** One record of the given shape from a question and its answer (row `i` picks the system prompt and the follow-up). */
function record(shape: Shape, q: string, a: string, i: number): string {
  if (shape === 'gsm8k') return JSON.stringify({ question: q, answer: a });
  const messages = [{ role: 'system', content: SYSTEM[i % SYSTEM.length] }, { role: 'user', content: q }, { role: 'assistant', content: a }];
  if (i % 10 < 4) {
    const final = /####\s*(.*)$/.exec(a)?.[1] ?? '';
    messages.push({ role: 'user', content: 'Can you double-check the arithmetic, one step at a time?' },
      { role: 'assistant', content: `Checking each step again:\n${a.split('\n').slice(0, -1).join('\n')}\nEvery step holds, so the answer is ${final}.` });
  }
  return JSON.stringify({ messages });
}

/** Writes `rows` lines; ~1% exact copies of an earlier row, ~1% near copies (one word changed). Returns bytes written. */
export async function writeGsm8kLike(path: string, rows: number, seed = 1, shape: Shape = 'gsm8k'): Promise<number> {
  const base = gsm8kRows();
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out = createWriteStream(path);
  let bytes = 0;
  // earlier rows (line and its question/answer) that copies and near copies are drawn from
  const recent: Array<{ line: string; qa: { question: string; answer: string } }> = [];
  for (let i = 0; i < rows; i++) {
    let line: string;
    let qa: { question: string; answer: string };
    const r = rnd();
    if (r < 0.01 && recent.length) {
      ({ line, qa } = recent[Math.floor(rnd() * recent.length)]);
    } else {
      const b = base[i % base.length];
      const k = 1 + Math.floor(i / base.length);
      const bump = (t: string) => t.replace(/\d+/g, (d) => String(Number(d) + k));
      if (r < 0.02 && recent.length) {
        const prev = recent[Math.floor(rnd() * recent.length)].qa;
        qa = { question: prev.question.replace(/\b(\w+)\b/, 'Meanwhile'), answer: prev.answer };
      } else qa = { question: `${bump(b.question)} (case ${i})`, answer: bump(b.answer) };
      line = record(shape, qa.question, qa.answer, i);
    }
    if (recent.length < 1000) recent.push({ line, qa });
    else if (rnd() < 0.01) recent[Math.floor(rnd() * recent.length)] = { line, qa };
    line += '\n';
    bytes += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}
