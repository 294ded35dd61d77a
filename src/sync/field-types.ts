// Which warehouse column types may be written to which destination property
// types, checked when a sync is saved so that a date mapped to a number
// property is refused up front, with the reason, instead of failing row by
// row in the destination.
import type { DestinationField, DestinationFieldType } from '../connectors/contract.js';
import type { ColumnType } from '../warehouse/types.js';

/** Column types each property type accepts. Text takes any scalar (as its text form). */
const ACCEPTS: Record<DestinationFieldType, readonly (ColumnType | 'SEGMENT_LIST')[]> = {
  STRING: ['STRING', 'INTEGER', 'NUMBER', 'BOOLEAN', 'TIMESTAMP', 'DATE', 'UUID', 'SEGMENT_LIST'],
  NUMBER: ['INTEGER', 'NUMBER'],
  BOOLEAN: ['BOOLEAN'],
  DATE: ['DATE', 'TIMESTAMP'],
  DATETIME: ['TIMESTAMP', 'DATE'],
  ENUM: ['STRING', 'BOOLEAN', 'SEGMENT_LIST'],
  OTHER: ['STRING', 'INTEGER', 'NUMBER', 'BOOLEAN', 'TIMESTAMP', 'DATE', 'UUID', 'JSON', 'ARRAY', 'OTHER', 'SEGMENT_LIST'],
};

const COLUMN_WORDS: Record<ColumnType | 'SEGMENT_LIST', string> = {
  STRING: 'text',
  INTEGER: 'an integer',
  NUMBER: 'a number',
  BOOLEAN: 'a boolean',
  TIMESTAMP: 'a timestamp',
  DATE: 'a date',
  JSON: 'JSON',
  UUID: 'a uuid',
  ARRAY: 'a list',
  OTHER: 'an unsupported type',
  SEGMENT_LIST: 'the list of segment names',
};

const FIELD_WORDS: Record<DestinationFieldType, string> = {
  STRING: 'text',
  NUMBER: 'number',
  BOOLEAN: 'boolean',
  DATE: 'date',
  DATETIME: 'date-time',
  ENUM: 'enumeration',
  OTHER: 'untyped',
};

/**
 * Why a source of type `source` (column `from`, of database type
 * `dataType`) cannot be written to `field`, or undefined when it can.
 */
export function mappingTypeProblem(from: string, source: ColumnType | 'SEGMENT_LIST', dataType: string, field: DestinationField): string | undefined {
  if (ACCEPTS[field.type].includes(source)) return undefined;
  const fits = (Object.keys(ACCEPTS) as DestinationFieldType[]).filter((t) => t !== 'OTHER' && ACCEPTS[t].includes(source)).map((t) => FIELD_WORDS[t]);
  const shown = dataType && source !== 'SEGMENT_LIST' ? `${COLUMN_WORDS[source]} (${dataType})` : COLUMN_WORDS[source];
  const wanted = ACCEPTS[field.type]
    .filter((t) => t !== 'SEGMENT_LIST')
    .map((t) => COLUMN_WORDS[t as ColumnType].replace(/^an? /, ''))
    .join(' or ');
  const article = /^[aeiou]/.test(wanted) ? 'an' : 'a';
  return `"${from}" is ${shown}, which cannot be written to the ${FIELD_WORDS[field.type]} property "${field.name}"; expected ${article} ${wanted} column${fits.length ? ` (${shown} fits ${fits.join(', ')} properties)` : ''}`;
}
