import { hash } from 'node:crypto';
import { isTextRecord, type Normalized } from './formats';

const PREVIEW_CHARS = 280;

/** All the example's text, for search: message contents separated by blank lines. */
export function fullText(n: Normalized): string {
  return isTextRecord(n) ? n.text : n.map((m) => m.content).join('\n\n');
}

/** One line for the table: "user: … ⏎ assistant: …", whitespace collapsed, cut at PREVIEW_CHARS. */
export function previewText(n: Normalized): string {
  const s = isTextRecord(n) ? n.text : n.map((m) => `${m.role}: ${m.content}`).join(' ⏎ ');
  // collapse only the head: long examples would otherwise pay a regex pass over all their text
  const flat = s.slice(0, PREVIEW_CHARS * 4).replace(/\s+/g, ' ').trim();
  return flat.length > PREVIEW_CHARS ? `${flat.slice(0, PREVIEW_CHARS - 1)}…` : flat;
}

export function charCount(n: Normalized): number {
  return isTextRecord(n) ? n.text.length : n.reduce((s, m) => s + m.content.length, 0);
}

/**
 * `exact_dup` key: lowercase, whitespace collapsed, roles kept (the same words asked vs answered
 * are different examples), sha1.
 */
export function normHash(n: Normalized): string {
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();
  const s = isTextRecord(n) ? `text\u0001${norm(n.text)}` : n.map((m) => `${m.role.toLowerCase()}\u0001${norm(m.content)}`).join('\u0002');
  return hash('sha1', s, 'hex');
}
