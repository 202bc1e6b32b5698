/**
 * RFC 5322 address lists as IMAP ENVELOPE address structures (RFC 9051 §7.5.2): `(name adl mailbox host)`,
 * groups as `(NIL NIL name NIL)` … `(NIL NIL NIL NIL)`. Lenient: damaged addresses come out as well as
 * they can (Dovecot's MISSING_MAILBOX / MISSING_DOMAIN convention), never as an exception.
 */
export interface EnvelopeAddress {
  readonly name: string | null;
  readonly adl: string | null;
  readonly mailbox: string | null;
  readonly host: string | null;
}

/** `gap`: whitespace or a comment came before it; `open`: a quote, comment or literal not closed before the end. */
type Token = ({ t: 'atom' | 'quoted' | 'comment' | 'literal'; v: string } | { t: 'special'; v: string }) & { gap?: true; open?: true };

const MAX_ADDRESSES = 1000;
const SPECIALS = '<>,:;@.';

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let gap = false;
  const push = (token: Token) => {
    if (gap) token.gap = true;
    gap = false;
    out.push(token);
  };
  while (i < text.length && out.length < 20_000) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      gap = true;
      i++;
    } else if (c === '"') {
      let v = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        v += text[i++];
      }
      const token: Token = { t: 'quoted', v };
      if (i >= text.length) token.open = true;
      i++;
      push(token);
    } else if (c === '(') {
      let depth = 1;
      let v = '';
      i++;
      while (i < text.length && depth > 0) {
        const d = text[i]!;
        if (d === '\\' && i + 1 < text.length) {
          v += text[i + 1];
          i += 2;
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
        v += d;
        i++;
      }
      const token: Token = { t: 'comment', v: v.trim() };
      if (depth > 0) token.open = true;
      i++;
      push(token);
      gap = true;
    } else if (c === '[') {
      const end = text.indexOf(']', i);
      const stop = end < 0 ? text.length : end + 1;
      const token: Token = { t: 'literal', v: text.slice(i, stop) };
      if (end < 0) token.open = true;
      push(token);
      i = stop;
    } else if (SPECIALS.includes(c)) {
      push({ t: 'special', v: c });
      i++;
    } else {
      let j = i;
      while (j < text.length && !' \t\r\n"(['.includes(text[j]!) && !SPECIALS.includes(text[j]!)) j++;
      push({ t: 'atom', v: text.slice(i, j) });
      i = j;
    }
  }
  return out;
}

const isSpecial = (t: Token | undefined, v: string) => t?.t === 'special' && t.v === v;

/** Words of a phrase joined the way a reader would write them. */
function phrase(tokens: readonly Token[]): string | null {
  let out = '';
  for (const t of tokens) {
    if (t.t === 'comment') continue;
    if (t.t === 'special' && t.v === '.') {
      out += '.';
      continue;
    }
    if (t.t === 'special') continue;
    out += out && !out.endsWith('.') ? ' ' + t.v : t.v;
  }
  return out.length ? out : null;
}

// What a quoted local part may hold and still be written without quotes.
const UNQUOTED = /^[\x21\x23-\x27\x2a\x2b\x2d\x2f-\x39\x3d\x3f\x41-\x5a\x5e-\x7e.]+$/;

function localPart(tokens: readonly Token[]): string {
  return tokens
    .filter((t) => t.t !== 'comment')
    .map((t) => (t.t === 'quoted' ? (UNQUOTED.test(t.v) ? t.v : `"${t.v.replace(/(["\\])/g, '\\$1')}"`) : t.v))
    .join('');
}

/** `"john"@x` as `john@x` (RFC 5322 §3.4.1: the same address), as `parseAddressList` writes it. */
export function canonicalAddress(address: string): string {
  const m = /^"([^"\\]*)"(@.*)$/.exec(address);
  return m && UNQUOTED.test(m[1]!) ? `${m[1]}${m[2]}` : address;
}

function addrSpec(tokens: readonly Token[], name: string | null): EnvelopeAddress | null {
  let route: string | null = null;
  let rest = tokens;
  // obs-route: @a,@b:local@domain
  const colon = tokens.findIndex((t) => isSpecial(t, ':'));
  if (colon > 0 && isSpecial(tokens[0], '@')) {
    route = tokens
      .slice(0, colon)
      .filter((t) => t.t !== 'comment')
      .map((t) => t.v)
      .join('');
    rest = tokens.slice(colon + 1);
  }
  const meaningful = rest.filter((t) => t.t !== 'comment');
  if (meaningful.length === 0) return name ? { name, adl: route, mailbox: 'MISSING_MAILBOX', host: 'MISSING_DOMAIN' } : null;
  let at = -1;
  for (let i = rest.length - 1; i >= 0; i--) if (isSpecial(rest[i], '@')) {
    at = i;
    break;
  }
  const local = localPart(at < 0 ? rest : rest.slice(0, at)) || 'MISSING_MAILBOX';
  const host = at < 0 ? 'MISSING_DOMAIN' : localPart(rest.slice(at + 1)) || 'MISSING_DOMAIN';
  return { name, adl: route, mailbox: local, host };
}

function mailbox(tokens: readonly Token[]): EnvelopeAddress | null {
  const open = tokens.findIndex((t) => isSpecial(t, '<'));
  if (open >= 0) {
    let close = tokens.findIndex((t, i) => i > open && isSpecial(t, '>'));
    if (close < 0) close = tokens.length;
    const name = phrase(tokens.slice(0, open));
    return addrSpec(tokens.slice(open + 1, close), name);
  }
  // Old style: local@domain (Full Name)
  const comment = tokens.find((t) => t.t === 'comment' && t.v.length > 0);
  return addrSpec(tokens, comment ? comment.v : null);
}

export function parseAddressList(value: string | null): EnvelopeAddress[] {
  if (value === null) return [];
  const tokens = tokenize(value);
  const out: EnvelopeAddress[] = [];
  let unit: Token[] = [];
  let inAngle = false;
  let group: string | null = null;
  const flush = () => {
    if (unit.length && out.length < MAX_ADDRESSES) {
      const a = mailbox(unit);
      if (a) out.push(a);
    }
    unit = [];
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.t === 'special' && t.v === '<') inAngle = true;
    if (t.t === 'special' && t.v === '>') inAngle = false;
    if (!inAngle && isSpecial(t, ',')) {
      flush();
      continue;
    }
    // `name:` starts a group unless it is a route inside <…> or an obs-route at the start of a unit.
    if (!inAngle && isSpecial(t, ':') && group === null && !isSpecial(unit[0], '@')) {
      group = phrase(unit) ?? '';
      unit = [];
      out.push({ name: null, adl: null, mailbox: group, host: null });
      continue;
    }
    if (!inAngle && isSpecial(t, ';') && group !== null) {
      flush();
      out.push({ name: null, adl: null, mailbox: null, host: null });
      group = null;
      continue;
    }
    unit.push(t);
  }
  flush();
  if (group !== null) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}

// RFC 5322 §3.2.3 atext, and UTF-8 beyond ASCII (RFC 6532).
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+$/u;

/**
 * Whether `value` is a mailbox-list by RFC 5322 §3.4 (UTF-8 allowed, RFC 6532), read stricter than the
 * RFC where readers are known to differ: no obsolete forms (routes, empty list elements), no groups,
 * nothing unclosed, no blanks or comments inside an addr-spec, no local part that needs its quotes. A From or Sender that is not one is
 * refused at intake, so what policy checks is what every reader (DMARC, the mail client) reads.
 */
export function isStrictMailboxList(value: string): boolean {
  const all = tokenize(value);
  if (all.length >= 20_000 || all.some((t) => t.open)) return false;
  // Comments are CFWS: drop them and mark their place as a gap.
  const tokens: Token[] = [];
  let comment = false;
  for (const t of all) {
    if (t.t === 'comment') comment = true;
    else {
      tokens.push(comment && !t.gap ? { ...t, gap: true } : t);
      comment = false;
    }
  }
  let i = 0;
  const special = (v: string, at = i) => tokens[at]?.t === 'special' && tokens[at]!.v === v;
  const atom = (at = i) => tokens[at]?.t === 'atom' && ATEXT.test(tokens[at]!.v);
  const word = (at: number) => tokens[at]?.t === 'quoted' || atom(at);
  // dot-atom-text: atom *("." atom), nothing between them.
  const dotAtom = (): boolean => {
    if (!atom()) return false;
    i++;
    while (special('.') && !tokens[i]!.gap) {
      i++;
      if (!atom() || tokens[i]!.gap) return false;
      i++;
    }
    return true;
  };
  const addrSpec = (): boolean => {
    // A quoted local part only where the quotes change nothing: readers unquote the rest differently.
    if (tokens[i]?.t === 'quoted' && UNQUOTED.test(tokens[i]!.v)) i++;
    else if (!dotAtom()) return false;
    if (!special('@') || tokens[i]!.gap) return false;
    i++;
    if (!tokens[i] || tokens[i]!.gap) return false;
    if (tokens[i]!.t === 'literal') {
      i++;
      return true;
    }
    return dotAtom();
  };
  const angleAddr = (): boolean => {
    i++; // "<"
    // Nothing between the brackets and the address: readers disagree on a comment there (mailauth
    // reads `<a@x.example(c@d.example)>` as the domain `x.example(c@d.example)`).
    if (tokens[i]?.gap) return false;
    if (!addrSpec() || !special('>') || tokens[i]!.gap) return false;
    i++;
    return true;
  };
  const mailbox = (): boolean => {
    if (special('<')) return angleAddr();
    // A display name (words, and dots between them as in "J. Smith": RFC 5322 §4.1) before "<", or an addr-spec.
    let j = i;
    while (word(j) || (j > i && special('.', j))) j++;
    if (j > i && special('<', j)) {
      i = j;
      return angleAddr();
    }
    return addrSpec();
  };
  if (tokens.length === 0) return false;
  for (;;) {
    if (!mailbox()) return false;
    if (i === tokens.length) return true;
    if (!special(',')) return false;
    i++;
  }
}

export interface Mailboxes {
  /** `local@domain`, lower-cased, groups flattened, in order. */
  readonly addresses: string[];
  /** Entries that are no complete address (no local part or no domain). */
  readonly unusable: number;
}

/**
 * The mailboxes of an address-list field (From, Sender, To…) read exactly as ENVELOPE reads them
 * (`parseAddressList`), so the address SMTP policy checks is the address the reader is shown.
 */
export function mailboxesOf(value: string | null | undefined): Mailboxes {
  const addresses: string[] = [];
  let unusable = 0;
  for (const a of parseAddressList(value ?? null)) {
    if (a.host === null) continue; // a group's start or end
    if (a.mailbox === null || a.mailbox === 'MISSING_MAILBOX' || a.host === 'MISSING_DOMAIN') unusable++;
    else addresses.push(`${a.mailbox}@${a.host}`.toLowerCase());
  }
  return { addresses, unusable };
}

/** The complete mailboxes of an address-list field, lower-cased (see `mailboxesOf`). */
export function headerAddresses(value: string | null | undefined): string[] {
  return mailboxesOf(value).addresses;
}
