import { SyntaxError } from '../errors.js';
import { ANY_STATE, defineCommand, noArgs } from '../command.js';
import { imapString } from '../../mime/imap-strings.js';

export const capabilityCommand = defineCommand({
  name: 'CAPABILITY',
  states: ANY_STATE,
  parse: noArgs,
  async run(s) {
    await s.untagged(`CAPABILITY ${s.capabilityList().join(' ')}`);
  },
});

export const noopCommand = defineCommand({
  name: 'NOOP',
  states: ANY_STATE,
  parse: noArgs,
  async run(s) {
    // A poll: look for changes even if no notification arrived (notifications are at most once).
    if (s.selected) s.selected.dirty = true;
  },
});

export const logoutCommand = defineCommand({
  name: 'LOGOUT',
  states: ANY_STATE,
  parse: noArgs,
  async run(s) {
    await s.untagged('BYE Logging out');
    s.state = 'logout';
  },
});

const MAX_ID_PAIRS = 30;

/** RFC 2971 ID: we say who we are; what the client says is logged at debug only. */
export const idCommand = defineCommand({
  name: 'ID',
  states: ANY_STATE,
  parse(r) {
    r.sp();
    const pairs: [string, string | null][] = [];
    if (r.peek() === 0x28) {
      const items = r.list(() => r.nstring('ID field'));
      if (items.length % 2 !== 0 || items.length / 2 > MAX_ID_PAIRS) throw new SyntaxError('ID needs field/value pairs');
      for (let i = 0; i < items.length; i += 2) {
        const k = items[i];
        if (k === null || k === undefined || k.length > 30) throw new SyntaxError('Invalid ID field');
        pairs.push([k, items[i + 1] ?? null]);
      }
    } else if (r.nstring() !== null) throw new SyntaxError('ID expects a list or NIL');
    r.end();
    return pairs;
  },
  async run(s, pairs) {
    const client = Object.fromEntries(pairs.slice(0, 8).map(([k, v]) => [k.toLowerCase(), (v ?? '').slice(0, 64)]));
    s.log.debug({ client }, 'imap.client-id');
    await s.untagged(`ID (${['name', 'Palabre', 'vendor', 'Palabre', 'support-url', 'https://palabre.example/'].map(imapString).join(' ')})`);
  },
});
