// The caller's workspace and API tokens.
import { builder } from '../builder.js';
import { createApiToken } from '../../auth.js';
import { workspaceOf } from '../../context.js';
import { TokenScope } from '../../generated/prisma/enums.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { resultOf } from '../results.js';
import { validateName } from '../../warehouse/sources.js';

export const TokenScopeEnum = builder.enumType(TokenScope, { name: 'TokenScope' });

export const WorkspaceRef = builder.prismaNode('Workspace', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  // Only the caller's own workspace is ever reachable.
  findUnique: (id, ctx) => ({ id: id === workspaceOf(ctx) ? id : '00000000-0000-0000-0000-000000000000' }),
  fields: (t) => ({
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    isDemo: t.exposeBoolean('isDemo'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const ApiTokenRef = builder.prismaNode('ApiToken', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  findUnique: (id, ctx) => ({ id, workspaceId: workspaceOf(ctx) }),
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the token, to tell tokens apart. The token itself is shown only once.' }),
    scopes: t.field({ type: [TokenScopeEnum], resolve: (tok) => tok.scopes }),
    persistedOnly: t.exposeBoolean('persistedOnly'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const Viewer = builder.objectRef<{ workspaceId: string; tokenId: string }>('Viewer').implement({
  description: 'Who is calling: the token and its workspace.',
  fields: (t) => ({
    workspace: t.prismaField({
      type: 'Workspace',
      resolve: (query, v, _args, ctx) => ctx.prisma.workspace.findUniqueOrThrow({ ...query, where: { id: v.workspaceId } }),
    }),
    token: t.prismaField({
      type: 'ApiToken',
      resolve: (query, v, _args, ctx) => ctx.prisma.apiToken.findUniqueOrThrow({ ...query, where: { id: v.tokenId } }),
    }),
    scopes: t.field({ type: [TokenScopeEnum], resolve: (_v, _a, ctx) => [...(ctx.auth?.scopes ?? [])] }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    resolve: (_root, _args, ctx) => ({ workspaceId: workspaceOf(ctx), tokenId: ctx.auth!.tokenId }),
  }),
);

builder.queryField('apiTokens', (t) =>
  t.prismaConnection({
    type: 'ApiToken',
    cursor: 'id',
    authScopes: { admin: true },
    resolve: (query, _root, _args, ctx) =>
      ctx.prisma.apiToken.findMany({ ...query, where: { workspaceId: workspaceOf(ctx) } }),
  }),
);

const CreateApiTokenInput = builder.inputType('CreateApiTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.field({ type: [TokenScopeEnum], required: true }),
    persistedOnly: t.boolean({ defaultValue: false, description: 'Partner tokens: may run persisted operations only.' }),
    expiresAt: t.field({ type: 'DateTime' }),
  }),
});

const CreatedApiToken = builder.objectRef<{ token: string; apiToken: { id: string } }>('CreatedApiToken').implement({
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The secret token. Shown only in this response; store it now.' }),
    apiToken: t.prismaField({
      type: 'ApiToken',
      resolve: (query, p, _a, ctx) => ctx.prisma.apiToken.findUniqueOrThrow({ ...query, where: { id: p.apiToken.id } }),
    }),
  }),
});

builder.mutationField('createApiToken', (t) =>
  t.field({
    type: CreatedApiToken,
    authScopes: { admin: true },
    errors: resultOf('CreateApiToken', 'created', [ValidationError]),
    args: { input: t.arg({ type: CreateApiTokenInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const problems = [validateName(input.name, ['input', 'name'], 'token')].filter((p) => p !== undefined);
      if (!input.scopes.length) problems.push({ path: ['input', 'scopes'], message: 'expected at least one scope (READ, WRITE or ADMIN), but got none' });
      if (input.expiresAt && input.expiresAt <= new Date()) {
        problems.push({ path: ['input', 'expiresAt'], message: `expected a time in the future, but got ${input.expiresAt.toISOString()}` });
      }
      if (problems.length) throw new ValidationError(problems);
      const { token, row } = await createApiToken(ctx.prisma, {
        workspaceId: workspaceOf(ctx),
        name: input.name.trim(),
        scopes: input.scopes,
        persistedOnly: input.persistedOnly ?? false,
        expiresAt: input.expiresAt ?? null,
      });
      return { token, apiToken: row };
    },
  }),
);

builder.mutationField('revokeApiToken', (t) =>
  t.prismaField({
    type: 'ApiToken',
    authScopes: { admin: true },
    errors: resultOf('RevokeApiToken', 'apiToken', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: [ApiTokenRef] }) },
    resolve: async (query, _root, { id }, ctx) => {
      const existing = await ctx.prisma.apiToken.findFirst({ where: { id: id.id, workspaceId: workspaceOf(ctx) } });
      if (!existing) throw new NotFoundError('ApiToken', id.id);
      return ctx.prisma.apiToken.update({ ...query, where: { id: existing.id }, data: { revokedAt: existing.revokedAt ?? new Date() } });
    },
  }),
);
