import type { ApiError } from '../../../preload/contract';

/** An engine error as the user sees it: the message (which names the field at fault) and its code. */
export function ErrorText({ error, testId = 'error' }: { error: ApiError | null | undefined; testId?: string }) {
  if (!error) return null;
  return (
    <div className="error-text" role="alert" data-testid={testId} data-code={error.code}>
      <span className="error-code">{error.code}</span> {error.message}
    </div>
  );
}
