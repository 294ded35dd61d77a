// Gathers the domain types (each file registers itself on the builder) and
// builds the executable schema.
import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './types/Error.js';
import './types/Workspace.js';
import './types/Source.js';
import './types/Entity.js';
import './types/Schedule.js';
import './types/Segment.js';
import './types/Destination.js';
import './types/AudienceSync.js';
import './types/MatchRate.js';

export const schema = builder.toSchema();

/** The SDL committed as schema/schema.graphql. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
