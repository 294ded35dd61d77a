#!/usr/bin/env node
// Roster runs its TypeScript sources directly (no build step to forget):
// tsx's loader is registered in this process, then the CLI is imported.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
