import { InvalidInputError } from './errors.js';
import { MAX_NOTIFY_PAYLOAD_BYTES, MAX_TOPIC_LENGTH } from './ports/notifier.js';

/** Serialise and bound a notification the same way in every Notifier. */
export function encodeNotification(topic: string, payload: unknown): string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw new InvalidInputError('invalid notification topic');
  }
  const data = payload === undefined ? null : payload;
  const json = JSON.stringify(data);
  if (Buffer.byteLength(json) > MAX_NOTIFY_PAYLOAD_BYTES) throw new InvalidInputError('notification payload too large');
  return json;
}
