/**
 * Conversation trees (OpenAssistant oasst1/oasst2) made into conversations. Two shapes ship:
 *  - one message per row (the releases' Parquet and `*.messages.jsonl`): `message_id`, `parent_id` (null at the
 *    root), `role` (prompter | assistant), `text`, `lang`, `rank` (0 = best among siblings, null when unranked),
 *    `deleted`, `synthetic`, `review_count`, `message_tree_id`. A tree is complete only once every row is read, so
 *    the rows are gathered (by tree) and the conversations come at the end of the file;
 *  - nested tree exports (`*.trees.jsonl`): one tree per line, `message_tree_id`, `tree_state`, and `prompt`, the
 *    root message, each message with its `replies`. Each line becomes its conversations at once.
 * A conversation is a path from a root prompt down the tree: the best-ranked reply at each step ("top1", as the
 * community's top-1 sets are made) or every path to a leaf ("all_paths"). A message filtered out (deleted, synthetic,
 * another language, too few reviews) takes its replies with it; a path ending on a prompt drops that last prompt.
 */
import type { RecordItem } from './readers';

export interface TreeOptions {
  policy: 'top1' | 'all_paths';
  /** keep only messages in these languages (`lang`); all when absent */
  lang?: string[];
  /** keep deleted messages (default false) */
  deleted?: boolean;
  /** keep synthetic messages (default false) */
  synthetic?: boolean;
  /** keep only messages with at least this many reviews (`review_count`) */
  minReviews?: number;
}

type Rec = Record<string, unknown>;
const isObj = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

interface Msg {
  id: string;
  parent: string | null;
  role: string;
  text: string;
  lang: unknown;
  rank: number | null;
  deleted: boolean;
  synthetic: boolean;
  reviews: number;
  tree: string;
  line: number;
  /** order of appearance, for ties */
  order: number;
}

/** One message of an oasst message table. */
export function isMessageRow(r: unknown): r is Rec {
  return isObj(r) && typeof r.message_id === 'string' && 'parent_id' in r && typeof r.text === 'string' && typeof r.role === 'string';
}

/** One tree of an oasst tree export (`prompt` holding the root message and its replies). */
export function isNestedTree(r: unknown): r is Rec {
  return isObj(r) && isObj(r.prompt) && typeof (r.prompt as Rec).text === 'string' && Array.isArray((r.prompt as Rec).replies);
}

let order = 0;
function msg(r: Rec, parent: string | null, tree: string, line: number): Msg {
  const rank = typeof r.rank === 'number' ? r.rank : null;
  return {
    id: String(r.message_id ?? `${tree}:${order}`), parent, role: String(r.role), text: String(r.text ?? ''), lang: r.lang, rank,
    deleted: r.deleted === true, synthetic: r.synthetic === true, reviews: typeof r.review_count === 'number' ? r.review_count : 0,
    tree, line, order: order++,
  };
}

export function fromRow(r: Rec, line: number): Msg {
  return msg(r, typeof r.parent_id === 'string' ? r.parent_id : null, String(r.message_tree_id ?? r.message_id), line);
}

/** The messages of a nested tree, parents before their replies. */
export function fromNested(t: Rec, line: number): Msg[] {
  const out: Msg[] = [];
  const tree = String(t.message_tree_id ?? (t.prompt as Rec).message_id ?? `line ${line}`);
  const walk = (m: Rec, parent: string | null) => {
    const x = msg(m, parent, tree, line);
    out.push(x);
    for (const r of Array.isArray(m.replies) ? m.replies : []) if (isObj(r)) walk(r, x.id);
  };
  walk(t.prompt as Rec, null);
  return out;
}

const ROLE: Record<string, string> = { prompter: 'user', assistant: 'assistant', user: 'user' };

/** The conversations messages of one or more trees make under a policy, each a record that maps as `messages`. */
export function conversations(msgs: Msg[], opts: TreeOptions): RecordItem[] {
  const keep = (m: Msg) => (opts.deleted || !m.deleted) && (opts.synthetic || !m.synthetic) && m.reviews >= (opts.minReviews ?? 0) &&
    (!opts.lang?.length || opts.lang.includes(String(m.lang))) && m.text.trim() !== '';
  const children = new Map<string, Msg[]>();
  const roots: Msg[] = [];
  for (const m of msgs) {
    if (!keep(m)) continue;
    if (m.parent === null) roots.push(m);
    else {
      const list = children.get(m.parent);
      if (list) list.push(m);
      else children.set(m.parent, [m]);
    }
  }
  const best = (list: Msg[]) => [...list].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.order - b.order)[0];
  const out: RecordItem[] = [];
  const emit = (path: Msg[]) => {
    const turns = path[path.length - 1].role === 'assistant' ? path : path.slice(0, -1);
    if (turns.length < 2) return;
    out.push({
      line: turns[0].line,
      record: {
        message_tree_id: turns[0].tree, lang: turns[0].lang ?? null,
        messages: turns.map((m) => ({ role: ROLE[m.role] ?? m.role, content: m.text })), message_ids: turns.map((m) => m.id),
      },
    });
  };
  for (const root of roots.sort((a, b) => a.order - b.order)) {
    if (root.role !== 'prompter' && root.role !== 'user') continue;
    if (opts.policy === 'top1') {
      const path = [root];
      for (let kids = children.get(root.id); kids?.length; kids = children.get(path[path.length - 1].id)) path.push(best(kids));
      emit(path);
    } else {
      const walk = (path: Msg[]) => {
        const kids = children.get(path[path.length - 1].id);
        if (!kids?.length) return emit(path);
        for (const k of [...kids].sort((a, b) => a.order - b.order)) walk([...path, k]);
      };
      walk([root]);
    }
  }
  return out;
}

/** How many conversations each policy makes of these messages (the preview's counts). */
export function policyCounts(msgs: Msg[], opts: Omit<TreeOptions, 'policy'>): { trees: number; messages: number; top1: number; allPaths: number } {
  return {
    trees: new Set(msgs.map((m) => m.tree)).size, messages: msgs.length,
    top1: conversations(msgs, { ...opts, policy: 'top1' }).length, allPaths: conversations(msgs, { ...opts, policy: 'all_paths' }).length,
  };
}

/** The messages of sampled records (message rows and nested trees). */
export function treeMessages(items: RecordItem[]): Msg[] {
  const out: Msg[] = [];
  for (const it of items) {
    if (isMessageRow(it.record)) out.push(fromRow(it.record, it.line));
    else if (isNestedTree(it.record)) out.push(...fromNested(it.record, it.line));
  }
  return out;
}

/**
 * A stream of records turned into conversations: nested trees at once, message rows at the end (grouped by tree),
 * records that are conversations already (a re-imported export) as they are. Unreadable items pass through.
 */
export async function* treeRecords(items: AsyncIterable<RecordItem[]>, opts: TreeOptions): AsyncGenerator<RecordItem[]> {
  const rows: Msg[] = [];
  for await (const batch of items) {
    const out: RecordItem[] = [];
    for (const it of batch) {
      if (it.error !== undefined) out.push(it);
      else if (isMessageRow(it.record)) rows.push(fromRow(it.record, it.line));
      else if (isNestedTree(it.record)) out.push(...conversations(fromNested(it.record, it.line), opts));
      else out.push(it);
    }
    if (out.length) yield out;
  }
  const made = conversations(rows, opts);
  for (let i = 0; i < made.length; i += 4000) yield made.slice(i, i + 4000);
}
