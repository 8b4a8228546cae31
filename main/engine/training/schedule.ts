/** Learning-rate schedules with linear warm-up. `step` is 0-based; the value is the lr used for that step. */
export function learningRate(
  schedule: 'constant' | 'linear' | 'cosine',
  baseLr: number,
  step: number,
  totalSteps: number,
  warmupSteps: number,
): number {
  if (warmupSteps > 0 && step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
  if (schedule === 'constant') return baseLr;
  const span = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / span));
  if (schedule === 'linear') return baseLr * (1 - progress);
  return baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
