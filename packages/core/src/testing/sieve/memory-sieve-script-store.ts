import { ConflictError, NotFoundError, QuotaExceededError } from '../../errors.js';
import type { SieveScript, SieveScriptInfo, SieveScriptStore } from '../../sieve/sieve-script-store.js';
import { checkOwner, checkScriptContent, checkScriptName, MAX_SIEVE_SCRIPTS } from '../../sieve/sieve-script-rules.js';
import { systemClock, type Clock } from '../../ports/clock.js';

export class MemorySieveScriptStore implements SieveScriptStore {
  private readonly scripts = new Map<string, Map<string, SieveScript>>();
  private readonly domains = new Map<string, string>();

  constructor(private readonly clock: Clock = systemClock) {}

  private of(accountId: string): Map<string, SieveScript> {
    const id = checkOwner(accountId);
    let m = this.scripts.get(id);
    if (!m) this.scripts.set(id, (m = new Map()));
    return m;
  }

  async list(accountId: string): Promise<SieveScriptInfo[]> {
    return [...this.of(accountId).values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(({ name, active, size, updatedAt }) => ({ name, active, size, updatedAt }));
  }

  async get(accountId: string, name: string): Promise<SieveScript | null> {
    return this.of(accountId).get(checkScriptName(name)) ?? null;
  }

  async getActive(accountId: string): Promise<SieveScript | null> {
    return [...this.of(accountId).values()].find((s) => s.active) ?? null;
  }

  async put(accountId: string, name: string, content: string): Promise<SieveScriptInfo> {
    const m = this.of(accountId);
    const n = checkScriptName(name);
    const text = checkScriptContent(content);
    const existing = m.get(n);
    if (!existing && m.size >= MAX_SIEVE_SCRIPTS) throw new QuotaExceededError(`at most ${MAX_SIEVE_SCRIPTS} scripts`);
    const script: SieveScript = { accountId, name: n, content: text, active: existing?.active ?? false, size: Buffer.byteLength(text), updatedAt: this.clock.now() };
    m.set(n, script);
    return { name: n, active: script.active, size: script.size, updatedAt: script.updatedAt };
  }

  async setActive(accountId: string, name: string | null): Promise<void> {
    const m = this.of(accountId);
    const n = name === null ? null : checkScriptName(name);
    if (n !== null && !m.has(n)) throw new NotFoundError('no such script');
    for (const [k, s] of m) m.set(k, { ...s, active: k === n });
  }

  async rename(accountId: string, from: string, to: string): Promise<void> {
    const m = this.of(accountId);
    const a = checkScriptName(from);
    const b = checkScriptName(to);
    const s = m.get(a);
    if (!s) throw new NotFoundError('no such script');
    if (a === b) return;
    if (m.has(b)) throw new ConflictError('a script of that name exists');
    m.delete(a);
    m.set(b, { ...s, name: b, updatedAt: this.clock.now() });
  }

  async delete(accountId: string, name: string): Promise<void> {
    const m = this.of(accountId);
    const n = checkScriptName(name);
    const s = m.get(n);
    if (!s) throw new NotFoundError('no such script');
    if (s.active) throw new ConflictError('the active script cannot be deleted');
    m.delete(n);
  }

  async getDomainScript(domainId: string): Promise<string | null> {
    return this.domains.get(checkOwner(domainId)) ?? null;
  }

  async setDomainScript(domainId: string, content: string | null): Promise<void> {
    const id = checkOwner(domainId);
    if (content === null) this.domains.delete(id);
    else this.domains.set(id, checkScriptContent(content));
  }
}
