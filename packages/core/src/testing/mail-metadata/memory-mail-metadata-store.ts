import { QuotaExceededError } from '../../errors.js';
import { checkChanges, checkEntryName, entriesAt, MAX_METADATA_ENTRIES } from '../../mail-metadata/mail-metadata-rules.js';
import type { MailMetadataStore, MetadataChange, MetadataDepth, MetadataEntry, MetadataScope } from '../../mail-metadata/mail-metadata-store.js';

const key = (scope: MetadataScope) => `${scope.mailboxId ?? ''}\u0000${scope.accountId ?? ''}`;

export class MemoryMailMetadataStore implements MailMetadataStore {
  private readonly scopes = new Map<string, Map<string, string>>();

  async get(scope: MetadataScope, name: string, depth: MetadataDepth): Promise<MetadataEntry[]> {
    const n = checkEntryName(name);
    const entries = this.scopes.get(key(scope)) ?? new Map<string, string>();
    return entriesAt([...entries].map(([k, value]) => ({ name: k, value })), n, depth);
  }

  async set(scope: MetadataScope, changes: readonly MetadataChange[]): Promise<void> {
    const checked = checkChanges(scope, changes);
    const next = new Map(this.scopes.get(key(scope)) ?? []);
    for (const c of checked) {
      if (c.value === null) next.delete(c.name);
      else next.set(c.name, c.value);
    }
    if (next.size > MAX_METADATA_ENTRIES) throw new QuotaExceededError(`at most ${MAX_METADATA_ENTRIES} metadata entries`, { detail: { reason: 'too-many' } });
    this.scopes.set(key(scope), next);
  }

  async deleteMailbox(mailboxId: string): Promise<void> {
    for (const k of [...this.scopes.keys()]) if (k.startsWith(`${mailboxId}\u0000`)) this.scopes.delete(k);
  }
}
