/** engine/eval/metrics.ts on hand-computed cases. */
import { describe, expect, it } from 'vitest';
import { answersMatch, compileAnswerRegex, extractAnswer, lossReport, meanOf, normaliseAnswer } from '../../../main/engine/eval/metrics';

describe('exact match', () => {
  it("takes GSM8K's #### answer, else the last number, and compares numbers normalised", () => {
    expect(extractAnswer('She sold 48/2 = <<48/2=24>>24 clips.\n#### 72')).toBe('72');
    expect(extractAnswer('so 48 + 24 = 72 clips. #### 1,234\nextra')).toBe('1,234');
    expect(extractAnswer('First 3 apples, then 10.5 more.')).toBe('10.5');
    expect(extractAnswer('no digits here')).toBe('no digits here');
    expect(normaliseAnswer('$1,234.00')).toBe('1234');
    expect(normaliseAnswer(' Paris. ')).toBe('paris');
    expect(answersMatch(extractAnswer('The total is $1,234.'), extractAnswer('#### 1234'))).toBe(true);
    expect(answersMatch(extractAnswer('I think 72.0'), extractAnswer('... #### 72'))).toBe(true);
    expect(answersMatch(extractAnswer('I think 71'), extractAnswer('#### 72'))).toBe(false);
    expect(answersMatch(null, '3')).toBe(false);
  });

  it('a configurable regex: the last match, its first group', () => {
    const re = compileAnswerRegex('answer is (\\w+)');
    expect(extractAnswer('the answer is blue, no, the answer is Red', re)).toBe('Red');
    expect(extractAnswer('nothing', re)).toBeNull();
    expect(extractAnswer('x=4, y=5', compileAnswerRegex('\\d'))).toBe('5');
    expect(() => compileAnswerRegex('(')).toThrow(/--answer-regex: not a valid regular expression/);
  });

  it('exact match over rows: 2 of 3 correct is 0.667', () => {
    const preds = ['#### 5', 'it is 7', 'maybe 9'].map((p) => extractAnswer(p));
    const refs = ['#### 5', '#### 7', '#### 8'].map((r) => extractAnswer(r));
    expect(meanOf(preds.map((p, i) => answersMatch(p, refs[i]!)))).toBeCloseTo(2 / 3, 12);
    expect(meanOf([])).toBe(0);
  });
});

describe('loss and perplexity', () => {
  it('token-weighted over rows: (0.5+1.5+1.0)/3 = 1.0, perplexity e', () => {
    const r = lossReport([[0.5, 1.5], [1.0], []]);
    expect(r.loss).toBeCloseTo(1.0, 12);
    expect(r.perplexity).toBeCloseTo(Math.E, 12);
    expect(r.tokens).toBe(3);
    expect(r.rowLoss).toEqual([1.0, 1.0, null]);
  });
});
