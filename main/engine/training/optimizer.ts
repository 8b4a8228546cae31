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

/** `out`, after disposing the tensors it was computed from */
function then<T extends tf.Tensor>(out: T, ...used: tf.Tensor[]): T {
  for (const u of used) u.dispose();
  return out;
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
        // One op at a time, each input freed as soon as it is used: at most two parameter-sized temporaries live at
        // once (a tidy would keep all of them to its end, and the wasm heap never shrinks, so that peak would stay).
        // The same ops in the same order as before, so results are unchanged.
        const m0 = slots.get(mKey);
        const v0 = slots.get(vKey);
        let m = tf.mul(g, 1 - beta1);
        if (m0) {
          const a = tf.mul(m0, beta1);
          m = then(tf.add(a, m), a, m);
          m0.dispose();
        }
        slots.set(mKey, tf.keep(m));
        const g2 = tf.square(g);
        let s = then(tf.mul(g2, 1 - beta2), g2);
        if (v0) {
          const a = tf.mul(v0, beta2);
          s = then(tf.add(a, s), a, s);
          v0.dispose();
        }
        slots.set(vKey, tf.keep(s));
        const bc1 = 1 - Math.pow(beta1, t);
        const bc2 = 1 - Math.pow(beta2, t);
        // update = (m / bc1) / (sqrt(v / bc2) + eps); p ← p·(1 − lr·wd) − lr·update
        let d = tf.div(s, bc2);
        d = then(tf.sqrt(d), d);
        d = then(tf.add(d, eps), d);
        const mh = tf.div(m, bc1);
        let u = then(tf.div(mh, d), mh, d);
        u = then(tf.mul(u, lr), u);
        const decayed = wd > 0 ? tf.mul(v, 1 - lr * wd) : v;
        let next = then(tf.sub(decayed, u), u);
        if (decayed !== v) decayed.dispose();
        if (mask) next = then(tf.where(mask, next, v), next);
        v.assign(next);
        next.dispose();
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

/** The global L2 norm of the gradients as a scalar tensor (not read: the caller batches it with its other reads). */
export function globalNorm(grads: Map<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const sq = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    // a sum of scalars one at a time, not addN: on webgpu addN binds every input to one shader, and more inputs than
    // the adapter's storage buffers per stage (8 on many) fail to compile (LoRA gives two tensors per module)
    return (sq.length ? tf.sqrt(sq.reduce((a, b) => tf.add(a, b))) : tf.scalar(0)) as tf.Scalar;
  });
}

/** Scale gradients in place so their global L2 norm (already read: `norm`) is at most maxNorm. */
export function clipToNorm(grads: Map<string, tf.Tensor>, norm: number, maxNorm: number | null): void {
  if (maxNorm !== null && norm > maxNorm && norm > 0) {
    const scale = maxNorm / (norm + 1e-6);
    for (const [k, g] of grads) {
      grads.set(k, tf.keep(tf.mul(g, scale)));
      g.dispose();
    }
  }
}

/** Scale gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. */
export async function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number | null): Promise<number> {
  const t = globalNorm(grads);
  const norm = ((await t.data()) as Float32Array)[0]!;
  t.dispose();
  clipToNorm(grads, norm, maxNorm);
  return norm;
}
