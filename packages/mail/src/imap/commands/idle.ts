import { AUTHENTICATED, defineCommand, noArgs } from '../command.js';
import { bad } from '../errors.js';

/**
 * RFC 2177 IDLE: changes are pushed as they happen (the mailbox hub wakes the session), `* OK Still
 * here` keeps the connection alive, DONE ends it.
 */
export const idleCommand = defineCommand({
  name: 'IDLE',
  states: AUTHENTICATED,
  parse: noArgs,
  async run(s) {
    const sel = s.selected;
    if (sel) await sel.sync(true);
    await s.continuation('idling');
    s.setIdling(true);
    let line: string | null | undefined;
    const done = s.readLine().then((l) => {
      line = l;
      s.wake();
    });
    try {
      while (line === undefined && !s.isClosed) {
        // Under NOTIFY the session's reports carry the selected mailbox's changes too.
        if (s.selected?.dirty && !s.notify) {
          await s.selected.sync(true);
          await s.writer.flush();
          continue;
        }
        await s.waitWake(24 * 3600 * 1000);
      }
    } finally {
      s.setIdling(false);
    }
    await s.settlePushes();
    await done;
    if (line === null || s.isClosed) return { answered: true };
    if ((line as string).trim().toUpperCase() !== 'DONE') throw bad('Expected DONE');
    return { text: 'IDLE terminated' };
  },
});
