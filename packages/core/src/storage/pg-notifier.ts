import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { UnavailableError } from '../errors.js';
import { MemoryNotifier } from '../memory-notifier.js';
import { encodeNotification } from '../notifier-rules.js';
import type { Logger } from '../ports/logger.js';
import { silentLogger } from '../ports/logger.js';
import { NOTIFIER_RECONNECT_TOPIC, type Notifier, type Unsubscribe } from '../ports/notifier.js';

const CHANNEL = 'palabre_events';

export interface PgNotifierOptions {
  url: string;
  logger?: Logger;
  /** Delay before reconnecting the LISTEN connection after it drops (doubles up to 30 s). */
  reconnectMs?: number;
}

/**
 * Notifications across nodes through PostgreSQL LISTEN/NOTIFY on one channel. Local subscribers are
 * served at once from memory; the node's own NOTIFY echo is recognised by its origin id and skipped,
 * so each handler runs exactly once per publish on every node.
 */
export class PgNotifier implements Notifier {
  private readonly local = new MemoryNotifier();
  private readonly origin = randomUUID();
  private listener: pg.Client | null = null;
  private publisher: pg.Pool;
  private closed = false;
  private readonly log: Logger;
  private reconnectDelay: number;
  private reconnectTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: PgNotifierOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'pg-notifier' });
    this.reconnectDelay = options.reconnectMs ?? 500;
    this.publisher = new pg.Pool({ connectionString: options.url, max: 2, connectionTimeoutMillis: 10_000 });
    this.publisher.on('error', (error) => this.log.warn({ err: error.message }, 'notifier.error'));
  }

  static async connect(options: PgNotifierOptions): Promise<PgNotifier> {
    const notifier = new PgNotifier(options);
    await notifier.listen();
    return notifier;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: 10_000 });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        const { o, t, p } = JSON.parse(message.payload) as { o: string; t: string; p: string };
        if (o !== this.origin && typeof t === 'string' && typeof p === 'string') this.local.deliver(t, p);
      } catch {
        this.log.warn({}, 'notifier.bad-payload');
      }
    });
    const onLost = (error?: Error) => {
      if (this.closed || this.listener !== client) return;
      this.listener = null;
      this.log.warn({ err: error?.message }, 'notifier.disconnected');
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw new UnavailableError('cannot listen for notifications', { cause: error });
    }
    this.listener = client;
    this.reconnectDelay = this.options.reconnectMs ?? 500;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen()
        .then(() => {
          this.log.info({}, 'notifier.reconnected');
          // Anything published while we were away is lost: tell every subscriber to re-read state.
          this.local.deliver(NOTIFIER_RECONNECT_TOPIC, 'null');
        })
        .catch(() => {
          this.reconnectDelay = Math.min(this.reconnectDelay * 2, 30_000);
          this.scheduleReconnect();
        });
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  async publish(topic: string, payload?: unknown): Promise<void> {
    const json = encodeNotification(topic, payload);
    this.local.deliver(topic, json);
    try {
      await this.publisher.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ o: this.origin, t: topic, p: json })]);
    } catch (error) {
      throw new UnavailableError('cannot publish notification', { cause: error });
    }
  }

  /** Subscribe to NOTIFIER_RECONNECT_TOPIC to learn that cross-node notifications may have been missed. */
  subscribe(topic: string, handler: (payload: unknown) => void): Promise<Unsubscribe> {
    return this.local.subscribe(topic, handler);
  }

  get connected(): boolean {
    return this.listener !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.publisher.end().catch(() => undefined);
    await this.local.close();
  }
}

export function createPgNotifier(options: PgNotifierOptions): Promise<PgNotifier> {
  return PgNotifier.connect(options);
}
