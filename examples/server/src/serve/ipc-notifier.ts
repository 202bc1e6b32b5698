import { MemoryNotifier, type Notifier, type Unsubscribe } from '@palabre/core';

/** A message between the processes of one `palabre serve --workers N` node. */
export interface NotifyMessage {
  readonly palabre: 'notify';
  readonly topic: string;
  /** The payload, serialised once by the publisher. */
  readonly json: string;
}

export function isNotifyMessage(value: unknown): value is NotifyMessage {
  const m = value as Partial<NotifyMessage> | null;
  return !!m && m.palabre === 'notify' && typeof m.topic === 'string' && typeof m.json === 'string';
}

/**
 * Notifications between the worker processes of one node on the embedded database (SQLite has no
 * LISTEN/NOTIFY): local subscribers are served at once, and the primary process relays every publish
 * to the other workers over the cluster's IPC channel. Across nodes, PostgreSQL's notifier is used.
 */
export class IpcNotifier implements Notifier {
  private readonly local = new MemoryNotifier();
  private readonly onMessage = (message: unknown) => {
    if (isNotifyMessage(message)) this.local.deliver(message.topic, message.json);
  };

  constructor(private readonly channel: NodeJS.Process = process) {
    channel.on('message', this.onMessage);
  }

  async publish(topic: string, payload?: unknown): Promise<void> {
    await this.local.publish(topic, payload);
    const message: NotifyMessage = { palabre: 'notify', topic, json: JSON.stringify(payload === undefined ? null : payload) };
    if (this.channel.connected && this.channel.send) this.channel.send(message);
  }

  subscribe(topic: string, handler: (payload: unknown) => void): Promise<Unsubscribe> {
    return this.local.subscribe(topic, handler);
  }

  async close(): Promise<void> {
    this.channel.off('message', this.onMessage);
    await this.local.close();
  }
}
