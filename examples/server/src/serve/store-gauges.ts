import type { BlobStore, Metrics } from '@palabre/core';
import { createMailTransportStores } from '@palabre/core/storage';
import type { Context } from '../context.js';

/**
 * A walk of a blob folder reads every directory: one is started when the last is older than 200
 * times what it took (so walking costs at most 0.5% of the time), and at least every ten minutes.
 */
const BLOB_WALK_COST_FACTOR = 200;
const BLOB_WALK_MAX_AGE_MS = 10 * 60_000;

/**
 * Gauges read at scrape time from what is stored, shared by every node: the outbound queue's depth
 * (one query) and the bytes and blobs in each blob folder. The folder walk is slow on millions of
 * blobs, so it runs in the background, less often the longer it takes; the scrape reports the last
 * walk (the first scrape waits for one, so the value is never a made-up zero).
 */
export function registerStoreGauges(ctx: Context, metrics: Metrics = ctx.metrics): void {
  const queue = createMailTransportStores(ctx.db).queue;
  metrics.gauge({
    name: 'palabre_mail_queue_messages',
    help: 'Messages in the outbound queue (shared by every node).',
    aggregate: 'max',
    async collect(gauge) {
      gauge.set(undefined, (await queue.summary(new Date())).messages);
    },
  });
  metrics.gauge({
    name: 'palabre_mail_queue_jobs',
    help: 'Outbound deliveries waiting in the queue, by whether they are due now.',
    labels: ['due'],
    aggregate: 'max',
    async collect(gauge) {
      const summary = await queue.summary(new Date());
      gauge.set({ due: 'now' }, summary.dueNow);
      gauge.set({ due: 'later' }, summary.jobs - summary.dueNow);
    },
  });
  const walks = new Map<string, BlobWalk>(Object.entries(ctx.blobs).map(([name, store]) => [name, new BlobWalk(store)]));
  metrics.gauge({
    name: 'palabre_blob_bytes',
    help: 'Bytes in each blob store (mail, drive), as of the last walk of its folder (at most 10 minutes old).',
    labels: ['store'],
    aggregate: 'max',
    async collect(gauge) {
      for (const [store, walk] of walks) gauge.set({ store }, (await walk.current()).bytes);
    },
  });
  metrics.gauge({
    name: 'palabre_blobs',
    help: 'Blobs in each blob store (mail, drive), as of the last walk of its folder (at most 10 minutes old).',
    labels: ['store'],
    aggregate: 'max',
    async collect(gauge) {
      for (const [store, walk] of walks) gauge.set({ store }, (await walk.current()).count);
    },
  });
}

class BlobWalk {
  private last: { bytes: number; count: number; at: number; tookMs: number } | null = null;
  private running: Promise<{ bytes: number; count: number }> | null = null;

  constructor(private readonly store: BlobStore) {}

  async current(): Promise<{ bytes: number; count: number }> {
    if (this.last && Date.now() - this.last.at < Math.min(BLOB_WALK_MAX_AGE_MS, this.last.tookMs * BLOB_WALK_COST_FACTOR)) return this.last;
    const walk = (this.running ??= this.walk().finally(() => (this.running = null)));
    if (!this.last) return walk;
    walk.catch(() => undefined); // a failed walk keeps the last value; the next scrape tries again
    return this.last;
  }

  private async walk(): Promise<{ bytes: number; count: number }> {
    const started = Date.now();
    let bytes = 0;
    let count = 0;
    for await (const entry of this.store.list()) {
      bytes += entry.size;
      count++;
    }
    this.last = { bytes, count, at: Date.now(), tookMs: Date.now() - started };
    return this.last;
  }
}
