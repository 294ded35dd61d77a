// One pino logger for the process. Secrets are redacted by path as a second
// line of defence; the first is never to put them in a log object at all.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export const REDACT_PATHS = [
  'password', '*.password', 'connectionUrl', '*.connectionUrl', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', 'secrets', '*.secrets',
];

export function createLogger(level: LogLevel = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'roster' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
