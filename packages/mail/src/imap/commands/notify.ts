import { AUTHENTICATED, defineCommand } from '../command.js';
import { no } from '../errors.js';
import { NOTIFY_EVENTS, NotifySession, parseNotify } from '../rfc5465.js';

/**
 * RFC 5465 NOTIFY: SET replaces what the session watches (NONE turns it off). Events the server does not
 * offer are refused as a whole with NO [BADEVENT (what it offers)], before anything changes.
 */
export const notifyCommand = defineCommand({
  name: 'NOTIFY',
  states: AUTHENTICATED,
  parse: parseNotify,
  async run(s, args) {
    if (args.kind === 'set' && args.unsupported.length) throw no(`BADEVENT (${NOTIFY_EVENTS.join(' ')})`, `Events not supported: ${args.unsupported.join(' ')}`);
    if (args.kind === 'none') return s.endNotify();
    // A SET that fails (NOTIFICATIONOVERFLOW) leaves the previous one in force.
    const notify = new NotifySession(s, args);
    try {
      await notify.start(args.status);
    } catch (error) {
      notify.stop();
      throw error;
    }
    s.endNotify();
    s.notify = notify;
  },
});
