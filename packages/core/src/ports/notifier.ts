export type Unsubscribe = () => void;

/**
 * Change notifications between sessions and between nodes ("mailbox 42 changed", "folder X changed").
 * Payloads are small JSON values; at-most-once delivery: a subscriber that must not miss anything
 * re-reads its state from storage when notified, and notifications only say where to look.
 */
export interface Notifier {
  publish(topic: string, payload?: unknown): Promise<void>;
  /** The handler runs for every publish on this topic from any node, including this one. */
  subscribe(topic: string, handler: (payload: unknown) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}

/** Topics are short, structured and carry no personal data. */
export const MAX_TOPIC_LENGTH = 200;
export const MAX_NOTIFY_PAYLOAD_BYTES = 4000;

/** Published locally when cross-node notifications may have been missed (a dropped LISTEN connection). */
export const NOTIFIER_RECONNECT_TOPIC = '*reconnect';
