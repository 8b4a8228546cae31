/**
 * GSM8K-like JSONL for the benchmarks: real GSM8K rows (/work/shared/data or the test fixture) with their numbers
 * changed per row, a row tag, and a few exact and near copies so duplicate detection has something to find.
 */
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCES = ['/work/shared/data/gsm8k/train.jsonl', resolve(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/data/gsm8k-50.jsonl')];

export function gsm8kRows(): Array<{ question: string; answer: string }> {
  const file = SOURCES.find((f) => existsSync(f));
  if (!file) throw new Error(`no GSM8K source found (looked in ${SOURCES.join(', ')})`);
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question: string; answer: string });
}

/** Writes `rows` lines; ~1% exact copies of an earlier row, ~1% near copies (one word changed). Returns bytes written. */
export async function writeGsm8kLike(path: string, rows: number, seed = 1): Promise<number> {
  const base = gsm8kRows();
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out = createWriteStream(path);
  let bytes = 0;
  const recent: string[] = [];
  for (let i = 0; i < rows; i++) {
    let line: string;
    const r = rnd();
    if (r < 0.01 && recent.length) {
      line = recent[Math.floor(rnd() * recent.length)];
    } else {
      const b = base[i % base.length];
      const k = 1 + Math.floor(i / base.length);
      const bump = (t: string) => t.replace(/\d+/g, (d) => String(Number(d) + k));
      let q = `${bump(b.question)} (case ${i})`;
      if (r < 0.02 && recent.length) {
        const prev = JSON.parse(recent[Math.floor(rnd() * recent.length)]) as { question: string; answer: string };
        q = prev.question.replace(/\b(\w+)\b/, 'Meanwhile');
        line = JSON.stringify({ question: q, answer: prev.answer });
      } else line = JSON.stringify({ question: q, answer: bump(b.answer) });
    }
    if (recent.length < 1000) recent.push(line);
    else if (rnd() < 0.01) recent[Math.floor(rnd() * recent.length)] = line;
    line += '\n';
    bytes += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}
