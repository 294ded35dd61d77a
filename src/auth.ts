// API tokens: `rst_` + 32 random bytes (base62-ish via base64url). Only the
// SHA-256 of a token is stored, so a database leak reveals no usable token;
// the token itself is shown once, when it is created.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from './db.js';
import type { TokenScope } from './generated/prisma/enums.js';

export const TOKEN_PREFIX = 'rst_';

export interface AuthInfo {
  tokenId: string;
  workspaceId: string;
  scopes: ReadonlySet<TokenScope>;
  persistedOnly: boolean;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): { token: string; hash: string; prefix: string } {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token), prefix: token.slice(0, TOKEN_PREFIX.length + 6) };
}

/** Scopes are cumulative: admin may do what write may, write what read may. */
export function expandScopes(scopes: readonly TokenScope[]): Set<TokenScope> {
  const out = new Set<TokenScope>(scopes);
  if (out.has('ADMIN')) out.add('WRITE');
  if (out.has('WRITE')) out.add('READ');
  return out;
}

export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
}

/** Reads `Bearer <token>`; undefined when there is no header at all. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (header == null || header === '') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AuthenticationError('expected an Authorization header of the form "Bearer <token>", but got another form');
  return match[1];
}

const LAST_USED_PRECISION_MS = 60_000;

export async function authenticate(prisma: PrismaClient, token: string): Promise<AuthInfo> {
  if (!token.startsWith(TOKEN_PREFIX)) {
    throw new AuthenticationError(`expected an API token starting with "${TOKEN_PREFIX}", but got one that does not`);
  }
  const hash = hashToken(token);
  const row = await prisma.apiToken.findUnique({ where: { tokenHash: hash } });
  // The lookup is by hash, so comparing again is belt and braces against a
  // collation or index surprise; it costs nothing.
  if (!row || !timingSafeEqual(Buffer.from(row.tokenHash), Buffer.from(hash))) {
    throw new AuthenticationError('invalid API token: no such token (it may have been revoked or mistyped)');
  }
  if (row.revokedAt) throw new AuthenticationError(`API token ${row.prefix}… was revoked on ${row.revokedAt.toISOString()}`);
  if (row.expiresAt && row.expiresAt <= new Date()) {
    throw new AuthenticationError(`API token ${row.prefix}… expired on ${row.expiresAt.toISOString()}`);
  }
  // Recorded at minute precision so that a busy token does not write on every request.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_PRECISION_MS) {
    prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  return { tokenId: row.id, workspaceId: row.workspaceId, scopes: expandScopes(row.scopes), persistedOnly: row.persistedOnly };
}

export async function createApiToken(
  prisma: PrismaClient,
  input: { workspaceId: string; name: string; scopes: TokenScope[]; persistedOnly?: boolean; expiresAt?: Date | null },
) {
  const { token, hash, prefix } = generateToken();
  const row = await prisma.apiToken.create({
    data: {
      workspaceId: input.workspaceId,
      name: input.name,
      tokenHash: hash,
      prefix,
      scopes: input.scopes,
      persistedOnly: input.persistedOnly ?? false,
      expiresAt: input.expiresAt ?? null,
    },
  });
  return { token, row };
}
