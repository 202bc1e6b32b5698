import { createHash } from 'node:crypto';
import { ImapFlow } from 'imapflow';

/** Seeding the legacy server and listing either side through IMAP, for the migration tests. */

export const FOLDERS = [
  'INBOX',
  'Sent Messages',
  'Drafts',
  'Deleted Messages',
  'Junk',
  'Archive',
  'Projets',
  'Projets/2024',
  'Projets/2024/Q1',
  'Été 2025',
  'Refusé',
];
/** The legacy server's special folders under our names. */
export const OUR_NAME: Record<string, string> = { 'Sent Messages': 'Sent', 'Deleted Messages': 'Trash' };
const FLAG_SETS = [
  [],
  ['\\Seen'],
  ['\\Seen', '\\Answered'],
  ['\\Flagged'],
  ['\\Seen', '$Label1'],
  ['\\Draft', 'Urgent'],
  ['\\Seen', '\\Deleted'],
  ['$Forwarded', 'Dossier_suivi', '\\Seen'],
];

export function message(account: string, n: number): Buffer {
  const kind = n % 4;
  const subject = kind === 1 ? '=?UTF-8?B?' + Buffer.from(`Réunion n°${n}`).toString('base64') + '?=' : `Message ${n}`;
  const head = `From: Agent ${n % 7} <agent${n % 7}@legacy.sante.gouv.tg>\r\nTo: ${account}\r\nSubject: ${subject}\r\nDate: Mon, ${1 + (n % 28)} Jan 2024 10:${String(n % 60).padStart(2, '0')}:00 +0000\r\nMessage-ID: <${n}.${account}@legacy>\r\nMIME-Version: 1.0\r\n`;
  if (kind === 2) {
    return Buffer.from(
      `${head}Content-Type: multipart/mixed; boundary="b${n}"\r\n\r\n--b${n}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBonjour, pièce jointe n°${n}.\r\n--b${n}\r\nContent-Type: application/octet-stream; name="f${n}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.alloc(
        300 + n,
        n % 256,
      )
        .toString('base64')
        .replace(/.{76}/g, '$&\r\n')}\r\n--b${n}--\r\n`,
    );
  }
  return Buffer.from(
    `${head}Content-Type: text/plain; charset=utf-8\r\n\r\nCorps du message ${n} pour ${account}.\r\n${'ligne\r\n'.repeat(n % 30)}`,
  );
}

export function legacyClient(port: number, user: string, password: string): ImapFlow {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: password },
    logger: false,
    disableAutoIdle: true,
  });
  c.on('error', () => undefined);
  return c;
}

/** `count` messages spread over FOLDERS (nested, special, accented), with flags, keywords and dates; two exact twins in INBOX. */
export async function seedAccount(port: number, user: string, password: string, count: number): Promise<void> {
  const c = legacyClient(port, user, password);
  await c.connect();
  try {
    for (const f of FOLDERS) {
      if (f === 'INBOX') continue;
      await c.mailboxCreate(f).catch(() => undefined);
      await c.mailboxSubscribe(f);
    }
    await c.mailboxUnsubscribe('Projets/2024');
    for (let n = 0; n < count; n++) {
      const folder = FOLDERS[n % FOLDERS.length]!;
      const date = new Date(Date.UTC(2019, n % 12, 1 + (n % 27), n % 24, n % 60, 7));
      await c.append(folder, message(user, n), FLAG_SETS[n % FLAG_SETS.length]!, date);
    }
    // Two identical messages (same bytes, same date): both must arrive, once each.
    const twin = message(user, 100_000);
    const when = new Date(Date.UTC(2020, 1, 2, 3, 4, 5));
    await c.append('INBOX', twin, ['\\Seen'], when);
    await c.append('INBOX', twin, ['\\Seen'], when);
  } finally {
    await c.logout();
  }
}

export interface FolderListing {
  readonly subscribed: boolean;
  /** One line per message: body SHA-256, internal date, sorted flags; sorted. */
  readonly messages: string[];
}

/** Every selectable, non-virtual folder of an account through IMAP, named as we name them. */
export async function listAccount(client: ImapFlow, rename: Record<string, string> = {}): Promise<Map<string, FolderListing>> {
  await client.connect();
  const out = new Map<string, FolderListing>();
  try {
    for (const f of await client.list()) {
      if (f.flags.has('\\Noselect') || f.flags.has('\\NonExistent') || f.specialUse === '\\All' || f.specialUse === '\\Flagged') continue;
      const lock = await client.getMailboxLock(f.path, { readOnly: true });
      const messages: string[] = [];
      try {
        if ((client.mailbox as { exists: number }).exists > 0) {
          for await (const m of client.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true })) {
            const flags = [...(m.flags ?? [])].filter((x) => x !== '\\Recent').sort();
            messages.push(
              `${createHash('sha256').update(m.source!).digest('hex')} ${new Date(m.internalDate!).toISOString()} ${flags.join(' ')}`,
            );
          }
        }
      } finally {
        lock.release();
      }
      out.set(rename[f.path] ?? f.path, { subscribed: f.subscribed, messages: messages.sort() });
    }
  } finally {
    await client.logout();
  }
  return out;
}

export function countMessages(listing: Map<string, FolderListing>): number {
  return [...listing.values()].reduce((n, f) => n + f.messages.length, 0);
}
