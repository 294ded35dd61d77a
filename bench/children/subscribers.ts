// N subscribers in one process, each on a WebSocket of its own: graphql-ws
// clients subscribed to syncRunProgress on a real `roster serve`, or raw `ws`
// clients of the raw broadcast server. Each records, per event, the monotonic
// clock (process.hrtime, shared by every process of the machine) when the
// parsed event reached it; the parent compares with the publish times.
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';

type Mode = 'graphql-ws' | 'raw';

interface Progress {
  runId: string;
  phase: string;
  rejected: number;
  done: { adds: number; removes: number; updates: number };
}

export function progressKey(p: Progress): string {
  return `${p.runId}|${p.phase}|${p.done.adds}|${p.done.removes}|${p.done.updates}|${p.rejected}`;
}

export const PROGRESS_SUBSCRIPTION = `subscription BenchProgress($syncId: ID!) {
  syncRunProgress(syncId: $syncId) {
    runId phase percent rowsPerSecond etaSeconds rejected
    planned { adds removes updates } done { adds removes updates }
  }
}`;

/** The global id of the warm-up events' run: they only tell that a subscriber is live. */
export const WARMUP_ID = Buffer.from('SyncRun:warmup').toString('base64');

const received = new Map<string, number[]>();
let warmed = new Set<number>();
const closers: (() => void)[] = [];

function record(i: number, p: Progress) {
  const t = Number(process.hrtime.bigint());
  if (p.runId === WARMUP_ID) {
    warmed.add(i);
    return;
  }
  const key = progressKey(p);
  let list = received.get(key);
  if (!list) received.set(key, (list = []));
  list.push(t);
}

async function openGraphqlWs(url: string, n: number, tokens: string[], syncId: string) {
  const clients: Client[] = [];
  for (let i = 0; i < n; i++) {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${tokens[i % tokens.length]}` },
    });
    clients.push(client);
    const idx = i;
    const unsubscribe = client.subscribe<{ syncRunProgress: Progress }>(
      { query: PROGRESS_SUBSCRIPTION, variables: { syncId } },
      {
        next: (value) => {
          if (value.data) record(idx, value.data.syncRunProgress);
          else if (value.errors) process.send!({ type: 'log', message: `subscriber ${idx}: ${JSON.stringify(value.errors)}` });
        },
        error: (err) => process.send!({ type: 'log', message: `subscriber ${idx} failed: ${err instanceof Error ? err.message : JSON.stringify(err)}` }),
        complete: () => {},
      },
    );
    closers.push(() => {
      unsubscribe();
      void client.dispose();
    });
    // A few at a time: the server authenticates each connection and operation.
    if (i % 25 === 24) await new Promise((r) => setTimeout(r, 20));
  }
}

async function openRaw(url: string, n: number) {
  const opened: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url);
    const idx = i;
    opened.push(new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }));
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { payload: { data: { syncRunProgress: Progress } } };
      record(idx, msg.payload.data.syncRunProgress);
    });
    closers.push(() => ws.close());
    if (i % 25 === 24) await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(opened);
}

process.on('message', async (msg: { type: string; mode?: Mode; url?: string; n?: number; tokens?: string[]; syncId?: string }) => {
  try {
    if (msg.type === 'open') {
      received.clear();
      warmed = new Set();
      if (msg.mode === 'graphql-ws') await openGraphqlWs(msg.url!, msg.n!, msg.tokens!, msg.syncId!);
      else await openRaw(msg.url!, msg.n!);
      process.send!({ type: 'open' });
    } else if (msg.type === 'warmed') {
      process.send!({ type: 'warmed', count: warmed.size });
    } else if (msg.type === 'results') {
      process.send!({ type: 'results', received: Object.fromEntries(received) });
    } else if (msg.type === 'close') {
      for (const close of closers.splice(0)) close();
      received.clear();
      process.send!({ type: 'close' });
    }
  } catch (err) {
    process.send!({ type: 'error', error: (err as Error).stack ?? String(err) });
  }
});
process.send!({ type: 'ready' });
