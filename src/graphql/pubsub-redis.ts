// The optional Redis transport for events (REDIS_URL): graphql-yoga's own
// Redis event target, with the start/flush/close life cycle Roster's
// processes expect from an event target.
import { Redis } from 'ioredis';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { Logger } from '../logger.js';
import type { RosterEventTarget } from './pubsub.js';

export function createRedisRosterEventTarget(opts: { url: string; logger?: Logger }): RosterEventTarget {
  // Two connections: a subscribed Redis connection can do nothing but receive.
  const publishClient = new Redis(opts.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(opts.url, { lazyConnect: true });
  for (const client of [publishClient, subscribeClient]) {
    client.on('error', (err) => opts.logger?.warn({ err: { message: err.message } }, 'redis event transport error'));
  }
  const target = createRedisEventTarget<CustomEvent>({ publishClient, subscribeClient });
  let closed = false;
  return {
    addEventListener: (type, listener, options) => target.addEventListener(type, listener as never, options as never),
    removeEventListener: (type, listener, options) => target.removeEventListener(type, listener as never, options as never),
    dispatchEvent: (event) => (closed ? false : target.dispatchEvent(event as CustomEvent)),
    async start() {
      await Promise.all([publishClient.connect(), subscribeClient.connect()]);
    },
    async flush() {
      // PUBLISH is sent as soon as dispatched; a PING behind it returns once Redis has taken it.
      if (publishClient.status === 'ready') await publishClient.ping();
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  } as RosterEventTarget;
}
