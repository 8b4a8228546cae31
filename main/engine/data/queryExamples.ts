/** The examples table's pages (`examples.query`): db/queryExamples.ts's query, with previews made for rows that store none. */
import type { Db } from '../db/open';
import { queryExampleRows, type ExampleQuery, type ExampleQueryResult } from '../db/queryExamples';
import { messagesReader } from './examples';
import { previewText } from './normalize';

export type { ExampleQuery, ExampleQueryResult, ExampleListRow } from '../db/queryExamples';

export function queryExamples(db: Db, q: ExampleQuery): ExampleQueryResult {
  const messagesOf = messagesReader(db);
  return queryExampleRows(db, q, (row) => previewText(messagesOf(row)));
}
