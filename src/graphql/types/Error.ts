// GraphQL shapes of the expected errors in src/graphql/errors.ts. Mutations
// list the ones they can return; clients match on __typename.
import { builder } from '../builder.js';
import {
  ConflictError,
  InvalidStateError,
  NotFoundError,
  RosterError,
  SourceConnectionError,
  ValidationError,
  type ValidationProblem,
} from '../errors.js';

export const ErrorInterface = builder.interfaceRef<RosterError>('Error').implement({
  description: 'An expected failure: its message says what was expected and what arrived.',
  fields: (t) => ({
    message: t.exposeString('message'),
    path: t.exposeStringList('path', { description: 'The input field at fault, e.g. ["input", "identifiers", "1", "column"].' }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({
    typeName: t.exposeString('typeName'),
    id: t.exposeString('id'),
  }),
});

const ValidationProblemRef = builder.objectRef<ValidationProblem>('ValidationProblem').implement({
  fields: (t) => ({
    path: t.exposeStringList('path'),
    message: t.exposeString('message'),
    suggestion: t.exposeString('suggestion', { nullable: true }),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    problems: t.field({ type: [ValidationProblemRef], resolve: (e) => e.problems }),
  }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
  fields: () => ({}),
});

builder.objectType(InvalidStateError, {
  name: 'InvalidStateError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InvalidStateError,
  fields: () => ({}),
});

builder.objectType(SourceConnectionError, {
  name: 'SourceConnectionError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof SourceConnectionError,
  fields: (t) => ({
    code: t.exposeString('code', { description: 'INVALID_URL, HOST_UNREACHABLE, AUTH_FAILED, DATABASE_NOT_FOUND, TIMEOUT, PERMISSION_DENIED, UNSUPPORTED_VERSION or QUERY_FAILED.' }),
  }),
});
