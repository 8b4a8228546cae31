/**
 * Optimizers over an explicit set of variables, with their state as plain named tensors so checkpoints can save and
 * restore it exactly. AdamW uses decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW does.
 *
 * Parameter masks: a variable with a mask (1 = trainable) gets its new value only where the mask is 1 — the update,
 * weight decay included, is selected entry by entry with `where`, so every other entry keeps its exact bits. The
 * caller also masks the gradient (so clipping and the moments see only trainable entries; the moments of frozen
 * entries stay 0). Optimizer state stays dense: a masked tensor carries full-size exp_avg/exp_avg_sq.
 */
import * as tf from '@tensorflow/tfjs';

export interface OptimizerState {
  step: number;
  /** name → tensor (AdamW: `${param}.exp_avg`, `${param}.exp_avg_sq`) */
  tensors: Map<string, tf.Tensor>;
}

export interface Optimizer {
  readonly kind: 'adamw' | 'sgd';
  /** @param masks per variable, a bool tensor of its shape: only its true entries change */
  apply(vars: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number, masks?: Map<string, tf.Tensor>): void;
  state(): OptimizerState;
  load(state: OptimizerState): void;
  dispose(): void;
}

export function createOptimizer(kind: 'adamw' | 'sgd', opts: { weightDecay: number; beta1?: number; beta2?: number; eps?: number }): Optimizer {
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay;
  let t = 0;
  const slots = new Map<string, tf.Tensor>();

  const replace = (key: string, value: tf.Tensor) => {
    slots.get(key)?.dispose();
    slots.set(key, tf.keep(value));
  };

  return {
    kind,
    apply(vars, grads, lr, masks) {
      t += 1;
      for (const [name, v] of vars) {
        const g = grads.get(name);
        if (!g) continue;
        const mask = masks?.get(name);
        const put = (next: tf.Tensor) => v.assign(mask ? tf.where(mask, next, v) : next);
        if (kind === 'sgd') {
          tf.tidy(() => {
            const decayed = wd > 0 ? tf.mul(v, 1 - lr * wd) : v;
            put(tf.sub(decayed, tf.mul(g, lr)));
          });
          continue;
        }
        const mKey = `${name}.exp_avg`;
        const vKey = `${name}.exp_avg_sq`;
        const m0 = slots.get(mKey) ?? tf.zerosLike(v);
        const v0 = slots.get(vKey) ?? tf.zerosLike(v);
        const [m1, v1] = tf.tidy(() => [tf.add(tf.mul(m0, beta1), tf.mul(g, 1 - beta1)), tf.add(tf.mul(v0, beta2), tf.mul(tf.square(g), 1 - beta2))]);
        if (!slots.has(mKey)) m0.dispose();
        if (!slots.has(vKey)) v0.dispose();
        replace(mKey, m1!);
        replace(vKey, v1!);
        tf.tidy(() => {
          const bc1 = 1 - Math.pow(beta1, t);
          const bc2 = 1 - Math.pow(beta2, t);
          const update = tf.div(tf.div(m1!, bc1), tf.add(tf.sqrt(tf.div(v1!, bc2)), eps));
          const decayed = wd > 0 ? tf.mul(v, 1 - lr * wd) : v;
          put(tf.sub(decayed, tf.mul(update, lr)));
        });
      }
    },
    state() {
      return { step: t, tensors: new Map(slots) };
    },
    load(state) {
      t = state.step;
      for (const [k, v] of state.tensors) replace(k, v);
    },
    dispose() {
      for (const v of slots.values()) v.dispose();
      slots.clear();
    },
  };
}

/** Scale gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number | null): number {
  const norm = tf.tidy(() => {
    const sq = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    return sq.length ? (tf.sqrt(tf.addN(sq)).dataSync()[0] as number) : 0;
  });
  if (maxNorm !== null && norm > maxNorm && norm > 0) {
    const scale = maxNorm / (norm + 1e-6);
    for (const [k, g] of grads) {
      grads.set(k, tf.keep(tf.mul(g, scale)));
      g.dispose();
    }
  }
  return norm;
}
