import { decodeEncodedWords } from '../mime/encoded-words.js';
import { parseAddressList } from '../mime/addresses.js';
import { parseMessageDateParts } from '../mime/dates.js';
import type { HeaderSection } from '../mime/header-section.js';
import { matchValues, SieveRuntimeError, StepBudget, type ComparatorName } from './match.js';
import { DEFAULT_SIEVE_LIMITS, type SieveLimits } from './parse.js';
import type { AddressPart, Checked, CompiledSieve } from './validate.js';

/** What a script sees of one message for one recipient. */
export interface SieveMessage {
  readonly header: HeaderSection;
  /** Envelope MAIL FROM ('' = null sender) and this recipient's RCPT TO. */
  readonly envelopeFrom: string;
  readonly envelopeTo: string;
  readonly size: number;
  /** Text of the message for `body`: the raw body and its decoded text parts (RFC 5173). */
  readonly body?: { readonly raw: string; readonly parts: readonly { readonly contentType: string; readonly text: string }[] };
  readonly now: Date;
}

export type SieveAction =
  | { readonly type: 'keep'; readonly flags: readonly string[] }
  | { readonly type: 'fileinto'; readonly mailbox: string; readonly flags: readonly string[] }
  | { readonly type: 'redirect'; readonly address: string }
  | { readonly type: 'reject'; readonly reason: string; readonly ereject: boolean }
  | { readonly type: 'discard' }
  | {
      readonly type: 'vacation';
      readonly reason: string;
      readonly days: number;
      readonly subject: string | null;
      readonly from: string | null;
      readonly addresses: readonly string[];
      readonly handle: string;
      readonly mime: boolean;
    };

export interface SieveOutcome {
  /** What to do with the message, implicit keep included. */
  readonly actions: readonly SieveAction[];
  /** A run-time error: the actions are then only an implicit keep (RFC 5228 §2.10.6). */
  readonly error: string | null;
}

/** State that carries from one script to the next (the domain script runs before the user's). */
class Run {
  readonly actions: SieveAction[] = [];
  implicitKeep = true;
  stopped = false;
  redirects = 0;
  /** imap4flags' internal variable at the end: the implicit keep files with these (RFC 5232 §3). */
  implicitFlags: readonly string[] = [];
  constructor(
    readonly message: SieveMessage,
    readonly limits: SieveLimits,
    readonly budget: StepBudget,
  ) {}
}

class Stop {}

/** Run scripts in order on one message; the first `stop` ends them all. Never throws. */
export function runSieve(scripts: readonly CompiledSieve[], message: SieveMessage, limits: SieveLimits = DEFAULT_SIEVE_LIMITS): SieveOutcome {
  const run = new Run(message, limits, new StepBudget(limits.maxSteps));
  try {
    for (const script of scripts) {
      if (run.stopped) break;
      new ScriptRun(run, script).block(script.commands);
    }
  } catch (error) {
    if (!(error instanceof SieveRuntimeError)) throw error;
    return { actions: [{ type: 'keep', flags: [] }], error: error.message };
  }
  const actions = [...run.actions];
  if (run.implicitKeep && !actions.some((a) => a.type === 'keep')) actions.push({ type: 'keep', flags: run.implicitFlags });
  return { actions, error: null };
}

class ScriptRun {
  private readonly variables = new Map<string, string>();
  private matchVars: string[] = [];
  private flags: string[] = [];

  constructor(
    private readonly run: Run,
    private readonly script: CompiledSieve,
  ) {}

  block(commands: readonly Checked[]): void {
    try {
      let taken = false;
      for (const c of commands) {
        if (this.run.stopped) return;
        this.run.budget.spend(1);
        if (c.name === 'if') taken = this.branch(c);
        else if (c.name === 'elsif') taken = taken || this.branch(c);
        else if (c.name === 'else') {
          if (!taken) this.block(c.block!);
          taken = true;
        } else this.command(c);
      }
    } catch (e) {
      if (e instanceof Stop) {
        this.run.stopped = true;
        return;
      }
      throw e;
    }
  }

  private branch(c: Checked): boolean {
    if (!this.test(c.tests[0]!)) return false;
    this.block(c.block!);
    return true;
  }

  private expand(s: string): string {
    if (!this.script.extensions.has('variables') || !s.includes('${')) return s;
    // RFC 5229 §3: ${name} and ${N}; unknown names are empty; anything else is left as written.
    const out = s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+)\}/g, (_, name: string) => {
      if (/^[0-9]+$/.test(name)) return this.matchVars[Number(name)] ?? '';
      return this.variables.get(name.toLowerCase()) ?? '';
    });
    this.run.budget.spend(out.length >> 6);
    return out.length > this.run.limits.maxVariableLength * 4 ? out.slice(0, this.run.limits.maxVariableLength * 4) : out;
  }

  private strings(v: readonly string[] | number | undefined): string[] {
    return Array.isArray(v) ? v.map((s) => this.expand(s)) : [];
  }

  private string(v: unknown): string {
    return this.expand(Array.isArray(v) ? (v[0] as string) : String(v ?? ''));
  }

  private addAction(a: SieveAction): void {
    const acts = this.run.actions;
    if (acts.length >= this.run.limits.maxActions) throw new SieveRuntimeError(`more than ${this.run.limits.maxActions} actions`);
    const rejecting = acts.some((x) => x.type === 'reject');
    const delivering = (x: SieveAction) => x.type === 'keep' || x.type === 'fileinto' || x.type === 'redirect' || x.type === 'vacation';
    // RFC 5429 §2.1 and RFC 5230 §4.7: reject excludes every action that delivers or answers.
    if ((a.type === 'reject' && acts.some(delivering)) || (rejecting && delivering(a))) throw new SieveRuntimeError('reject cannot be combined with keep, fileinto, redirect or vacation');
    if (a.type === 'vacation' && acts.some((x) => x.type === 'vacation')) throw new SieveRuntimeError('only one vacation action per message');
    if (a.type === 'reject' && rejecting) throw new SieveRuntimeError('only one reject per message');
    // Same mailbox or address twice is done once (RFC 5228 §2.10.3); a later one's flags win.
    const same = acts.findIndex(
      (x) =>
        (x.type === 'fileinto' && a.type === 'fileinto' && x.mailbox === a.mailbox) ||
        (x.type === 'keep' && a.type === 'keep') ||
        (x.type === 'redirect' && a.type === 'redirect' && x.address.toLowerCase() === a.address.toLowerCase()),
    );
    if (same >= 0) acts[same] = a;
    else acts.push(a);
  }

  private currentFlags(c: Checked): string[] {
    const tag = c.tags.get('flags');
    return tag ? normaliseFlags(this.strings(tag as string[])) : [...this.flags];
  }

  private command(c: Checked): void {
    const p = c.positional;
    switch (c.name) {
      case 'stop':
        throw new Stop();
      case 'keep':
        this.addAction({ type: 'keep', flags: this.currentFlags(c) });
        this.run.implicitKeep = false;
        return;
      case 'discard':
        this.run.implicitKeep = false;
        return;
      case 'fileinto': {
        const mailbox = this.string(p[0]);
        if (!mailbox || mailbox.length > 1000 || /[\u0000-\u001f]/.test(mailbox)) throw new SieveRuntimeError('invalid mailbox name for fileinto');
        this.addAction({ type: 'fileinto', mailbox, flags: this.currentFlags(c) });
        if (!c.tags.has('copy')) this.run.implicitKeep = false;
        return;
      }
      case 'redirect': {
        const address = this.string(p[0]).trim();
        if (!/^[^\s@<>"]{1,64}@[A-Za-z0-9.-]{1,253}$/.test(address)) throw new SieveRuntimeError(`invalid redirect address`);
        if (++this.run.redirects > this.run.limits.maxRedirects) throw new SieveRuntimeError(`more than ${this.run.limits.maxRedirects} redirects`);
        this.addAction({ type: 'redirect', address });
        if (!c.tags.has('copy')) this.run.implicitKeep = false;
        return;
      }
      case 'reject':
      case 'ereject':
        this.addAction({ type: 'reject', reason: this.string(p[0]), ereject: c.name === 'ereject' });
        this.run.implicitKeep = false;
        return;
      case 'setflag':
      case 'addflag':
      case 'removeflag': {
        const variable = p.length === 2 ? this.string(p[0]).toLowerCase() : null;
        const list = this.strings(p[p.length - 1] as string[]);
        const current = variable ? normaliseFlags((this.variables.get(variable) ?? '').split(' ')) : this.flags;
        const given = normaliseFlags(list);
        const next =
          c.name === 'setflag'
            ? given
            : c.name === 'addflag'
              ? normaliseFlags([...current, ...given])
              : current.filter((f) => !given.some((g) => g.toLowerCase() === f.toLowerCase()));
        if (variable) this.setVariable(variable, next.join(' '));
        else this.flags = next;
        this.run.implicitFlags = this.flags;
        return;
      }
      case 'set': {
        let value = this.string(p[1]);
        // RFC 5229 §4.1: modifiers apply by precedence, :length last.
        const has = (m: string) => c.tags.has(m);
        if (has('lower')) value = value.toLowerCase();
        if (has('upper')) value = value.toUpperCase();
        if (has('lowerfirst')) value = value.charAt(0).toLowerCase() + value.slice(1);
        if (has('upperfirst')) value = value.charAt(0).toUpperCase() + value.slice(1);
        if (has('quotewildcard')) value = value.replace(/[*?\\]/g, '\\$&');
        if (has('length')) value = String([...value].length);
        this.setVariable(this.string(p[0]).toLowerCase(), value);
        return;
      }
      case 'vacation': {
        const days = Math.min(Math.max(Number(c.tags.get('days') ?? 7), 1), 90);
        const reason = this.string(p[0]);
        const subject = c.tags.has('subject') ? this.string(c.tags.get('subject')) : null;
        const from = c.tags.has('from') ? this.string(c.tags.get('from')) : null;
        // RFC 5230 §4.2: without :handle, the reason and its options identify the vacation.
        const handle = c.tags.has('handle') ? this.string(c.tags.get('handle')) : `${subject ?? ''}\u0000${from ?? ''}\u0000${reason}`;
        this.addAction({ type: 'vacation', reason, days, subject, from, handle, addresses: this.strings(c.tags.get('addresses') as string[]), mime: c.tags.has('mime') });
        return;
      }
    }
    throw new SieveRuntimeError(`unknown command ${c.name}`);
  }

  private setVariable(name: string, value: string): void {
    if (!this.variables.has(name) && this.variables.size >= this.run.limits.maxVariables) throw new SieveRuntimeError('too many variables');
    this.variables.set(name, value.length > this.run.limits.maxVariableLength ? value.slice(0, this.run.limits.maxVariableLength) : value);
  }

  private matches(c: Checked, values: readonly string[], keys: readonly string[]): boolean {
    const comparator: ComparatorName = c.comparator;
    return matchValues(c.match, comparator, values, keys, this.run.budget, (captures) => {
      if (this.script.extensions.has('variables')) this.matchVars = captures;
    });
  }

  private test(t: Checked): boolean {
    this.run.budget.spend(1);
    const m = this.run.message;
    const p = t.positional;
    switch (t.name) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'not':
        return !this.test(t.tests[0]!);
      case 'allof':
        return t.tests.every((x) => this.test(x));
      case 'anyof':
        return t.tests.some((x) => this.test(x));
      case 'exists':
        return this.strings(p[0] as string[]).every((h) => m.header.has(h.toLowerCase()));
      case 'size': {
        const limit = p[0] as number;
        return t.tags.has('over') ? m.size > limit : m.size < limit;
      }
      case 'header': {
        const values = this.strings(p[0] as string[]).flatMap((h) => m.header.getAll(h.toLowerCase()).map((v) => decodeEncodedWords(v)));
        return this.matches(t, values, this.strings(p[1] as string[]));
      }
      case 'address': {
        const values = this.strings(p[0] as string[]).flatMap((h) =>
          m.header
            .getAll(h.toLowerCase())
            .flatMap((v) => parseAddressList(v))
            .filter((a) => a.host !== null && a.mailbox !== null)
            .map((a) => addressPart(`${a.mailbox}@${a.host}`, t.addressPart)),
        );
        return this.matches(
          t,
          values.filter((v): v is string => v !== null),
          this.strings(p[1] as string[]),
        );
      }
      case 'envelope': {
        const values = this.strings(p[0] as string[]).map((part) => {
          const which = part.toLowerCase();
          const address = which === 'from' ? m.envelopeFrom : which === 'to' ? m.envelopeTo : null;
          if (address === null) return null;
          // The null reverse-path is the empty string for every address part (RFC 5228 §5.4).
          return address === '' ? '' : addressPart(address, t.addressPart);
        });
        return this.matches(
          t,
          values.filter((v): v is string => v !== null),
          this.strings(p[1] as string[]),
        );
      }
      case 'body': {
        const body = m.body;
        if (!body) return false;
        let values: string[];
        if (t.tags.has('raw')) values = [body.raw];
        else {
          const types = t.tags.has('content') ? this.strings(t.tags.get('content') as string[]).map((x) => x.toLowerCase()) : ['text'];
          values = body.parts.filter((part) => types.some((ty) => ty === '' || part.contentType === ty || part.contentType.startsWith(`${ty}/`))).map((part) => part.text);
        }
        // body has no match variables (RFC 5173 §6): :matches captures are dropped.
        const before = this.matchVars;
        const r = this.matches(t, values, this.strings(p[0] as string[]));
        this.matchVars = before;
        return r;
      }
      case 'hasflag': {
        const variables = p.length === 2 ? this.strings(p[0] as string[]).map((v) => v.toLowerCase()) : null;
        const flags = variables ? normaliseFlags(variables.flatMap((v) => (this.variables.get(v) ?? '').split(' '))) : this.flags;
        return this.matches(t, flags, this.strings(p[p.length - 1] as string[]));
      }
      case 'string':
        return this.matches(t, this.strings(p[0] as string[]), this.strings(p[1] as string[]));
      case 'date':
      case 'currentdate': {
        const zoneTag = t.tags.get('zone');
        const zone = typeof zoneTag === 'string' ? parseZone(this.expand(zoneTag)) : null;
        let instant: number;
        let offset: number;
        if (t.name === 'date') {
          const name = this.string(p[0]).toLowerCase();
          const raw = m.header.getAll(name)[0];
          const parsed = raw ? parseMessageDateParts(raw.includes(';') ? raw.slice(raw.lastIndexOf(';') + 1) : raw) : null;
          if (!parsed) return false;
          instant = parsed.utc;
          offset = t.tags.has('originalzone') ? (parsed.written - parsed.utc) / 60_000 : (zone ?? 0);
        } else {
          instant = m.now.getTime();
          offset = zone ?? 0;
        }
        const part = this.string(p[p.length - 2]).toLowerCase();
        const value = datePart(instant, offset, part);
        return value !== null && this.matches(t, [value], this.strings(p[p.length - 1] as string[]));
      }
    }
    throw new SieveRuntimeError(`unknown test ${t.name}`);
  }
}

/** RFC 5232 §3: flags are space-separated words, each kept once (case-insensitively). */
function normaliseFlags(list: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of list.flatMap((s) => s.split(' '))) {
    if (!f || /[\u0000-\u0020(){%*"\]]/.test(f.replace(/^\\/, '')) || f.length > 100) continue;
    if (!out.some((o) => o.toLowerCase() === f.toLowerCase())) out.push(f);
  }
  return out;
}

/** Address parts (RFC 5228 §2.7.4, RFC 5233 with "+" as the separator). */
function addressPart(address: string, part: AddressPart): string | null {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const domain = at < 0 ? '' : address.slice(at + 1);
  const plus = local.indexOf('+');
  switch (part) {
    case 'all':
      return address;
    case 'localpart':
      return local;
    case 'domain':
      return domain;
    case 'user':
      return plus < 0 ? local : local.slice(0, plus);
    case 'detail':
      // No separator: the test does not match this address at all (RFC 5233 §4).
      return plus < 0 ? null : local.slice(plus + 1);
  }
}

/** "+0100" → minutes east of UTC. */
function parseZone(zone: string): number | null {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(zone.trim());
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : null;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** One date part of RFC 5260 §4.2, for an instant seen in a zone `offset` minutes east of UTC. */
export function datePart(instant: number, offset: number, part: string): string | null {
  const d = new Date(instant + offset * 60_000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  switch (part) {
    case 'year':
      return pad(d.getUTCFullYear(), 4);
    case 'month':
      return pad(d.getUTCMonth() + 1);
    case 'day':
      return pad(d.getUTCDate());
    case 'date':
      return date;
    case 'julian':
      // Modified Julian Day: days since 1858-11-17.
      return String(Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(1858, 10, 17)) / 86_400_000));
    case 'hour':
      return pad(d.getUTCHours());
    case 'minute':
      return pad(d.getUTCMinutes());
    case 'second':
      return pad(d.getUTCSeconds());
    case 'time':
      return time;
    case 'iso8601':
      return `${date}T${time}${zone.slice(0, 3)}:${zone.slice(3)}`;
    case 'std11':
      return `${WEEKDAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${time} ${zone}`;
    case 'zone':
      return zone;
    case 'weekday':
      return String(d.getUTCDay());
  }
  return null;
}
