/**
 * A training memory estimate with what it is made of, in view (not only in a tooltip): a total of 273 MiB for a
 * 260K-parameter model is mostly activations (batch × tokens), which the user changes with the batch size and max tokens.
 */
import type { TrainEstimate } from '../../../preload/contract';
import { fmtBytes } from './format';

export function MemoryBreakdown({ memory, testId }: { memory: TrainEstimate['memory']; testId?: string }) {
  const parts: Array<[string, number, string]> = [
    ['weights', memory.weightsBytes, 'the whole model, float32'],
    ['activations', memory.activationBytes, 'what one step keeps for the backward pass: grows with batch size × max tokens'],
    ['gradients', memory.gradBytes, 'one per trained parameter'],
    ['optimizer state', memory.optimizerBytes, 'AdamW keeps two values per trained parameter, SGD none'],
  ];
  return (
    <span className="memory-breakdown muted" data-testid={testId}>
      ={' '}
      {parts.map(([name, bytes, why], i) => (
        <span key={name} title={why} data-part={name} data-bytes={bytes}>
          {i > 0 && ' + '}
          {name} {fmtBytes(bytes)}
        </span>
      ))}
    </span>
  );
}
