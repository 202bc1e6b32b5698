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

type Token = { t: 'atom' | 'quoted' | 'comment' | 'literal'; v: string } | { t: 'special'; v: string };

const MAX_ADDRESSES = 1000;
const SPECIALS = '<>,:;@.';

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length && out.length < 20_000) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '"') {
      let v = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        v += text[i++];
      }
      i++;
      out.push({ t: 'quoted', v });
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
      i++;
      out.push({ t: 'comment', v: v.trim() });
    } else if (c === '[') {
      const end = text.indexOf(']', i);
      const stop = end < 0 ? text.length : end + 1;
      out.push({ t: 'literal', v: text.slice(i, stop) });
      i = stop;
    } else if (SPECIALS.includes(c)) {
      out.push({ t: 'special', v: c });
      i++;
    } else {
      let j = i;
      while (j < text.length && !' \t\r\n"(['.includes(text[j]!) && !SPECIALS.includes(text[j]!)) j++;
      out.push({ t: 'atom', v: text.slice(i, j) });
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

function localPart(tokens: readonly Token[]): string {
  return tokens
    .filter((t) => t.t !== 'comment')
    .map((t) => (t.t === 'quoted' ? (/^[\x21\x23-\x27\x2a\x2b\x2d\x2f-\x39\x3d\x3f\x41-\x5a\x5e-\x7e.]+$/.test(t.v) ? t.v : `"${t.v.replace(/(["\\])/g, '\\$1')}"`) : t.v))
    .join('');
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
