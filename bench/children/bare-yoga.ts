// The API lower bounds: bare graphql-yoga on node:http, no plugins, no
// context, no auth. `{ __typename }` is the least a GraphQL server can answer;
// `record(key)` answers the record lookup with one hand-written SQL statement
// (the record and the ids of the segments it is in), the least that lookup
// needs from the warehouse.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { createSchema, createYoga } from 'graphql-yoga';

const databaseUrl = process.env.BARE_DATABASE_URL;
const pool = databaseUrl ? new pg.Pool({ connectionString: databaseUrl, max: 10 }) : null;
const recordSql = process.env.BARE_RECORD_SQL ?? '';

const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      scalar JSON
      type Segment { id: ID! }
      type Record { key: String!, attributes: JSON, segmentMemberships: [Segment!]! }
      type Query { record(key: String!): Record }
    `,
    resolvers: {
      Query: {
        record: async (_root: unknown, { key }: { key: string }) => {
          const { rows } = await pool!.query<{ record: unknown; segments: string[] }>(recordSql, [key]);
          const row = rows[0];
          return row ? { key, attributes: row.record, segmentMemberships: row.segments.map((id) => ({ id })) } : null;
        },
      },
    },
  }),
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: false,
  logging: false,
});

const server = http.createServer(yoga);
server.keepAliveTimeout = 30_000;
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'stop') server.close(() => process.exit(0));
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void pool?.end().finally(() => process.exit(0)));
});
server.listen(0, '127.0.0.1', () => process.send!({ type: 'ready', port: (server.address() as AddressInfo).port }));
