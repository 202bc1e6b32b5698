import { QuotaExceededError } from '../../errors.js';
import { checkChanges, checkEntryName, entriesAt, MAX_METADATA_ENTRIES, ownerOf } from '../../mail-metadata/mail-metadata-rules.js';
import type { MailMetadataStore, MetadataChange, MetadataDepth, MetadataEntry, MetadataScope } from '../../mail-metadata/mail-metadata-store.js';

const key = (scope: MetadataScope, name: string) => `${scope.mailboxId ?? ''}\u0000${ownerOf(name, scope) ?? ''}`;

export class MemoryMailMetadataStore implements MailMetadataStore {
  private readonly scopes = new Map<string, Map<string, string>>();

  async get(scope: MetadataScope, name: string, depth: MetadataDepth): Promise<MetadataEntry[]> {
    const n = checkEntryName(name);
    const entries = this.scopes.get(key(scope, n)) ?? new Map<string, string>();
    return entriesAt([...entries].map(([k, value]) => ({ name: k, value })), n, depth);
  }

  async set(scope: MetadataScope, changes: readonly MetadataChange[]): Promise<void> {
    const checked = checkChanges(changes);
    const next = new Map<string, Map<string, string>>();
    for (const c of checked) {
      const k = key(scope, c.name);
      let entries = next.get(k);
      if (!entries) next.set(k, (entries = new Map(this.scopes.get(k) ?? [])));
      if (c.value === null) entries.delete(c.name);
      else entries.set(c.name, c.value);
    }
    for (const entries of next.values()) {
      if (entries.size > MAX_METADATA_ENTRIES) throw new QuotaExceededError(`at most ${MAX_METADATA_ENTRIES} metadata entries`, { detail: { reason: 'too-many' } });
    }
    for (const [k, entries] of next) this.scopes.set(k, entries);
  }

  async deleteMailbox(mailboxId: string): Promise<void> {
    for (const k of [...this.scopes.keys()]) if (k.startsWith(`${mailboxId}\u0000`)) this.scopes.delete(k);
  }
}
