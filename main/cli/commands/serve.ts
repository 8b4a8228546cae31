/** `winnow serve [--port N]`: browser mode, as `npm start` runs it without Electron. */
import type { CommandContext } from '../session';

export async function serveCommand({ o }: CommandContext): Promise<unknown> {
  if (typeof o.port === 'string') process.env.WINNOW_PORT = o.port;
  await import('../../server/index');
  return new Promise(() => {}); // runs until killed
}
