// What keeps the public API safe under hostile input: size and cost limits on
// operations, a per-token rate limit, persisted-only partner tokens, and no
// introspection in production. Each is a yoga/envelop plugin; src/app.ts
// lists them.
import { readFileSync } from 'node:fs';
import { GraphQLError, NoSchemaIntrospectionCustomRule, parse, print, type ASTVisitor, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { AuthInfo } from '../auth.js';

export const OPERATION_LIMITS = {
  maxDepth: 12,
  maxAliases: 15,
  maxTokens: 3_000,
  maxDirectives: 20,
  maxCost: 10_000,
};

/** Depth, aliases, tokens, directives and cost per operation (graphql-armor). */
export function operationLimits(opts: { production: boolean }): Plugin[] {
  return [
    EnvelopArmorPlugin({
      maxDepth: { n: OPERATION_LIMITS.maxDepth, ignoreIntrospection: true },
      maxAliases: { n: OPERATION_LIMITS.maxAliases },
      maxTokens: { n: OPERATION_LIMITS.maxTokens },
      maxDirectives: { n: OPERATION_LIMITS.maxDirectives },
      costLimit: { maxCost: OPERATION_LIMITS.maxCost, ignoreIntrospection: true },
      // "Did you mean …" on unknown fields helps a developer and a scraper alike.
      blockFieldSuggestion: { enabled: opts.production },
    }) as Plugin[],
  ].flat();
}

/** Introspection is refused in production (GraphiQL is off there too). */
export function noIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

// ─── Per-token rate limit ────────────────────────────────────────────────────

export interface RateLimit {
  /** Sustained requests per second. */
  perSecond: number;
  /** Requests allowed at once above the sustained rate. */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 20, burst: 200 };

/**
 * A token bucket per API token, in this process. Behind N replicas a token
 * gets up to N times the rate; that bounds abuse without a shared store.
 */
export class TokenRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limit: RateLimit = DEFAULT_RATE_LIMIT) {}

  /** Takes one request; returns the seconds to wait when the bucket is empty. */
  take(key: string, now = Date.now()): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 100_000) this.buckets.clear(); // a bound on memory, whatever the traffic
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.ceil((1 - bucket.tokens) / this.limit.perSecond) };
  }
}

export function rateLimited(retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(`too many requests for this token: expected at most ${DEFAULT_RATE_LIMIT.perSecond} a second (bursts of ${DEFAULT_RATE_LIMIT.burst}); retry in ${retryAfterSeconds} s`, {
    extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } } },
  });
}

// ─── Persisted operations ────────────────────────────────────────────────────

export interface PersistedManifest {
  /** sha256 → operation text */
  byHash: ReadonlyMap<string, string>;
  /** Normalised operation texts, to recognise a persisted operation sent in full (WebSocket). */
  texts: ReadonlySet<string>;
}

function normalise(text: string): string {
  return print(parse(text));
}

export function loadManifest(path: string): PersistedManifest {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  const byHash = new Map(Object.entries(raw));
  return { byHash, texts: new Set([...byHash.values()].map(normalise)) };
}

export function isPersistedText(manifest: PersistedManifest, query: string): boolean {
  try {
    return manifest.texts.has(normalise(query));
  } catch {
    return false;
  }
}

/**
 * Operations of the manifest can be sent by hash
 * (`extensions.persistedQuery.sha256Hash`); tokens marked persistedOnly may
 * send nothing else. `authOf` resolves (and caches) the request's token.
 */
export function persistedOperations(manifest: PersistedManifest, authOf: (request: Request) => Promise<AuthInfo | null>): Plugin {
  return usePersistedOperations({
    getPersistedOperation: (hash) => manifest.byHash.get(hash) ?? null,
    allowArbitraryOperations: async (request) => {
      const auth = await authOf(request).catch(() => null);
      // No or a bad token: the operation fails authentication later, with its own message.
      return !auth?.persistedOnly;
    },
    customErrors: {
      notFound: 'expected the hash of an operation in the persisted-operations manifest, but this hash is unknown',
      persistedQueryOnly: 'this token may run persisted operations only: send extensions.persistedQuery.sha256Hash of an operation from schema/persisted-documents.json instead of a query',
      keyNotFound: 'expected extensions.persistedQuery.sha256Hash, but the request has none',
    },
  }) as Plugin;
}

// ─── Input values ────────────────────────────────────────────────────────────

export const INPUT_LIMITS = {
  /** Nesting of variables: far above any valid input (conditions nest at most 20 levels), far below a stack overflow. */
  maxVariableDepth: 100,
};

const NUL_MESSAGE = 'expected text without NUL characters (U+0000), which PostgreSQL cannot store';

/** The first problem with a variables object: too deep, or a NUL character in a string or a key. */
export function variablesProblem(value: unknown, path = '$', depth = 0): string | undefined {
  if (depth > INPUT_LIMITS.maxVariableDepth) return `expected variables nested at most ${INPUT_LIMITS.maxVariableDepth} levels deep, but ${path} is deeper`;
  if (typeof value === 'string') return value.includes('\u0000') ? `${NUL_MESSAGE}, but ${path} has one` : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = variablesProblem(value[i], `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key.includes('\u0000')) return `${NUL_MESSAGE}, but a key in ${path} has one`;
      const problem = variablesProblem(v, `${path}.${key}`, depth + 1);
      if (problem) return problem;
    }
  }
  return undefined;
}

function noNulInLiterals(context: ValidationContext): ASTVisitor {
  return {
    StringValue(node) {
      if (node.value.includes('\u0000')) context.reportError(new GraphQLError(`${NUL_MESSAGE}, but a string in the document has one`, { nodes: [node] }));
    },
  };
}

/**
 * Values PostgreSQL cannot store (NUL characters) and variables nested deep
 * enough to overflow graphql-js's coercion are refused before execution, as
 * bad inputs, over HTTP and WebSocket alike.
 */
export function inputValues(): Plugin {
  const refuse = (problem: string) => ({ errors: [new GraphQLError(problem, { extensions: { code: 'BAD_USER_INPUT' } })] });
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(noNulInLiterals);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const problem = variablesProblem(args.variableValues ?? {});
      if (problem) setResultAndStopExecution(refuse(problem));
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const problem = variablesProblem(args.variableValues ?? {});
      if (problem) setResultAndStopExecution(refuse(problem));
    },
  };
}
