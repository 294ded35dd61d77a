// Rows of a sync run as the engine hands them to connectors. A page of
// changes arrives from PostgreSQL as JSON text; parsing every payload into
// objects, only for a connector such as the webhook to serialise them back,
// was the largest part of a worker's CPU per row (bench/: delivery). A row
// keeps the text and parses it the first time a connector reads `fields`
// or `identifiers`.
import pg from 'pg';
import type { SyncRow } from '../connectors/contract.js';

const JSONB_OID = 3802;
const JSON_OID = 114;

/** Query types under which json and jsonb columns arrive as their text, unparsed. */
export const PAYLOAD_AS_TEXT: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === JSONB_OID || oid === JSON_OID ? (text: string) => text : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

type Payload = { fields: SyncRow['fields']; identifiers: SyncRow['identifiers'] };

/** A SyncRow over a payload's JSON text, parsed on first use. */
export class PayloadRow implements SyncRow {
  #parsed: Payload | undefined;

  constructor(
    readonly key: string,
    readonly payloadJson: string,
  ) {}

  #payload(): Payload {
    if (!this.#parsed) {
      const p = JSON.parse(this.payloadJson) as Partial<Payload> | null;
      this.#parsed = { fields: p?.fields ?? {}, identifiers: p?.identifiers ?? {} };
    }
    return this.#parsed;
  }

  get fields(): SyncRow['fields'] {
    return this.#payload().fields;
  }

  get identifiers(): SyncRow['identifiers'] {
    return this.#payload().identifiers;
  }

  /** What JSON.stringify and logs see: the row's values, as for a plain row. */
  toJSON(): { key: string; fields: SyncRow['fields']; identifiers: SyncRow['identifiers'] } {
    return { key: this.key, fields: this.fields, identifiers: this.identifiers };
  }
}
