// Small helpers shared by every module that builds SQL. Identifiers reach SQL
// only through quoteIdent (after being checked against introspected metadata);
// values never reach it at all, they are bound as parameters.

/** A parameterised statement: built by pure functions, executed elsewhere. */
export interface SqlQuery {
  text: string;
  values: unknown[];
}

/**
 * Quotes an identifier for PostgreSQL: always double-quoted, inner quotes
 * doubled, so any name (mixed case, spaces, reserved words) is taken literally.
 */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`expected a non-empty identifier, but got ${name === '' ? 'an empty string' : typeof name}`);
  }
  // PostgreSQL cannot store a NUL byte in a name; passing one through would
  // truncate the identifier on the server instead of failing here.
  if (name.includes('\0')) throw new TypeError('expected an identifier without NUL characters, but got one containing \\0');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."name"`, both parts quoted. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}
