import type { ArgReader } from './arguments.js';
import type { SectionText } from './body-sections.js';
import { SyntaxError } from './errors.js';

export type SimpleItem = 'UID' | 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'MODSEQ' | 'SAVEDATE';

export interface SectionItem {
  readonly kind: 'section';
  /** BODY, BINARY, or the RFC822 forms (answered under their own names). */
  readonly name: 'BODY' | 'BINARY' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT';
  readonly peek: boolean;
  readonly path: readonly number[];
  readonly text: SectionText;
  readonly fields: readonly string[];
  readonly partial: { readonly start: number; readonly length: number } | null;
}

export type FetchItem = { readonly kind: SimpleItem } | SectionItem | { readonly kind: 'BINARY.SIZE'; readonly path: readonly number[] };

export interface FetchRequest {
  readonly items: readonly FetchItem[];
  readonly changedSince: number | null;
  readonly vanished: boolean;
}

const MACROS: Record<string, SimpleItem[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};
const SIMPLE = new Set<string>(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'MODSEQ', 'SAVEDATE']);
const MAX_ITEMS = 100;
const MAX_PATH = 20;

function sectionPart(r: ArgReader): number[] {
  const path: number[] = [];
  while (r.peek() >= 0x31 && r.peek() <= 0x39) {
    path.push(r.nzNumber('part number'));
    if (path.length > MAX_PATH) throw new SyntaxError('Section path too deep');
    if (!r.maybe('.')) break;
  }
  return path;
}

/** section = "[" [section-spec] "]" */
function section(r: ArgReader, binary: boolean): { path: number[]; text: SectionText; fields: string[] } {
  r.expect('[');
  const path = sectionPart(r);
  let text: SectionText = null;
  let fields: string[] = [];
  if (r.peek() !== 0x5d) {
    if (binary) throw new SyntaxError('BINARY takes only a part number');
    const t = r.atom('section text').toUpperCase();
    if (t === 'HEADER' || t === 'TEXT') text = t;
    else if (t === 'MIME' && path.length) text = 'MIME';
    else if (t === 'HEADER.FIELDS' || t === 'HEADER.FIELDS.NOT') {
      text = t;
      r.sp();
      fields = r.list(() => r.astring('header field name'), { allowEmpty: false });
      if (fields.some((f) => !/^[\x21-\x39\x3b-\x7e]+$/.test(f))) throw new SyntaxError('Invalid header field name');
    } else throw new SyntaxError('Invalid section');
  }
  r.expect(']');
  return { path, text, fields };
}

function partial(r: ArgReader): { start: number; length: number } | null {
  if (!r.maybe('<')) return null;
  const start = r.number('partial origin');
  r.expect('.');
  const length = r.nzNumber('partial length');
  r.expect('>');
  return { start, length };
}

function item(r: ArgReader): FetchItem {
  const word = r.fetchAtom().toUpperCase();
  if (SIMPLE.has(word)) return { kind: word as SimpleItem };
  switch (word) {
    case 'BODY':
    case 'BODY.PEEK': {
      if (r.peek() !== 0x5b) {
        if (word === 'BODY.PEEK') throw new SyntaxError('BODY.PEEK needs a section');
        return { kind: 'BODY' };
      }
      const s = section(r, false);
      return { kind: 'section', name: 'BODY', peek: word === 'BODY.PEEK', ...s, partial: partial(r) };
    }
    case 'BINARY':
    case 'BINARY.PEEK': {
      const s = section(r, true);
      return { kind: 'section', name: 'BINARY', peek: word === 'BINARY.PEEK', ...s, partial: partial(r) };
    }
    case 'BINARY.SIZE':
      return { kind: 'BINARY.SIZE', path: section(r, true).path };
    case 'RFC822':
      return { kind: 'section', name: 'RFC822', peek: false, path: [], text: null, fields: [], partial: null };
    case 'RFC822.HEADER':
      return { kind: 'section', name: 'RFC822.HEADER', peek: true, path: [], text: 'HEADER', fields: [], partial: null };
    case 'RFC822.TEXT':
      return { kind: 'section', name: 'RFC822.TEXT', peek: false, path: [], text: 'TEXT', fields: [], partial: null };
    default:
      throw new SyntaxError(`Unknown fetch item ${word.slice(0, 30)}`);
  }
}

/** FETCH arguments after the sequence set: a macro, one item, or a list; then optional modifiers. */
/** A parenthesized fetch-att list alone (RFC 5465 MessageNew's), no macros or modifiers; BODY[] read as BODY.PEEK[]. */
export function parseFetchAttList(r: ArgReader): FetchRequest {
  const items = r.list(() => item(r), { allowEmpty: false });
  if (items.length > MAX_ITEMS) throw new SyntaxError('Too many fetch items');
  // A notification is not a read: it must not set \Seen behind the user's back.
  return { items: items.map((i) => (i.kind === 'section' ? { ...i, peek: true } : i)), changedSince: null, vanished: false };
}

export function parseFetchItems(r: ArgReader, byUid: boolean): FetchRequest {
  let items: FetchItem[];
  if (r.peek() === 0x28) items = r.list(() => item(r), { allowEmpty: false });
  else {
    const macro = MACROS[r.peekAtom().toUpperCase()];
    if (macro) {
      r.atom();
      items = macro.map((kind) => ({ kind }));
    } else items = [item(r)];
  }
  if (items.length > MAX_ITEMS) throw new SyntaxError('Too many fetch items');
  let changedSince: number | null = null;
  let vanished = false;
  if (r.maybeSp()) {
    r.list(() => {
      const m = r.atom('fetch modifier').toUpperCase();
      if (m === 'CHANGEDSINCE') {
        r.sp();
        changedSince = r.number('mod-sequence');
      } else if (m === 'VANISHED') {
        if (!byUid) throw new SyntaxError('VANISHED needs UID FETCH');
        vanished = true;
      } else throw new SyntaxError('Unknown fetch modifier');
    }, { allowEmpty: false });
    if (vanished && changedSince === null) throw new SyntaxError('VANISHED needs CHANGEDSINCE');
  }
  r.end();
  return { items, changedSince, vanished };
}

/** The name a section is answered under (`BODY[HEADER.FIELDS (SUBJECT)]<0>`). */
export function sectionLabel(item: SectionItem): string {
  if (item.name === 'RFC822' || item.name === 'RFC822.HEADER' || item.name === 'RFC822.TEXT') return item.name;
  let spec = item.path.join('.');
  if (item.text) spec += (spec ? '.' : '') + item.text;
  if (item.fields.length) spec += ` (${item.fields.map((f) => f.toUpperCase()).join(' ')})`;
  return `${item.name}[${spec}]${item.partial ? `<${item.partial.start}>` : ''}`;
}
