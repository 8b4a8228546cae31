/** The search index's query language (examples_fts, an FTS5 table), shared by the table query and the histogram. */

/**
 * Turn user text into an FTS5 query: each word quoted, so FTS syntax in the input is inert; the last word matches
 * as a prefix (the one being typed), earlier ones as whole words. A prefix of a word in every row (e.g. "case"*)
 * makes FTS5 merge a million-entry doclist; a whole word lets it skip through the doclist index.
 */
export function ftsQuery(text: string): string | null {
  const words = text.split(/\s+/).map((w) => w.replace(/"/g, '')).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return null;
  return words.map((w, i) => (i === words.length - 1 ? `"${w}"*` : `"${w}"`)).join(' ');
}
