// Configuration from environment variables, validated once at start. Every bad
// value is reported at once, each with what was expected and what arrived.
import { resolve } from 'node:path';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** Unset: an embedded PostgreSQL is started in `dataDir`. */
  databaseUrl: string | undefined;
  host: string;
  port: number;
  /** 32-byte key for AES-256-GCM; unset only with the embedded default, which keeps one in `dataDir`. */
  secretKey: Buffer | undefined;
  /** Keys that only open values sealed before a rotation (`roster secrets rotate` re-seals them). */
  previousSecretKeys: Buffer[];
  logLevel: LogLevel;
  /** Set: events cross processes through Redis instead of PostgreSQL LISTEN/NOTIFY. */
  redisUrl: string | undefined;
  dataDir: string;
  production: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Decodes a 32-byte key given as 64 hex characters or as base64; null when it is neither. */
export function parseSecretKey(text: string): Buffer | null {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const buf = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (buf.length === 32) return buf;
  }
  return null;
}

function describe(value: string): string {
  return value.length > 40 ? `"${value.slice(0, 37)}…" (${value.length} characters)` : `"${value}"`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];

  let databaseUrl: string | undefined;
  const rawUrl = env.DATABASE_URL?.trim();
  if (rawUrl) {
    try {
      const url = new URL(rawUrl);
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
        problems.push(`DATABASE_URL: expected a postgresql:// URL, but got the scheme "${url.protocol}"`);
      } else {
        databaseUrl = rawUrl;
      }
    } catch {
      // The URL may hold a password: never echo it.
      problems.push('DATABASE_URL: expected a URL like postgresql://user:password@host:5432/database, but it does not parse as a URL');
    }
  }

  let port = 4000;
  if (env.PORT !== undefined && env.PORT !== '') {
    const n = Number(env.PORT);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      problems.push(`PORT: expected an integer from 0 to 65535, but got ${describe(env.PORT)}`);
    } else port = n;
  }

  const host = env.HOST?.trim() || '0.0.0.0';

  let secretKey: Buffer | undefined;
  if (env.ROSTER_SECRET_KEY) {
    const key = parseSecretKey(env.ROSTER_SECRET_KEY);
    if (!key) {
      problems.push(
        `ROSTER_SECRET_KEY: expected 32 bytes as 64 hex characters or base64 (make one with \`roster secret-key\`), but got a value of ${env.ROSTER_SECRET_KEY.trim().length} characters`,
      );
    } else secretKey = key;
  } else if (databaseUrl) {
    problems.push(
      'ROSTER_SECRET_KEY: expected a 32-byte key (64 hex characters; make one with `roster secret-key`) when DATABASE_URL is set, but it is unset. Every replica must share it: it encrypts stored credentials',
    );
  }

  // Previous keys only open old values; a position, never key material, names a bad one.
  const previousSecretKeys: Buffer[] = [];
  if (env.ROSTER_SECRET_KEY_PREVIOUS?.trim()) {
    const entries = env.ROSTER_SECRET_KEY_PREVIOUS.split(',');
    entries.forEach((entry, i) => {
      const position = `key ${i + 1} of ${entries.length}`;
      if (!entry.trim()) {
        problems.push(`ROSTER_SECRET_KEY_PREVIOUS: expected a comma-separated list of 32-byte keys, but ${position} is empty`);
        return;
      }
      const key = parseSecretKey(entry);
      if (!key) {
        problems.push(
          `ROSTER_SECRET_KEY_PREVIOUS: expected each key as 32 bytes in 64 hex characters or base64, but ${position} is a value of ${entry.trim().length} characters`,
        );
      } else previousSecretKeys.push(key);
    });
  }

  let logLevel: LogLevel = 'info';
  if (env.LOG_LEVEL) {
    const level = env.LOG_LEVEL.trim().toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(level)) logLevel = level as LogLevel;
    else problems.push(`LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, but got ${describe(env.LOG_LEVEL)}`);
  }

  let redisUrl: string | undefined;
  if (env.REDIS_URL?.trim()) {
    try {
      const u = new URL(env.REDIS_URL.trim());
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') problems.push(`REDIS_URL: expected a redis:// or rediss:// URL, but got the scheme "${u.protocol}"`);
      else redisUrl = env.REDIS_URL.trim();
    } catch {
      problems.push('REDIS_URL: expected a URL like redis://host:6379, but it does not parse as a URL');
    }
  }

  const dataDir = resolve(env.ROSTER_DATA_DIR?.trim() || '.roster');

  if (problems.length) throw new ConfigError(problems);
  return { databaseUrl, host, port, secretKey, previousSecretKeys, logLevel, redisUrl, dataDir, production: env.NODE_ENV === 'production' };
}
