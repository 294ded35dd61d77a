// The condition tree of DESIGN.md §4: the same shape in GraphQL input
// (@oneOf inputs), in storage (Segment.condition, JSON) and in the compiler.
// Each node has exactly one key.

export const ATTRIBUTE_OPS = [
  'EQ', 'NEQ', 'IN', 'NOT_IN', 'GT', 'GTE', 'LT', 'LTE', 'BETWEEN',
  'CONTAINS', 'STARTS_WITH', 'IS_NULL', 'IS_NOT_NULL', 'IS_TRUE', 'IS_FALSE',
  'WITHIN_LAST', 'NOT_WITHIN_LAST', 'BEFORE', 'AFTER',
] as const;
export type AttributeOp = (typeof ATTRIBUTE_OPS)[number];

export const TIME_UNITS = ['MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH', 'YEAR'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

export const COMPARISON_OPS = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE'] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

export const AGGREGATE_FNS = ['SUM', 'AVG', 'MIN', 'MAX'] as const;
export type AggregateFn = (typeof AGGREGATE_FNS)[number];

/** A scalar as it arrives in JSON: strings carry dates and timestamps (ISO-8601). */
export type Scalar = string | number | boolean;

export interface TimeWindow {
  last: number;
  unit: TimeUnit;
}

export interface AttributeCondition {
  /** A column of the entity, or relationship.column through MANY_TO_ONE relationships (any depth). */
  path: string;
  op: AttributeOp;
  /** EQ NEQ GT GTE LT LTE CONTAINS STARTS_WITH BEFORE AFTER */
  value?: Scalar | null;
  /** IN NOT_IN (one or more), BETWEEN (exactly two: low, high; inclusive) */
  values?: Scalar[] | null;
  /** WITHIN_LAST NOT_WITHIN_LAST */
  within?: TimeWindow | null;
}

export interface EventCondition {
  /** A ONE_TO_MANY relationship of the entity, e.g. "purchases". */
  relationship: string;
  /** Conditions on the related rows (paths relative to the related entity). */
  where?: Condition | null;
  /** Only related rows whose time column falls in the last N units. */
  within?: TimeWindow | null;
  /**
   * The related entity's column the window applies to; defaults to its only
   * TIMESTAMP/DATE column, and is required when it has several.
   */
  timeColumn?: string | null;
  /** How many matching rows; default: at least one (GTE 1). */
  count?: { op: ComparisonOp; value: number } | null;
  /**
   * An aggregate over the matching rows, compared to a value: a number, or for
   * MIN/MAX over a DATE or TIMESTAMP column an ISO-8601 date or timestamp.
   */
  aggregate?: { fn: AggregateFn; column: string; op: ComparisonOp; value: number | string } | null;
}

export interface SegmentReference {
  id: string;
  /** true: members of that segment; false: records that are not members. */
  member: boolean;
}

export type Condition =
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition }
  | { attribute: AttributeCondition }
  | { event: EventCondition }
  | { segment: SegmentReference };

export const TIME_UNIT_SQL: Record<TimeUnit, string> = {
  MINUTE: 'minutes',
  HOUR: 'hours',
  DAY: 'days',
  WEEK: 'weeks',
  MONTH: 'months',
  YEAR: 'years',
};
