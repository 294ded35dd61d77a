// What Roster knows of a warehouse's tables: read by introspection, stored on
// entities, and the only source of identifiers that may appear in generated SQL.

/** A column's type family: what operators and identifier kinds fit it. */
export type ColumnType =
  | 'STRING'
  | 'INTEGER'
  | 'NUMBER'
  | 'BOOLEAN'
  | 'TIMESTAMP'
  | 'DATE'
  | 'JSON'
  | 'UUID'
  | 'ARRAY'
  | 'OTHER';

export interface WarehouseColumn {
  name: string;
  /** The database's own type name, e.g. "timestamp with time zone", "character varying(255)". */
  dataType: string;
  type: ColumnType;
  nullable: boolean;
}

export type RelationKind = 'TABLE' | 'VIEW' | 'MATERIALIZED_VIEW' | 'FOREIGN_TABLE' | 'PARTITIONED_TABLE';

export interface WarehouseTable {
  schema: string;
  name: string;
  kind: RelationKind;
  columns: WarehouseColumn[];
  /** Primary key columns, in key order; empty for views and keyless tables. */
  primaryKey: string[];
}
