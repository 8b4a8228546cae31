/**
 * Stored examples as the rest of the engine reads them: with their messages, which rows imported since schema 8 do
 * not store and which are derived from the record's JSON with the dataset's mapping (the same toMessages the import
 * ran). The rows themselves come from db/datasets.ts.
 */
import type { Db } from '../db/open';
import { WinnowError } from '../util/errors';
import { datasetMappingReader, exampleDbRow, exampleDbRowByRow, examplePager, type ExampleDbRow, type ExampleRow } from '../db/datasets';
import { toMessages, type Mapping, type Normalized } from './formats';
import { normHash, previewText } from './normalize';

/**
 * An example's messages (or `{ text }`): stored in messages_json by older imports, else derived from the record's
 * JSON with its dataset's mapping (the same toMessages the import ran, so the same result).
 */
export function deriveMessages(rawJson: string, messagesJson: string, mapping: Mapping, at: string): Normalized {
  if (messagesJson !== '') return JSON.parse(messagesJson) as Normalized;
  return toMessages(JSON.parse(rawJson), mapping, at);
}

/** Where a stored row is, for messages: its dataset's file name (what the user imported) and the row. */
export function storedRowName(datasetName: string, datasetId: number, rowIndex: number): string {
  // numbered from 1, as the UI numbers rows (the file's item number; row_index counts from 0)
  return `${datasetName} (dataset ${datasetId}) row ${rowIndex + 1}`;
}

/** deriveMessages for rows of any dataset, with each dataset's mapping read once. */
export function messagesReader(db: Db): (row: { datasetId: number; rowIndex: number; rawJson: string; messagesJson: string }) => Normalized {
  const datasets = new Map<number, { name: string; mapping: Mapping }>();
  const get = datasetMappingReader(db);
  return (row) => {
    let d = datasets.get(row.datasetId);
    if (!d) {
      const r = get(row.datasetId);
      if (r === undefined) throw new WinnowError('not_found', `dataset ${row.datasetId} does not exist`);
      d = { name: r.name, mapping: JSON.parse(r.mappingJson) as Mapping };
      datasets.set(row.datasetId, d);
    }
    return deriveMessages(row.rawJson, row.messagesJson, d.mapping, storedRowName(d.name, row.datasetId, row.rowIndex));
  };
}

function toExample(r: ExampleDbRow): ExampleRow {
  const messages = deriveMessages(r.raw_json, r.messages_json, JSON.parse(r.mapping_json) as Mapping,
    storedRowName(r.dataset_name, r.dataset_id, r.row_index));
  return {
    id: r.id, datasetId: r.dataset_id, rowIndex: r.row_index, raw: JSON.parse(r.raw_json),
    messages, textPreview: r.text_preview || previewText(messages), normHash: r.norm_hash || normHash(messages), nChars: r.n_chars,
  };
}

export function getExample(db: Db, exampleId: number): ExampleRow {
  return toExample(exampleDbRow(db, exampleId));
}

export function getExampleByRow(db: Db, datasetId: number, rowIndex: number): ExampleRow {
  return toExample(exampleDbRowByRow(db, datasetId, rowIndex));
}

/** Keyset pagination in id order, with each row's messages (stored or derived). */
export function examplesAfter(db: Db, datasetId: number, afterId: number, limit: number): Array<{ id: number; rowIndex: number; messages: Normalized }> {
  const rows = examplePager<{ id: number; rowIndex: number; rawJson: string; messagesJson: string }>(
    db, datasetId, 'id, row_index AS rowIndex, raw_json AS rawJson, messages_json AS messagesJson')(afterId, limit);
  if (rows.length === 0) return [];
  const d = datasetMappingReader(db)(datasetId);
  if (d === undefined) throw new WinnowError('not_found', `dataset ${datasetId} does not exist`);
  const mapping = JSON.parse(d.mappingJson) as Mapping;
  return rows.map((r) => ({ id: r.id, rowIndex: r.rowIndex, messages: deriveMessages(r.rawJson, r.messagesJson, mapping, storedRowName(d.name, datasetId, r.rowIndex)) }));
}
