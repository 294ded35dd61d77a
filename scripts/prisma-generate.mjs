// Runs `prisma generate` offline. Prisma's CLI wants to download its native
// schema engine first, which fails without internet access; generation itself
// does not need it, so any executable stands in for it.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';

const stubDir = join(tmpdir(), 'roster-prisma-stub');
const stub = join(stubDir, process.platform === 'win32' ? 'schema-engine.cmd' : 'schema-engine');
if (!existsSync(stub)) {
  mkdirSync(stubDir, { recursive: true });
  writeFileSync(stub, process.platform === 'win32' ? '@exit /b 1\r\n' : '#!/bin/sh\nexit 1\n');
  chmodSync(stub, 0o755);
}

const require = createRequire(import.meta.url);
const cli = require.resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [cli, 'generate'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    // Generators such as prisma-pothos-types are found through PATH.
    PATH: [join(process.cwd(), 'node_modules', '.bin'), process.env.PATH].join(delimiter),
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? stub,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
});
process.exit(result.status ?? 1);
