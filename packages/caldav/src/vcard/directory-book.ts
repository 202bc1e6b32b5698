import { silentLogger, type Account, type CalendarStore, type DirectoryStore, type Domain, type Group, type Logger } from '@palabre/core';
import { escapeTextValue, foldLine } from '../content-lines.js';
import { DIRECTORY_BOOK } from '../dav/names.js';
import { cardIndex, parseVCard } from './vcard.js';

export interface DirectoryBookOptions {
  readonly directory: DirectoryStore;
  readonly store: CalendarStore;
  /** Collection name and display name (default `annuaire`, "Annuaire"). */
  readonly book?: { readonly name: string; readonly displayName: string };
  readonly logger?: Logger;
}

export interface DirectoryBookOutcome {
  readonly domain: string;
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  readonly unchanged: number;
}

const card = (lines: readonly string[]): string => `${['BEGIN:VCARD', 'VERSION:4.0', ...lines, 'END:VCARD'].map(foldLine).join('\r\n')}\r\n`;

/** An agent's entry: name, addresses (primary first), organisation and department. */
export function accountCard(account: Account, domain: Domain, aliases: readonly string[]): string {
  return card([
    `UID:urn:palabre:account:${account.id}`,
    'KIND:individual',
    `FN:${escapeTextValue(account.displayName || account.address)}`,
    `EMAIL;TYPE=work;PREF=1:${escapeTextValue(account.address)}`,
    ...[...aliases].sort().map((a) => `EMAIL;TYPE=work:${escapeTextValue(a)}`),
    `ORG:${escapeTextValue(domain.name)}${account.department ? `;${escapeTextValue(account.department)}` : ''}`,
  ]);
}

/** A distribution list (a group with an address) as RFC 6350 `KIND:group`, so clients can address it. */
export function groupCard(group: Group): string {
  return card([
    `UID:urn:palabre:group:${group.id}`,
    'KIND:group',
    `FN:${escapeTextValue(group.description || group.name)}`,
    `EMAIL;TYPE=work:${escapeTextValue(group.address!)}`,
  ]);
}

const PAGE = 500;

/**
 * The read-only address list of a domain (`/dav/addressbooks/<address>/annuaire/`): one card per active
 * account and per group that receives mail, kept equal to the directory. Only what differs is written,
 * through the same validation and index as a CardDAV PUT, so sync-collection reports carry only real
 * changes; a suspended or removed account's card goes.
 */
export async function syncDirectoryBook(options: DirectoryBookOptions, domain: Domain): Promise<DirectoryBookOutcome> {
  const { directory, store } = options;
  const book = await store.ensureDomainAddressBook(domain.id, options.book?.name ?? DIRECTORY_BOOK, options.book?.displayName ?? 'Annuaire');
  const wanted = new Map<string, string>();
  for (let after: string | null = null; ; ) {
    const page = await directory.listAccounts({ domain: domain.name, after, limit: PAGE });
    const active = page.accounts.filter((a) => a.status === 'active');
    const aliases = await directory.aliasesOf(active.map((a) => a.id));
    for (const account of active) wanted.set(`${account.id}.vcf`, accountCard(account, domain, (aliases.get(account.id) ?? []).map((a) => a.address)));
    if (!page.next) break;
    after = page.next;
  }
  for (const group of await directory.listGroups(domain.name)) if (group.address) wanted.set(`group-${group.id}.vcf`, groupCard(group));

  let added = 0;
  let updated = 0;
  let removed = 0;
  let unchanged = 0;
  const seen = new Set<string>();
  for (let after: string | null = null; ; ) {
    const page = await store.listObjects(book.id, { after, limit: 1000, withData: true });
    for (const object of page) {
      seen.add(object.name);
      const text = wanted.get(object.name);
      if (text === undefined) {
        await store.deleteObject(book.id, object.name, { system: true });
        removed++;
      } else if (text !== object.data) {
        await store.putObject(book.id, object.name, text, cardIndex(parseVCard(text)), { system: true });
        updated++;
      } else unchanged++;
    }
    if (page.length < 1000) break;
    after = page[page.length - 1]!.name;
  }
  for (const [name, text] of wanted) {
    if (seen.has(name)) continue;
    await store.putObject(book.id, name, text, cardIndex(parseVCard(text)), { system: true });
    added++;
  }
  const outcome = { domain: domain.name, added, updated, removed, unchanged };
  if (added || updated || removed) (options.logger ?? silentLogger).info(outcome, 'carddav.directory-synced');
  return outcome;
}

/** Every hosted domain's address list (see syncDirectoryBook). */
export async function syncDirectoryBooks(options: DirectoryBookOptions): Promise<DirectoryBookOutcome[]> {
  const out: DirectoryBookOutcome[] = [];
  for (const domain of await options.directory.listDomains()) out.push(await syncDirectoryBook(options, domain));
  return out;
}
