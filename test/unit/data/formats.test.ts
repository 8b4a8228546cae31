import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { detectFormat, toMessages } from '../../../main/engine/data/formats';
import { fixture } from './helpers';

const jsonl = (name: string) => readFileSync(fixture(name), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('detectFormat', () => {
  it('recognises each supported record shape', () => {
    expect(detectFormat(jsonl('gsm8k-50.jsonl'))).toEqual({
      format: 'question_answer', confidence: 1, mapping: { format: 'question_answer', question: 'question', answer: 'answer' },
      certainty: 'high', basis: 'field names of a known format: question_answer (question: "question", answer: "answer")',
    });
    expect(detectFormat(jsonl('sharegpt.jsonl')).mapping).toEqual({ format: 'sharegpt', field: 'conversations' });
    expect(detectFormat(jsonl('messages.jsonl')).mapping).toEqual({ format: 'messages', field: 'messages' });
    expect(detectFormat(jsonl('prompt-completion.jsonl')).mapping).toEqual({ format: 'prompt_completion', prompt: 'prompt', completion: 'completion' });
    // system appears on one alpaca record only: the mapping still carries it
    expect(detectFormat(JSON.parse(readFileSync(fixture('alpaca.json'), 'utf8'))).mapping).toEqual({
      format: 'alpaca', instruction: 'instruction', output: 'output', input: 'input', system: 'system',
    });
    expect(detectFormat([{ text: 'a' }, { text: 'b' }]).format).toBe('text');
  });

  it('reports confidence as the share of records that fit', () => {
    const d = detectFormat([{ question: 'q', answer: 'a' }, { question: 'q', answer: 'a' }, { question: 'q', answer: 'a' }, { foo: 1 }]);
    expect(d.format).toBe('question_answer');
    expect(d.confidence).toBe(0.75);
  });

  it('names the fields it saw when nothing fits', () => {
    expect(() => detectFormat([{ foo: 1, bar: 2 }], 'odd.jsonl')).toThrow(/odd\.jsonl: cannot recognise the record format \(fields seen: "foo", "bar"\)/);
  });
});

describe('toMessages', () => {
  it('maps alpaca with input and system', () => {
    const m = { format: 'alpaca' as const, instruction: 'instruction', input: 'input', output: 'output', system: 'system' };
    expect(toMessages({ instruction: 'Summarize.', input: 'Long text', output: 'Short', system: 'Terse.' }, m, 'x')).toEqual([
      { role: 'system', content: 'Terse.' }, { role: 'user', content: 'Summarize.\n\nLong text' }, { role: 'assistant', content: 'Short' },
    ]);
    expect(toMessages({ instruction: 'Hi.', input: '', output: 'Yo' }, m, 'x')).toEqual([
      { role: 'user', content: 'Hi.' }, { role: 'assistant', content: 'Yo' },
    ]);
  });

  it('maps ShareGPT speaker names to roles', () => {
    const [rec] = jsonl('sharegpt.jsonl').slice(1);
    expect(toMessages(rec, { format: 'sharegpt', field: 'conversations' }, 'x')).toEqual([
      { role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Capital of Italy?' }, { role: 'assistant', content: 'Rome.' },
    ]);
  });

  it('maps text records to { text }', () => {
    expect(toMessages({ text: 'hello' }, { format: 'text', field: 'text' }, 'x')).toEqual({ text: 'hello' });
  });

  it('names the line and field at fault', () => {
    const qa = { format: 'question_answer' as const, question: 'question', answer: 'answer' };
    expect(() => toMessages({ question: 'q' }, qa, 'train.jsonl line 17')).toThrow('train.jsonl line 17: field "answer" is missing');
    expect(() => toMessages({ question: 'q', answer: ['a'] }, qa, 'f line 2')).toThrow('f line 2: field "answer" must be a string, found an array');
    expect(() => toMessages({ messages: [{ role: 'user' }] }, { format: 'messages', field: 'messages' }, 'f line 3'))
      .toThrow('f line 3: field "messages[0].content" is missing or not a string');
    expect(() => toMessages([1, 2], qa, 'f line 4')).toThrow('f line 4: expected an object, found an array');
    expect(() => toMessages({ question: 'q' }, qa, 9)).toThrow('line 9: field "answer" is missing');
  });
});
