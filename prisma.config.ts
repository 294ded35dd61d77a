// Prisma CLI configuration. Roster applies migrations itself (src/migrate.ts,
// through Prisma's WebAssembly schema engine), so the CLI is only used for
// `prisma generate`; users with the native engine can still run
// `prisma migrate deploy` against the same folder.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/roster' },
});
