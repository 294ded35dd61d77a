// The REST mirror of the GraphQL API under /api/v1, generated from the schema
// by SOFA (@graphql-yoga/plugin-sofa): every Query and Mutation field is a
// route, executed through yoga (same context, auth, scopes, masking), with an
// OpenAPI document at /api/v1/openapi.json. Nothing here re-implements an
// operation; this file only names paths and shapes the generated selections.
//
// Routes (paths relative to /api/v1; ids are the GraphQL global ids, percent-
// encoded in paths; arguments go in the path, the query string or, for POST
// and PUT, a JSON body keyed by argument name, e.g. PUT {"input": {...}}):
//
//   GET    /audience-syncs                   Query.audienceSyncs (?first&after&status&segmentId&destinationId)
//   POST   /audience-syncs                   Mutation.createAudienceSync        201
//   GET    /audience-syncs/{id}              Query.audienceSync                 404 when not in the workspace
//   PUT    /audience-syncs/{id}              Mutation.updateAudienceSync
//   DELETE /audience-syncs/{id}              Mutation.deleteAudienceSync
//   POST   /audience-syncs/{id}/trigger      Mutation.triggerAudienceSync (?evaluateSegmentFirst)
//   GET    /audience-syncs/{syncId}/runs     Query.syncRuns (?first&after)  once the schema has it
//   POST   /audience-syncs/{id}/pause        Mutation.pauseAudienceSync
//   POST   /audience-syncs/{id}/resume       Mutation.resumeAudienceSync
//   POST   /audience-syncs/{id}/test         Mutation.testAudienceSync (?size)
//   POST   /audience-syncs/{id}/preview-diff Mutation.previewAudienceSyncDiff (?sampleSize)
//   POST   /sync-runs/{id}/cancel            Mutation.cancelSyncRun
//   GET    /segments                         Query.segments (?entityId&first&after)
//   POST   /segments                         Mutation.createSegment             201
//   GET    /segments/{id}                    Query.segment
//   PUT    /segments/{id}                    Mutation.updateSegment
//   DELETE /segments/{id}                    Mutation.deleteSegment
//   POST   /segments/{id}/evaluate           Mutation.evaluateSegment
//   GET    /segments/{segmentId}/quick-sync-templates  Query.quickSyncTemplates
//   POST   /segment-preview                  Query.segmentPreview (body: condition, entityId, sampleSize)
//   GET    /segment-overlap?ids=…&ids=…      Query.segmentOverlap
//   POST   /quick-sync                       Mutation.quickSync                 201
//   GET    /destinations                     Query.destinations
//   POST   /destinations                     Mutation.createDestination         201
//   DELETE /destinations/{id}                Mutation.deleteDestination
//   GET    /destinations/{id}                Query.destination          } once the schema
//   PUT    /destinations/{id}                Mutation.updateDestination } has them
//   GET    /connector-types                  Query.connectorTypes
//   GET    /entities                         Query.entities (?sourceId&kind)
//   POST   /entities                         Mutation.createEntity              201
//   GET    /entities/{id}                    Query.entity
//   PUT    /entities/{id}                    Mutation.updateEntity
//   DELETE /entities/{id}                    Mutation.deleteEntity
//   GET    /entities/{entityId}/records/{key}  Query.record
//   GET    /relationships                    Query.relationships (?entityId)
//   POST   /relationships                    Mutation.createRelationship        201
//   PUT    /relationships/{id}               Mutation.updateRelationship
//   DELETE /relationships/{id}               Mutation.deleteRelationship
//   GET    /sources                          Query.sources
//   POST   /sources                          Mutation.createSource              201
//   GET    /sources/{id}                     Query.source
//   PUT    /sources/{id}                     Mutation.updateSource
//   DELETE /sources/{id}                     Mutation.deleteSource
//   POST   /sources/{id}/check               Mutation.checkSource
//   GET    /api-tokens                       Query.apiTokens
//   POST   /api-tokens                       Mutation.createApiToken            201
//   POST   /api-tokens/{id}/revoke           Mutation.revokeApiToken
//   GET    /viewer                           Query.viewer
//   GET    /node?id=…, GET /nodes?ids=…      Query.node, Query.nodes
//   GET    /openapi.json                     this API as OpenAPI 3 (no token needed)
//   GET    /docs                             Swagger UI over it (loads swagger-ui from a CDN)
// A root field added later gets SOFA's default route (GET /kebab-name for a
// query, POST /kebab-name for a mutation) until it is named here.
//
// Representation: a resource (a type implementing Node) is returned with its
// own fields; other resources it refers to appear as { id } (follow them with
// their own route); lists are Relay connections { edges { cursor node } pageInfo }.
// Results of mutations (and of union-typed queries) carry `__typename`, so a
// client tells CreateAudienceSyncPayload from ValidationError, NotFoundError…;
// their status is 201/200 on success and 400/404/409/422 for the typed errors.
// GraphQL errors come back as { errors: [...] } with 401 (no or bad token),
// 403 (scope), 400 (malformed arguments or ids), 429 (rate limit) or 500.
// SOFA's subscription webhooks (/webhook…) are not exposed: they would make the
// server POST to any URL a caller names.
import { readFileSync } from 'node:fs';
import {
  buildASTSchema,
  GraphQLError,
  isInterfaceType,
  isObjectType,
  isUnionType,
  getNamedType,
  Kind,
  parse,
  printSchema,
  visit,
  type FieldDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type ObjectTypeDefinitionNode,
} from 'graphql';
import type { Plugin, YogaLogger } from 'graphql-yoga';
import { useSofa } from '@graphql-yoga/plugin-sofa';
import type { Context } from './context.js';

export const REST_BASE_PATH = '/api/v1';
export const OPENAPI_PATH = `${REST_BASE_PATH}/openapi.json`;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
interface RouteConfig {
  method: Method;
  path: string;
  responseStatus?: 200 | 201;
  tags?: string[];
}

/** Paths of root fields (SOFA's `routes`); a field not listed keeps SOFA's default. */
export const REST_ROUTES: Record<string, RouteConfig> = {
  'Query.audienceSyncs': { method: 'GET', path: '/audience-syncs', tags: ['Audience syncs'] },
  'Mutation.createAudienceSync': { method: 'POST', path: '/audience-syncs', responseStatus: 201, tags: ['Audience syncs'] },
  'Query.audienceSync': { method: 'GET', path: '/audience-syncs/:id', tags: ['Audience syncs'] },
  'Mutation.updateAudienceSync': { method: 'PUT', path: '/audience-syncs/:id', tags: ['Audience syncs'] },
  'Mutation.deleteAudienceSync': { method: 'DELETE', path: '/audience-syncs/:id', tags: ['Audience syncs'] },
  'Mutation.triggerAudienceSync': { method: 'POST', path: '/audience-syncs/:id/trigger', tags: ['Audience syncs'] },
  'Query.syncRuns': { method: 'GET', path: '/audience-syncs/:syncId/runs', tags: ['Audience syncs'] },
  'Mutation.pauseAudienceSync': { method: 'POST', path: '/audience-syncs/:id/pause', tags: ['Audience syncs'] },
  'Mutation.resumeAudienceSync': { method: 'POST', path: '/audience-syncs/:id/resume', tags: ['Audience syncs'] },
  'Mutation.testAudienceSync': { method: 'POST', path: '/audience-syncs/:id/test', tags: ['Audience syncs'] },
  'Mutation.previewAudienceSyncDiff': { method: 'POST', path: '/audience-syncs/:id/preview-diff', tags: ['Audience syncs'] },
  'Mutation.cancelSyncRun': { method: 'POST', path: '/sync-runs/:id/cancel', tags: ['Audience syncs'] },
  'Mutation.quickSync': { method: 'POST', path: '/quick-sync', responseStatus: 201, tags: ['Audience syncs'] },

  'Query.segments': { method: 'GET', path: '/segments', tags: ['Segments'] },
  'Mutation.createSegment': { method: 'POST', path: '/segments', responseStatus: 201, tags: ['Segments'] },
  'Query.segment': { method: 'GET', path: '/segments/:id', tags: ['Segments'] },
  'Mutation.updateSegment': { method: 'PUT', path: '/segments/:id', tags: ['Segments'] },
  'Mutation.deleteSegment': { method: 'DELETE', path: '/segments/:id', tags: ['Segments'] },
  'Mutation.evaluateSegment': { method: 'POST', path: '/segments/:id/evaluate', tags: ['Segments'] },
  'Query.quickSyncTemplates': { method: 'GET', path: '/segments/:segmentId/quick-sync-templates', tags: ['Segments'] },
  // A condition is a nested object: a body reads better than a query string.
  'Query.segmentPreview': { method: 'POST', path: '/segment-preview', tags: ['Segments'] },
  'Query.segmentOverlap': { method: 'GET', path: '/segment-overlap', tags: ['Segments'] },

  'Query.destinations': { method: 'GET', path: '/destinations', tags: ['Destinations'] },
  'Mutation.createDestination': { method: 'POST', path: '/destinations', responseStatus: 201, tags: ['Destinations'] },
  'Mutation.deleteDestination': { method: 'DELETE', path: '/destinations/:id', tags: ['Destinations'] },
  // Not in the schema yet; named so that they get these paths when added.
  'Query.destination': { method: 'GET', path: '/destinations/:id', tags: ['Destinations'] },
  'Mutation.updateDestination': { method: 'PUT', path: '/destinations/:id', tags: ['Destinations'] },
  'Query.connectorTypes': { method: 'GET', path: '/connector-types', tags: ['Destinations'] },

  'Query.entities': { method: 'GET', path: '/entities', tags: ['Entities'] },
  'Mutation.createEntity': { method: 'POST', path: '/entities', responseStatus: 201, tags: ['Entities'] },
  'Query.entity': { method: 'GET', path: '/entities/:id', tags: ['Entities'] },
  'Mutation.updateEntity': { method: 'PUT', path: '/entities/:id', tags: ['Entities'] },
  'Mutation.deleteEntity': { method: 'DELETE', path: '/entities/:id', tags: ['Entities'] },
  'Query.record': { method: 'GET', path: '/entities/:entityId/records/:key', tags: ['Entities'] },
  'Query.relationships': { method: 'GET', path: '/relationships', tags: ['Entities'] },
  'Mutation.createRelationship': { method: 'POST', path: '/relationships', responseStatus: 201, tags: ['Entities'] },
  'Mutation.updateRelationship': { method: 'PUT', path: '/relationships/:id', tags: ['Entities'] },
  'Mutation.deleteRelationship': { method: 'DELETE', path: '/relationships/:id', tags: ['Entities'] },

  'Query.sources': { method: 'GET', path: '/sources', tags: ['Sources'] },
  'Mutation.createSource': { method: 'POST', path: '/sources', responseStatus: 201, tags: ['Sources'] },
  'Query.source': { method: 'GET', path: '/sources/:id', tags: ['Sources'] },
  'Mutation.updateSource': { method: 'PUT', path: '/sources/:id', tags: ['Sources'] },
  'Mutation.deleteSource': { method: 'DELETE', path: '/sources/:id', tags: ['Sources'] },
  'Mutation.checkSource': { method: 'POST', path: '/sources/:id/check', tags: ['Sources'] },

  'Query.apiTokens': { method: 'GET', path: '/api-tokens', tags: ['Workspace'] },
  'Mutation.createApiToken': { method: 'POST', path: '/api-tokens', responseStatus: 201, tags: ['Workspace'] },
  'Mutation.revokeApiToken': { method: 'POST', path: '/api-tokens/:id/revoke', tags: ['Workspace'] },
  'Query.viewer': { method: 'GET', path: '/viewer', tags: ['Workspace'] },
};

/**
 * Fields left out of the REST representation: those that read the warehouse
 * on every request or need an argument a generic route cannot supply (they
 * remain in GraphQL), and nested lists that have a route of their own.
 */
export const REST_OMITTED_FIELDS: readonly string[] = [
  'Source.schemas', // warehouse read
  'Source.tables', // warehouse read
  'Source.table', // warehouse read, required arguments
  'Segment.breakdown', // warehouse read, required argument
  'SyncRun.errors', // a run's rejected rows: GraphQL node(id) { ... on SyncRun { errors } }
  'AudienceSync.runs', // GET /audience-syncs/{syncId}/runs
  'Destination.audienceSyncs', // GET /audience-syncs?destinationId=
  'Source.entities', // GET /entities?sourceId=
];

/** Nested resources returned whole rather than as { id }. */
const EXPANDED_FIELDS: readonly string[] = ['AudienceSync.lastRun', 'Viewer.workspace', 'Viewer.token', 'CreatedApiToken.apiToken'];

/** HTTP status of a typed error (a union member); unknown *Error types get 400. */
export const TYPED_ERROR_STATUS: Record<string, number> = {
  ValidationError: 400,
  NotFoundError: 404,
  ConflictError: 409,
  InvalidStateError: 409,
  SourceConnectionError: 422,
};

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Types that a client may need to tell apart: members of unions and implementations of interfaces. */
function discriminatedTypes(schema: GraphQLSchema): Set<string> {
  const out = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isUnionType(type)) for (const member of type.getTypes()) out.add(member.name);
    if (isObjectType(type) && type.getInterfaces().length > 0) out.add(type.name);
  }
  return out;
}

/**
 * The schema SOFA generates routes, selections and OpenAPI from: the real one
 * printed and rebuilt without REST_OMITTED_FIELDS, and with `__typename`
 * declared on the types that need it, so that the generated selections and the
 * OpenAPI components include it. It has no resolvers: operations run against
 * the real schema (see onExecute below).
 */
export function restGenerationSchema(schema: GraphQLSchema): GraphQLSchema {
  const omitted = new Set(REST_OMITTED_FIELDS);
  const tagged = discriminatedTypes(schema);
  const typename = (type: string): FieldDefinitionNode => ({
    kind: Kind.FIELD_DEFINITION,
    name: { kind: Kind.NAME, value: '__typename' },
    description: { kind: Kind.STRING, value: `Always "${type}".` },
    type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'String' } } },
  });
  const document = visit(parse(printSchema(schema)), {
    ObjectTypeDefinition(node: ObjectTypeDefinitionNode): ObjectTypeDefinitionNode {
      const fields = (node.fields ?? []).filter((f) => !omitted.has(`${node.name.value}.${f.name.value}`));
      return { ...node, fields: tagged.has(node.name.value) ? [typename(node.name.value), ...fields] : fields };
    },
  });
  // assumeValid: `__typename` is a reserved name in a schema, though it is
  // what any GraphQL server answers for it; this schema only generates text.
  return buildASTSchema(document, { assumeValid: true, assumeValidSDL: true });
}

/** Resource types: those implementing Node. Nested, they are selected as { id }. */
function resourceTypes(schema: GraphQLSchema): string[] {
  const node = schema.getType('Node');
  if (!node || !isInterfaceType(node)) return [];
  return schema.getPossibleTypes(node).map((t) => t.name);
}

/**
 * Where a resource is the point of the response and is returned whole: the
 * nodes of root connections, the resources inside mutation payloads and
 * success types, and EXPANDED_FIELDS. (SOFA's `ignore`: "not a model here".)
 */
function expandedFields(schema: GraphQLSchema, resources: ReadonlySet<string>): string[] {
  const out = new Set(EXPANDED_FIELDS);
  const isResource = (type: GraphQLNamedType) => resources.has(type.name);
  const wrappers = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (isUnionType(type)) for (const member of type.getTypes()) wrappers.add(member.name);
  }
  const roots = [schema.getQueryType(), schema.getMutationType()].filter((t) => t != null);
  for (const root of roots) {
    for (const field of Object.values(root.getFields())) {
      const named = getNamedType(field.type);
      // A root connection: Query<X>Connection → edges → node.
      if (isObjectType(named) && named.name.endsWith('Connection')) {
        const edges = named.getFields().edges;
        const edge = edges ? getNamedType(edges.type) : undefined;
        if (edge && isObjectType(edge)) out.add(`${edge.name}.node`);
      }
      if (isObjectType(named)) wrappers.add(named.name);
    }
  }
  for (const name of wrappers) {
    const type = schema.getType(name);
    if (!type || !isObjectType(type) || resources.has(name)) continue;
    for (const field of Object.values(type.getFields())) {
      if (isResource(getNamedType(field.type))) out.add(`${name}.${field.name}`);
    }
  }
  return [...out].sort();
}

interface ErrorJson {
  message: string;
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
}

/**
 * SOFA's error handler: the status from `extensions.http` when an error names
 * one; otherwise 500 for an unexpected (masked) error and 400 for any other,
 * since those are the API's own messages about the request (an id that does
 * not parse, a missing argument). The body is GraphQL's errors, without the
 * internal extensions, as /graphql returns them.
 */
function errorResponse(errors: readonly unknown[], logger: () => YogaLogger | undefined): Response {
  let status = 0;
  let unexpected = false;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  const out: ErrorJson[] = [];
  for (const error of errors) {
    if (!(error instanceof GraphQLError)) {
      logger()?.error('unexpected error in a REST request', error);
      out.push({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      unexpected = true;
      continue;
    }
    const { http, unexpected: masked, ...extensions } = (error.extensions ?? {}) as { http?: { status?: number; headers?: Record<string, string> }; unexpected?: unknown } & Record<string, unknown>;
    if (http?.status) status = Math.max(status, http.status);
    if (http?.headers) Object.assign(headers, http.headers);
    if (masked) unexpected = true;
    out.push({
      message: error.message,
      ...(error.path ? { path: error.path } : {}),
      ...(Object.keys(extensions).length ? { extensions } : {}),
    });
  }
  if (!status) status = unexpected ? 500 : 400;
  return new Response(JSON.stringify({ errors: out }), { status, headers });
}

function jsonResponse(body: unknown, status: number, headers?: Headers): Response {
  const out = new Headers(headers);
  out.set('content-type', 'application/json; charset=utf-8');
  out.delete('content-length');
  return new Response(JSON.stringify(body), { status, headers: out });
}

function notFound(method: string, pathname: string): Response {
  return jsonResponse({ errors: [{ message: `expected a route of the REST API (see ${OPENAPI_PATH}), but there is none for ${method} ${pathname}`, extensions: { code: 'NOT_FOUND' } }] }, 404);
}

function openAPIDocument() {
  return {
    endpoint: '/openapi.json',
    info: {
      title: 'Roster API',
      version: packageVersion(),
      description:
        'The REST mirror of the GraphQL API at /graphql, generated from its schema. Authenticate with "Authorization: Bearer <token>". ' +
        'Mutation results carry __typename: a payload on success, or a typed error (ValidationError 400, NotFoundError 404, ConflictError and InvalidStateError 409, SourceConnectionError 422) with message, path and, for validation, problems.',
    },
    servers: [{ url: REST_BASE_PATH }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (rst_…).' } },
    },
    security: [{ bearer: [] }],
  };
}

type JsonSchema = { $ref?: string; oneOf?: JsonSchema[]; properties?: Record<string, unknown>; required?: string[] } & Record<string, unknown>;
interface OpenAPIResponse {
  description?: string;
  content?: Record<string, { schema?: JsonSchema }>;
}
interface OpenAPIOperation {
  operationId?: string;
  parameters?: { name: string; in: string }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, OpenAPIResponse>;
}
interface OpenAPIDoc {
  paths?: Record<string, Record<string, OpenAPIOperation>>;
  components?: { schemas?: Record<string, unknown> };
}

/** The body of a failed request: GraphQL errors, as /graphql returns them. */
const ERRORS_SCHEMA = {
  type: 'object',
  required: ['errors'],
  properties: {
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['message'],
        properties: {
          message: { type: 'string' },
          path: { type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'integer' }] } },
          extensions: { type: 'object', properties: { code: { type: 'string', description: 'UNAUTHENTICATED, FORBIDDEN, PERSISTED_ONLY, NOT_FOUND, RATE_LIMITED…' } } },
        },
      },
    },
  },
};
const ERRORS_REF = '#/components/schemas/GraphQLErrors';

const refName = (schema: JsonSchema): string | undefined => schema.$ref?.split('/').pop();
const isTypedError = (schema: JsonSchema): boolean => {
  const name = refName(schema);
  return name !== undefined && (name in TYPED_ERROR_STATUS || name.endsWith('Error'));
};
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const oneOrOneOf = (schemas: JsonSchema[]): JsonSchema => (schemas.length === 1 ? schemas[0]! : { oneOf: schemas });

/**
 * SOFA's document, tidied: no webhook routes (not served); operation ids that
 * are the GraphQL field names; for a body-carrying route the arguments
 * documented once (path parameters in the path, the rest in the body); typed
 * errors under their own status; and the GraphQL-error responses.
 */
export function shapeOpenAPI(doc: OpenAPIDoc): OpenAPIDoc {
  const paths = doc.paths ?? {};
  ((doc.components ??= {}).schemas ??= {}).GraphQLErrors = ERRORS_SCHEMA;
  const fieldOf = new Map(Object.entries(REST_ROUTES).map(([field, route]) => [`${route.method} ${route.path.replace(/:([^/]+)/g, '{$1}')}`, field.split('.')[1]]));
  for (const [path, operations] of Object.entries(paths)) {
    if (path === '/webhook' || path.startsWith('/webhook/')) {
      delete paths[path];
      continue;
    }
    for (const [method, operation] of Object.entries(operations)) {
      const field = fieldOf.get(`${method.toUpperCase()} ${path}`);
      if (field) operation.operationId = field;

      const body = operation.requestBody?.content?.['application/json']?.schema;
      if (body && operation.requestBody) {
        const inPath = new Set((operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name));
        operation.parameters = (operation.parameters ?? []).filter((p) => p.in === 'path');
        for (const name of inPath) delete body.properties?.[name];
        const required = (body.required ?? []).filter((name) => !inPath.has(name));
        operation.requestBody.required = required.length > 0;
        if (required.length) body.required = required;
        else delete body.required;
      }

      const responses = (operation.responses ??= {});
      for (const [status, response] of Object.entries(responses)) {
        const schema = response.content?.['application/json']?.schema;
        if (status === '200' || status === '201') response.description ||= status === '201' ? 'Created' : 'OK';
        if (!schema?.oneOf || !['200', '201'].includes(status)) continue;
        const errors = schema.oneOf.filter(isTypedError);
        if (!errors.length) continue;
        response.content = json(oneOrOneOf(schema.oneOf.filter((s) => !isTypedError(s))));
        const byStatus = new Map<string, JsonSchema[]>();
        for (const error of errors) {
          const code = String(TYPED_ERROR_STATUS[refName(error) ?? ''] ?? 400);
          byStatus.set(code, [...(byStatus.get(code) ?? []), error]);
        }
        for (const [code, schemas] of byStatus) {
          responses[code] = { description: schemas.map(refName).join(' or '), content: json(oneOrOneOf(schemas)) };
        }
      }
      if (method === 'get' && path.includes('{')) responses['404'] ??= { description: 'Not in the workspace', content: json({ $ref: ERRORS_REF }) };
      responses['401'] = { description: 'No token, or not a valid one', content: json({ $ref: ERRORS_REF }) };
      responses['403'] = { description: "The token's scopes do not allow this", content: json({ $ref: ERRORS_REF }) };
      responses.default = { description: 'GraphQL errors: malformed arguments (400), rate limit (429), unexpected (500)', content: json({ $ref: ERRORS_REF }) };
    }
  }
  return doc;
}

/**
 * Statuses for what GraphQL says with data: a missing resource (null) is 404,
 * a typed error is 400/404/409/422. The body is what GraphQL returned.
 */
async function shapeResponse(request: Request, pathname: string, response: Response): Promise<Response> {
  if (!(response.headers.get('content-type') ?? '').includes('json')) return response;
  if (pathname === OPENAPI_PATH) {
    if (!response.ok) return response;
    return jsonResponse(shapeOpenAPI((await response.json()) as OpenAPIDoc), response.status, response.headers);
  }
  if (response.status !== 200 && response.status !== 201) return response;
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new Response(text, { status: response.status, headers: response.headers });
  }
  if (body === null && request.method === 'GET') {
    return jsonResponse({ errors: [{ message: `expected a resource at ${pathname} in this workspace, but there is none`, extensions: { code: 'NOT_FOUND' } }] }, 404, response.headers);
  }
  const typename = body && typeof body === 'object' && '__typename' in body ? (body as { __typename: unknown }).__typename : undefined;
  if (typeof typename === 'string' && typename.endsWith('Error')) {
    return new Response(text, { status: TYPED_ERROR_STATUS[typename] ?? 400, headers: response.headers });
  }
  return new Response(text, { status: response.status, headers: response.headers });
}

/** The configured SOFA plugin: REST under /api/v1 and its OpenAPI document. */
export function restPlugin(): Plugin {
  let realSchema: GraphQLSchema | undefined;
  let generationSchema: GraphQLSchema | undefined;
  let yogaLogger: YogaLogger | undefined;

  // useSofa reads its config when the schema is set (onSchemaChange), so the
  // schema-derived parts are filled in there.
  const config = {
    basePath: REST_BASE_PATH,
    routes: REST_ROUTES,
    // `models` is not in SOFA's config type but is honoured: createSofa spreads
    // the config over what it derives, and its own derivation (a `things` list
    // beside a `thing(id)` field) does not recognise Relay connections.
    models: [] as string[],
    ignore: [] as string[],
    depthLimit: 1,
    customScalars: {
      DateTime: { type: 'string', format: 'date-time' },
      JSON: {},
      ConditionValue: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    },
    errorHandler: (errors: readonly unknown[]) => errorResponse(errors, () => yogaLogger),
    openAPI: openAPIDocument(),
    // Swagger UI at /api/v1/docs, reading the tidied document rather than
    // embedding SOFA's own (`spec: undefined` drops the embedded one).
    swaggerUI: { endpoint: '/docs', url: OPENAPI_PATH, spec: undefined },
  };
  const sofa = useSofa(config as unknown as Parameters<typeof useSofa>[0]);

  return {
    onYogaInit(payload) {
      yogaLogger = payload.yoga.logger;
      return sofa.onYogaInit?.(payload);
    },
    onSchemaChange(payload) {
      realSchema = payload.schema;
      generationSchema = restGenerationSchema(payload.schema);
      const resources = resourceTypes(generationSchema);
      config.models = resources;
      config.ignore = expandedFields(generationSchema, new Set(resources));
      config.openAPI = openAPIDocument();
      return sofa.onSchemaChange?.({ ...payload, schema: generationSchema });
    },
    onExecute({ args, setResultAndStopExecution }) {
      // SOFA executes its documents with the schema it was given; they run
      // against the real one (resolvers, auth scopes, error types).
      if (!generationSchema || args.schema !== generationSchema || !realSchema) return;
      args.schema = realSchema;
      const auth = (args.contextValue as Partial<Context>).auth;
      if (auth?.persistedOnly) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError('this token may run persisted operations only, and REST routes are not persisted operations: send extensions.persistedQuery.sha256Hash of an operation from schema/persisted-documents.json to POST /graphql instead', {
              extensions: { code: 'PERSISTED_ONLY', http: { status: 403 } },
            }),
          ],
        });
      }
    },
    onRequest(payload) {
      const { pathname } = payload.url;
      if (pathname !== REST_BASE_PATH && !pathname.startsWith(`${REST_BASE_PATH}/`)) return;
      if (pathname === `${REST_BASE_PATH}/webhook` || pathname.startsWith(`${REST_BASE_PATH}/webhook/`)) {
        payload.endResponse(notFound(payload.request.method, pathname));
        return;
      }
      return (async () => {
        let response: Response | undefined;
        await sofa.onRequest?.({ ...payload, endResponse: (r: Response) => void (response = r) });
        payload.endResponse(response ? await shapeResponse(payload.request, pathname, response) : notFound(payload.request.method, pathname));
      })();
    },
  };
}
