// The contract between the sync engine and a destination (DESIGN.md §6). The
// engine knows only this file: a connector declares what it accepts and can
// do in `spec`, and the engine relies on nothing else. No vendor name appears
// outside src/connectors/<vendor>/.
import type { Logger } from '../logger.js';
import type { IdentifierType } from '../generated/prisma/enums.js';
import type { ValidationProblem } from '../graphql/errors.js';

export type ConfigFieldType = 'string' | 'url' | 'integer' | 'boolean' | 'enum' | 'path';

export interface ConfigField {
  name: string;
  type: ConfigFieldType;
  required: boolean;
  /** Stored encrypted, never returned by the API, never logged. */
  secret: boolean;
  description: string;
  enum?: readonly string[];
  default?: string | number | boolean;
}

export interface IdentifierSpec {
  type: IdentifierType;
  /** How the connector sends it: hashed with SHA-256 after normalising, or as is. */
  hashed: boolean;
}

export type DestinationCategory = 'AD_PLATFORM' | 'CRM' | 'MARKETING' | 'WAREHOUSE' | 'FILE' | 'WEBHOOK';

export interface ConnectorSpec {
  category: DestinationCategory;
  configSchema: readonly ConfigField[];
  /** Identifiers the destination accepts; a sync sends the intersection with the entity's. */
  identifiers: readonly IdentifierSpec[];
  audiences: {
    /** The destination can list its audiences (test syncs need this). */
    canList: boolean;
    canCreate: boolean;
    types: readonly string[];
    defaultType: string | null;
  };
  /** Most rows per add/remove/update call. */
  batchSize: number;
  /** Requests per second and concurrent requests the destination allows; null: no limit. */
  rateLimit: { requestsPerSecond: number; concurrency: number } | null;
  /** Rows must exist as profiles before they can join an audience (ensureProfiles). */
  requiresProfiles: boolean;
  reportsMatchRate: boolean;
  /** update() exists: changed fields are sent as updates; otherwise updates go through add(). */
  supportsUpdate: boolean;
}

/** A row as the engine hands it over: the record's key, mapped fields and identifiers. */
export interface SyncRow {
  key: string;
  fields: Record<string, unknown>;
  /** Raw identifier values from the warehouse; the connector normalises and hashes them. */
  identifiers: Partial<Record<IdentifierType, string | null>>;
  /**
   * `{ "fields": …, "identifiers": … }` as JSON text, as the warehouse wrote
   * it (key order and spacing are PostgreSQL's), when the engine read the
   * row so: the same values as `fields` and `identifiers`. A connector that
   * forwards rows as JSON may splice it rather than serialise the objects
   * again (and the engine then never parses them). Valid only while the
   * row is unchanged: a connector that edits `fields` or `identifiers`
   * serialises them instead.
   */
  readonly payloadJson?: string;
}

export interface Audience {
  /** The destination's id for it. */
  id: string;
  name: string;
  type?: string | null;
  size?: number | null;
}

export interface RowRejection {
  key: string;
  message: string;
  /** The destination's own error code, when it gives one. */
  code?: string;
}

export interface DeliveryResult {
  /** Rows the destination refused; every other row of the call was accepted. */
  rejected: RowRejection[];
}

export interface ConnectorContext<Config> {
  destinationId: string;
  /** Validated non-secret configuration merged with decrypted secrets. */
  config: Config;
  logger: Logger;
  /** Aborted when the run is cancelled or the process stops. */
  signal: AbortSignal;
}

/**
 * A failure of a whole call (not of single rows). `retryable` failures were
 * already retried by the HTTP helper; reaching the engine, they end the run
 * and the batch is not accounted, so the next run sends it again.
 */
export class ConnectorError extends Error {
  override name = 'ConnectorError';
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * What a platform reports about an audience after upload. Platforms differ:
 * some report matched members, some only an (approximate) audience size, one
 * a percentage. Roster stores a rate per sample: `rate` when given, else
 * matched / uploaded, with uploaded defaulting to the members Roster sent.
 */
export interface AudienceStats {
  /** Members matched to the platform's users, or the audience size where that is what it reports. */
  matched: number | null;
  /** Members received, as the platform counts them; null: Roster's own count is used. */
  uploaded: number | null;
  /** The platform's own match rate from 0 to 1, when it reports one. */
  rate?: number | null;
}

export type DestinationFieldType = 'STRING' | 'NUMBER' | 'BOOLEAN' | 'DATE' | 'DATETIME' | 'ENUM' | 'OTHER';

/** A property of the destination's records a mapping can write (contact properties, merge fields…). */
export interface DestinationField {
  name: string;
  type: DestinationFieldType;
  label?: string;
  /** For ENUM: the values the destination allows. */
  options?: string[];
}

export interface Connector<Config = Record<string, unknown>> {
  type: string;
  /** Human name, e.g. "Webhook". */
  name: string;
  spec: ConnectorSpec;
  /**
   * Rows per call for one destination, when its configuration can lower
   * spec.batchSize (a receiver's own limit). The engine accounts after every
   * call, so this is also the most a crash can make it send twice.
   */
  batchSizeFor?(config: Config): number;
  /**
   * Calls the engine may have on the wire at once for one destination
   * (default 1): the next batch is built and sent while the destination
   * works on the previous one. Above 1, calls to ensureProfiles, add, remove
   * and update overlap (never across operations: every remove is answered
   * before the first add is sent), so a connector that keeps state between
   * a run's calls (a file it appends to) leaves this out. A worker killed
   * mid-run makes the next run send again at most these calls and the
   * confirmed ones not yet accounted.
   */
  concurrencyFor?(config: Config): number;
  /** Checks a configuration beyond its schema (e.g. a URL's scheme); problems name the field. */
  validateConfig?(config: Config): ValidationProblem[];
  /** Credentials and reachability, with a clear error. */
  check(ctx: ConnectorContext<Config>): Promise<void>;
  listAudiences?(ctx: ConnectorContext<Config>): Promise<Audience[]>;
  createAudience?(ctx: ConnectorContext<Config>, input: { name: string; type: string | null }): Promise<Audience>;
  /** Creates the profiles that do not exist yet (requiresProfiles); never deletes any. */
  ensureProfiles?(ctx: ConnectorContext<Config>, rows: SyncRow[]): Promise<DeliveryResult>;
  add(ctx: ConnectorContext<Config>, audience: Audience, rows: SyncRow[]): Promise<DeliveryResult>;
  remove(ctx: ConnectorContext<Config>, audience: Audience, rows: SyncRow[]): Promise<DeliveryResult>;
  update?(ctx: ConnectorContext<Config>, audience: Audience, rows: SyncRow[]): Promise<DeliveryResult>;
  /** Called once per audience after a run's last batch (e.g. to finish a file). */
  flush?(ctx: ConnectorContext<Config>, audience: Audience): Promise<void>;
  /** Match statistics of an audience (spec.reportsMatchRate). */
  matchRate?(ctx: ConnectorContext<Config>, audience: Audience): Promise<AudienceStats>;
  /**
   * The destination's record properties; mappings are checked against their
   * types when a sync is saved. Absent: any field name is accepted.
   */
  fields?(ctx: ConnectorContext<Config>): Promise<DestinationField[]>;
}
