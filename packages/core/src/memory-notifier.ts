import { encodeNotification } from './notifier-rules.js';
import type { Notifier, Unsubscribe } from './ports/notifier.js';

/**
 * In-process notifier: the default for one node, and what the PostgreSQL notifier uses to fan out to
 * local subscribers. Handlers run on a later tick, never inside publish(), so a slow or throwing
 * subscriber cannot stall or break the publisher.
 */
export class MemoryNotifier implements Notifier {
  private readonly topics = new Map<string, Set<(payload: unknown) => void>>();
  private closed = false;

  async publish(topic: string, payload?: unknown): Promise<void> {
    const json = encodeNotification(topic, payload);
    this.deliver(topic, json);
  }

  /** Fan a serialised payload out to this process's subscribers. */
  deliver(topic: string, json: string): void {
    const handlers = this.topics.get(topic);
    if (!handlers || handlers.size === 0) return;
    for (const handler of [...handlers]) {
      // Each subscriber gets its own copy: one cannot mutate what the next one sees.
      setImmediate(() => {
        try {
          handler(JSON.parse(json));
        } catch {
          // A subscriber's bug is its own; the notifier keeps serving the others.
        }
      });
    }
  }

  async subscribe(topic: string, handler: (payload: unknown) => void): Promise<Unsubscribe> {
    if (this.closed) throw new Error('notifier closed');
    encodeNotification(topic, null);
    let set = this.topics.get(topic);
    if (!set) {
      set = new Set();
      this.topics.set(topic, set);
    }
    const entry = (payload: unknown) => handler(payload);
    set.add(entry);
    return () => {
      const current = this.topics.get(topic);
      if (!current) return;
      current.delete(entry);
      if (current.size === 0) this.topics.delete(topic);
    };
  }

  subscriberCount(topic?: string): number {
    if (topic !== undefined) return this.topics.get(topic)?.size ?? 0;
    let n = 0;
    for (const set of this.topics.values()) n += set.size;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.topics.clear();
  }
}

export function createMemoryNotifier(): MemoryNotifier {
  return new MemoryNotifier();
}
