import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../main/engine/models/config';
import { ropeInvFreq, ropeTables } from '../../../main/engine/models/llama';

const base = {
  model_type: 'llama',
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 1,
  num_attention_heads: 32,
  rope_theta: 500000,
};

describe('RoPE frequencies (transformers rope_init_fn)', () => {
  it('default: theta^(-2i/d)', () => {
    const inv = ropeInvFreq(parseModelConfig(base));
    expect(inv.length).toBe(64);
    expect(inv[0]).toBe(1);
    expect(inv[1]).toBeCloseTo(Math.pow(500000, -2 / 128), 7);
    expect(inv[63]).toBeCloseTo(Math.pow(500000, -126 / 128), 12);
  });

  it('linear: every frequency divided by factor', () => {
    const d = ropeInvFreq(parseModelConfig(base));
    const l = ropeInvFreq(parseModelConfig({ ...base, rope_scaling: { type: 'linear', factor: 4 } }));
    d.forEach((v, i) => expect(l[i]).toBeCloseTo(v / 4, 12));
  });

  it('llama3: high frequencies kept, low divided by factor, the band between interpolated', () => {
    const d = ropeInvFreq(parseModelConfig(base));
    const s = ropeInvFreq(
      parseModelConfig({
        ...base,
        rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      }),
    );
    let kept = 0;
    let divided = 0;
    let smoothed = 0;
    d.forEach((v, i) => {
      const wavelen = (2 * Math.PI) / v;
      if (wavelen < 8192 / 4) {
        expect(s[i]).toBe(v);
        kept++;
      } else if (wavelen > 8192) {
        expect(s[i]).toBeCloseTo(v / 8, 12);
        divided++;
      } else {
        expect(s[i]).toBeLessThan(v);
        expect(s[i]).toBeGreaterThan(v / 8);
        smoothed++;
      }
    });
    expect(kept && divided && smoothed).toBeTruthy();
  });

  it('tables are cat(freqs, freqs): position 0 is cos 1 / sin 0, halves repeat', () => {
    const cfg = parseModelConfig({ ...base, hidden_size: 64, num_attention_heads: 8, rope_theta: 10000 });
    const { cos, sin } = ropeTables(cfg, 3);
    expect(Array.from(cos.slice(0, 8))).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(sin.slice(0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(cos[8 + 0]).toBeCloseTo(Math.cos(1), 6);
    expect(cos[8 + 4]).toBe(cos[8 + 0]);
    expect(sin[16 + 1]).toBeCloseTo(Math.sin(2 * Math.pow(10000, -2 / 8)), 6);
  });
});
