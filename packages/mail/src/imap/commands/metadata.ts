import { isUtf8 } from 'node:buffer';
import {
  MAX_METADATA_ENTRIES,
  MAX_METADATA_VALUE_BYTES,
  checkEntryName,
  isPalabreError,
  type MailMetadataStore,
  type Mailbox,
  type MetadataChange,
  type MetadataDepth,
  type MetadataEntry,
} from '@palabre/core';
import { imapString, nstring } from '../../mime/imap-strings.js';
import type { ArgReader } from '../arguments.js';
import { openMailbox } from '../access.js';
import { AUTHENTICATED, defineCommand, mailboxArg } from '../command.js';
import { ImapError, SyntaxError, no } from '../errors.js';
import type { Session } from '../session.js';

/** RFC 6154 §4: the mailbox's special use, read-only, computed rather than stored. */
const SPECIALUSE = '/private/specialuse';

/** RFC 5464 §3.3: `l` and any one of `r s w i p`, to read or to write, private or shared. */
const ANY_OF = 'rswip';

function store(s: Session): MailMetadataStore {
  if (!s.ctx.metadata) throw no('CANNOT', 'METADATA is not available');
  return s.ctx.metadata;
}

/** An entry name from the client; a malformed one is a syntax error (BAD). */
function entryName(r: ArgReader): string {
  const raw = r.astringBytes('entry name');
  if (!isUtf8(raw)) throw new SyntaxError('Invalid metadata entry name');
  try {
    return checkEntryName(raw.toString('utf8'));
  } catch (error) {
    if (isPalabreError(error, 'invalid')) throw new SyntaxError(`Invalid metadata entry name: ${error.message}`);
    throw error;
  }
}

/** The mailbox whose entries these are (null: the server, `""`), with the rights RFC 5464 asks. */
async function target(s: Session, name: string): Promise<Mailbox | null> {
  if (name === '') return null;
  const opened = await openMailbox(s, name, 'l');
  if (![...ANY_OF].some((r) => opened.rights.includes(r))) throw no('NOPERM', 'Permission denied (needs "l" and one of "r", "s", "w", "i", "p")');
  return opened.mailbox;
}

interface GetArgs {
  readonly maxSize: number | null;
  readonly depth: MetadataDepth;
  readonly mailbox: string;
  readonly names: string[];
}

export const getmetadataCommand = defineCommand<GetArgs>({
  name: 'GETMETADATA',
  states: AUTHENTICATED,
  parse(r, s) {
    r.sp();
    let maxSize: number | null = null;
    let depth: MetadataDepth = '0';
    if (r.peek() === 0x28) {
      r.list(
        () => {
          const opt = r.atom('option').toUpperCase();
          r.sp();
          if (opt === 'MAXSIZE') maxSize = r.number('MAXSIZE');
          else if (opt === 'DEPTH') {
            const d = r.atom('depth').toLowerCase();
            if (d !== '0' && d !== '1' && d !== 'infinity') throw new SyntaxError('DEPTH is 0, 1 or infinity');
            depth = d;
          } else throw new SyntaxError(`Unknown GETMETADATA option ${opt.slice(0, 20)}`);
        },
        { allowEmpty: false },
      );
      r.sp();
    }
    const mailbox = s.decodeName(r.astringBytes('mailbox'));
    r.sp();
    const names = r.peek() === 0x28 ? r.list(() => entryName(r), { allowEmpty: false }) : [entryName(r)];
    r.end();
    if (names.length > MAX_METADATA_ENTRIES) throw new SyntaxError('Too many entry names');
    return { maxSize, depth, mailbox, names };
  },
  async run(s, args) {
    const box = await target(s, args.mailbox);
    const found = new Map<string, string | null>();
    for (const name of args.names) {
      if (name === SPECIALUSE && box) {
        found.set(name, box.specialUse);
        continue;
      }
      const entries: MetadataEntry[] = await store(s).get({ mailboxId: box?.id ?? null, accountId: s.user.accountId }, name, args.depth);
      if (!entries.some((e) => e.name === name)) found.set(name, null);
      for (const e of entries) found.set(e.name, e.value);
    }
    let longest = 0;
    const parts: string[] = [];
    for (const [name, value] of found) {
      const size = value === null ? 0 : Buffer.byteLength(value);
      if (args.maxSize !== null && size > args.maxSize) {
        longest = Math.max(longest, size);
        continue;
      }
      parts.push(`${imapString(name)} ${nstring(value)}`);
    }
    if (parts.length) await s.untagged(`METADATA ${box ? s.encodeName(args.mailbox) : '""'} (${parts.join(' ')})`);
    // RFC 5464 §4.2.1: what MAXSIZE left out is announced with the size of the largest of it.
    if (longest) return { code: `METADATA LONGENTRIES ${longest}`, text: 'GETMETADATA completed' };
  },
});

interface SetArgs {
  readonly mailbox: string;
  readonly changes: MetadataChange[];
}

const tooBig = () => no(`METADATA MAXSIZE ${MAX_METADATA_VALUE_BYTES}`, 'Metadata value too large');

export const setmetadataCommand = defineCommand<SetArgs>({
  name: 'SETMETADATA',
  states: AUTHENTICATED,
  /** An oversized value is refused before the client sends it, with the limit (RFC 5464 §4.3). */
  async literal(_s, _segments, size) {
    if (size > MAX_METADATA_VALUE_BYTES) return { action: 'refuse', error: tooBig() };
    return { action: 'buffer' };
  },
  parse(r, s) {
    const mailbox = mailboxArg(r, s);
    r.sp();
    const changes: MetadataChange[] = [];
    r.expect('(');
    for (;;) {
      const name = entryName(r);
      r.sp();
      const t = r.peekAtom().toUpperCase();
      let value: string | null;
      if (t === 'NIL') {
        r.atom();
        value = null;
      } else {
        const bytes = r.stringBytes('value');
        if (!isUtf8(bytes)) throw new ImapError('NO', 'CANNOT', 'Metadata values are UTF-8 text');
        value = bytes.toString('utf8');
      }
      changes.push({ name, value });
      if (r.maybe(')')) break;
      r.sp();
    }
    r.end();
    return { mailbox, changes };
  },
  async run(s, args) {
    const box = await target(s, args.mailbox);
    if (args.changes.some((c) => c.name === SPECIALUSE)) throw no('CANNOT', 'Special use is set with CREATE (USE …)');
    if (!box && args.changes.some((c) => c.name.startsWith('/shared/'))) throw no('NOPERM', 'Server shared entries are set by administrators');
    if (args.changes.some((c) => c.value !== null && Buffer.byteLength(c.value) > MAX_METADATA_VALUE_BYTES)) throw tooBig();
    const count = (kind: string) => args.changes.filter((c) => c.name.startsWith(kind)).length;
    if (count('/private/') > MAX_METADATA_ENTRIES || count('/shared/') > MAX_METADATA_ENTRIES) throw no('METADATA TOOMANY', 'Too many metadata entries');
    try {
      await store(s).set({ mailboxId: box?.id ?? null, accountId: s.user.accountId }, args.changes);
    } catch (error) {
      if (isPalabreError(error, 'quota')) throw no('METADATA TOOMANY', 'Too many metadata entries');
      if (isPalabreError(error, 'invalid')) throw no('CANNOT', error.message);
      throw error;
    }
  },
});
