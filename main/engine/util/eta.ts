/**
 * Time left from tokens, not examples. Scoring takes rows in length buckets, shortest first, so the first examples are
 * the cheap ones: examples/s measured on them overstates the speed for the long rows still to come (a run of 185 s was
 * first estimated at 52 s). The work of a forward pass grows with the tokens it reads, so tokens done per second,
 * applied to the tokens still to read, estimates what is left. Pure: the caller passes the counts and the clock.
 */

export interface Throughput {
  /** examples done in this session (not counting what an earlier, resumed session did) */
  examplesDone: number;
  /** tokens of those examples */
  tokensDone: number;
  /** tokens of the examples not done yet */
  tokensLeft: number;
  /** seconds this session has run */
  seconds: number;
}

export interface EtaEstimate {
  /** null until something is done (no rate to go on) */
  etaSeconds: number | null;
  tokensPerSec: number;
  examplesPerSec: number;
}

export function etaFromTokens(t: Throughput): EtaEstimate {
  const secs = Math.max(t.seconds, 1e-3);
  const tokensPerSec = t.tokensDone / secs;
  const examplesPerSec = t.examplesDone / secs;
  const etaSeconds = t.tokensLeft <= 0 ? 0 : tokensPerSec > 0 ? t.tokensLeft / tokensPerSec : null;
  return { etaSeconds, tokensPerSec, examplesPerSec };
}

/** What examples/s would say: kept for comparison (tests, and the reason this module exists). */
export function etaFromExamples(examplesDone: number, examplesLeft: number, seconds: number): number | null {
  const eps = examplesDone / Math.max(seconds, 1e-3);
  return examplesLeft <= 0 ? 0 : eps > 0 ? examplesLeft / eps : null;
}
