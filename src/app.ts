// Building the app is separate from starting it (graphql-yoga's examples):
// tests build one and use `yoga.fetch`, or start it on port 0, and always stop it.
import { createServer, type Server } from 'node:http';
import { createYoga, maskError, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { fileURLToPath } from 'node:url';
import { dashboardHandler } from './dashboard/serve.js';
import { inputValues, isPersistedText, loadManifest, noIntrospection, operationLimits, persistedOperations, rateLimited, TokenRateLimiter } from './graphql/guards.js';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { schema } from './graphql/schema.js';
import { authenticate, AuthenticationError, bearerToken, type AuthInfo } from './auth.js';
import type { Context, Services } from './context.js';
import { restPlugin } from './rest.js';

/** Limits of the WebSocket side; hostile or broken clients cannot hold resources. */
export const WS_LIMITS = {
  /** A client must send connection_init within this time, or is closed with 4408. */
  connectionInitWaitTimeoutMs: 5_000,
  /** Largest message accepted; larger ones close the socket with 1009. */
  maxPayloadBytes: 64 * 1024,
  /** Operations running at once on one connection. */
  maxSubscriptionsPerConnection: 50,
};

export interface App {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  server: Server;
  services: Services;
  /** Listens; port 0 picks a free one. Resolves to the bound address. */
  start(port?: number, host?: string): Promise<{ port: number; url: string }>;
  stop(): Promise<void>;
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

/** Resolves the caller from an Authorization value; null when none was sent. */
async function resolveAuth(services: Services, authorization: string | null | undefined): Promise<AuthInfo | null> {
  try {
    const token = bearerToken(authorization);
    return token === undefined ? null : await authenticate(services.db.prisma, token);
  } catch (err) {
    if (err instanceof AuthenticationError) throw unauthenticated(err.message);
    throw err;
  }
}

/** WebSocket clients send the token in connectionParams: { authorization: "Bearer …" } or { token: "…" }. */
function authorizationFromParams(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (!params) return undefined;
  const value = params.authorization ?? params.Authorization;
  if (typeof value === 'string') return value;
  if (typeof params.token === 'string') return `Bearer ${params.token}`;
  return undefined;
}

/** How long stop() lets requests in flight finish before cutting their connections, and again for their operations to end. */
const STOP_GRACE_MS = 5_000;

const MANIFEST_PATH = fileURLToPath(new URL('../schema/persisted-documents.json', import.meta.url));

export function buildApp(services: Services): App {
  const { config, logger } = services;
  const manifest = loadManifest(MANIFEST_PATH);
  const limiter = new TokenRateLimiter();
  // One token lookup per request, shared by the persisted-operations check and the context.
  const authByRequest = new WeakMap<Request, Promise<AuthInfo | null>>();
  const authOf = (request: Request) => {
    let auth = authByRequest.get(request);
    if (!auth) {
      auth = resolveAuth(services, request.headers.get('authorization'));
      authByRequest.set(request, auth);
    }
    return auth;
  };

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: config.production ? false : { title: 'Roster', subscriptionsProtocol: 'WS' },
    // Unexpected errors reach the client as "Unexpected error." and the log
    // with their cause, so they can be found without leaking internals.
    maskedErrors: {
      maskError: (error, message, isDev) => {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (original && !(original instanceof GraphQLError)) logger.error({ err: original }, 'unexpected error in a GraphQL operation');
        return maskError(error, message, isDev);
      },
    },
    logging: {
      debug: (...args) => logger.debug(args.length > 1 ? { args: args.slice(1) } : {}, String(args[0])),
      info: (...args) => logger.info(args.length > 1 ? { args: args.slice(1) } : {}, String(args[0])),
      warn: (...args) => logger.warn(args.length > 1 ? { args: args.slice(1) } : {}, String(args[0])),
      error: (...args) => logger.error(args.length > 1 ? { err: args[1] } : {}, String(args[0])),
    },
    context: async (initial): Promise<Context> => {
      // Over WebSocket the token arrives once, in connectionParams; over HTTP,
      // in the Authorization header of each request.
      const wsParams = (initial as { connectionParams?: Record<string, unknown> }).connectionParams;
      const request = (initial as { request?: Request }).request;
      const auth = wsParams !== undefined || !request ? await resolveAuth(services, authorizationFromParams(wsParams)) : await authOf(request);
      if (auth) {
        const allowed = limiter.take(auth.tokenId);
        if (!allowed.ok) throw rateLimited(allowed.retryAfterSeconds);
      }
      return { services, prisma: services.db.prisma, auth, logger: auth ? logger.child({ workspaceId: auth.workspaceId }) : logger };
    },
    plugins: [
      ...operationLimits({ production: config.production }),
      inputValues(),
      ...(config.production ? [noIntrospection()] : []),
      // Bearer tokens are not sent by browsers on their own, but GET operations
      // and form posts still must not be triggerable from another site.
      useCSRFPrevention({ requestHeaders: ['x-roster-csrf', 'authorization'] }),
      persistedOperations(manifest, authOf),
      useReadinessCheck({
        endpoint: '/ready',
        check: async () => {
          await services.db.pool.query('SELECT 1');
        },
      }),
      restPlugin(),
    ],
  });

  // The live dashboard at / (static files, no build step); everything else is yoga's.
  const dashboard = dashboardHandler({ reload: false });
  // Requests being answered. stop() waits for them: server.close() waits for
  // connections only, and a request whose client went away keeps running
  // after its connection closed, on a pool that stop's caller then ends.
  const answering = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    if (dashboard(req, res)) return;
    const answer: Promise<void> = Promise.resolve(yoga(req, res))
      .then(() => {}, () => {}) // yoga answers its own errors; nothing to do here but forget it
      .finally(() => answering.delete(answer));
    answering.add(answer);
  });
  // Slow clients cannot hold connections open: headers within 20 s, the whole request within 60 s.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: WS_LIMITS.maxPayloadBytes });
  // Operations in flight per connection (keyed by graphql-ws's per-socket context).
  const operations = new WeakMap<object, Set<string>>();

  // graphql-ws on the same port and path, executing through yoga's envelope so
  // that plugins, context and masking are the same as over HTTP.
  const wsDisposable = useServer(
    {
      connectionInitWaitTimeout: WS_LIMITS.connectionInitWaitTimeoutMs,
      onConnect: async (ctx) => {
        try {
          await resolveAuth(services, authorizationFromParams(ctx.connectionParams));
          return true;
        } catch {
          return false; // closes with 4403 Forbidden
        }
      },
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onComplete: (ctx, id) => {
        operations.get(ctx)?.delete(id);
      },
      onSubscribe: async (ctx, id, params) => {
        const running = operations.get(ctx) ?? new Set<string>();
        operations.set(ctx, running);
        if (running.size >= WS_LIMITS.maxSubscriptionsPerConnection) {
          return [new GraphQLError(`expected at most ${WS_LIMITS.maxSubscriptionsPerConnection} operations at once on one connection, but this would be one more; complete some or open another connection`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
        }
        running.add(id);
        // Partner tokens may run persisted operations only, over WebSocket too.
        const wsAuth = await resolveAuth(services, authorizationFromParams(ctx.connectionParams)).catch(() => null);
        if (wsAuth?.persistedOnly && !isPersistedText(manifest, params.query)) {
          running.delete(id);
          return [new GraphQLError('this token may run persisted operations only: expected an operation from schema/persisted-documents.json', { extensions: { code: 'PERSISTED_ONLY' } })];
        }
        const { schema: s, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          connectionParams: ctx.connectionParams ?? {},
        });
        let document;
        try {
          document = parse(params.query);
        } catch (err) {
          running.delete(id);
          return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
        }
        const errors = validate(s, document);
        if (errors.length) {
          running.delete(id);
          return errors;
        }
        return {
          schema: s,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );

  let stopping: Promise<void> | undefined;
  const app: App = {
    yoga,
    server,
    services,
    start(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address();
          const bound = typeof address === 'object' && address ? address.port : port;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve({ port: bound, url: `http://${shownHost}:${bound}${yoga.graphqlEndpoint}` });
        });
      });
    },
    stop() {
      stopping ??= (async () => {
        // Tell WebSocket clients we are going away (1001), then stop accepting.
        for (const client of wss.clients) client.close(1001, 'server shutting down');
        await wsDisposable.dispose();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        if (server.listening) {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          // In-flight requests get a moment to finish; then connections are cut.
          const timer = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
          await closed;
          clearTimeout(timer);
        }
        // Requests still running (their client gone, or their connection cut
        // above) get as long again to end.
        if (answering.size) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([Promise.all(answering), new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)))]);
          clearTimeout(timer);
        }
        await yoga.dispose();
      })();
      return stopping;
    },
  };
  return app;
}
