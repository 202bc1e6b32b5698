import { DavError } from './errors.js';

/**
 * The one XML codec of the package. Parsing: namespaces (XML Namespaces 1.0), the five predefined entities
 * and character references only; any DOCTYPE (so any DTD, internal entity or external entity) is refused,
 * as are undeclared prefixes, prefixes bound to "", malformed characters and documents too deep or too big.
 * Serializing: text and attribute escaping, and self-contained fragments for dead properties.
 */

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export interface XmlAttribute {
  readonly ns: string;
  readonly name: string;
  readonly value: string;
}

export interface XmlElement {
  readonly ns: string;
  readonly name: string;
  readonly attributes: readonly XmlAttribute[];
  readonly children: readonly XmlNode[];
}

export type XmlNode = XmlElement | string;

export interface XmlLimits {
  maxDepth?: number;
  maxNodes?: number;
  maxAttributes?: number;
}

const bad = (message: string) => new DavError(400, `malformed XML: ${message}`);

const NAME = /[A-Za-z_\u00C0-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\uD800-\uDBFF][\w.\-:\u00B7\u00C0-\u02FF\u0300-\u037D\u037F-\u1FFF\u200C\u200D\u203F\u2040\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\uD800-\uDFFF]*/y;
// Characters XML 1.0 does not allow anywhere (C0 controls but tab, LF, CR; lone surrogates; U+FFFE/F).
const ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

interface OpenElement {
  ns: string;
  name: string;
  qname: string;
  attributes: XmlAttribute[];
  children: XmlNode[];
  scope: Map<string, string>;
}

/** Parse a whole document (UTF-8 bytes or text) into its root element. Throws DavError(400). */
export function parseXml(input: Uint8Array | string, limits: XmlLimits = {}): XmlElement {
  const maxDepth = limits.maxDepth ?? 64;
  const maxNodes = limits.maxNodes ?? 200_000;
  const maxAttributes = limits.maxAttributes ?? 64;
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = utf8.decode(input);
    } catch {
      throw bad('not UTF-8');
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (ILLEGAL.test(text)) throw bad('characters XML does not allow');

  let i = 0;
  let nodes = 0;
  const stack: OpenElement[] = [];
  let root: XmlElement | null = null;
  const rootScope = new Map<string, string>([
    ['xml', XML_NS],
    ['', ''],
  ]);

  const skipSpace = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const readName = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) throw bad(`name expected at ${i}`);
    i += m[0].length;
    return m[0];
  };
  const decode = (raw: string): string => {
    if (!raw.includes('&')) return raw;
    return raw.replace(/&([^;&\s]{0,32});?/g, (whole, ref: string) => {
      if (!whole.endsWith(';')) throw bad('unterminated reference');
      if (ref.startsWith('#')) {
        const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
        const ok =
          /^#(x[0-9a-fA-F]{1,6}|[0-9]{1,7})$/.test(ref) &&
          (code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff));
        if (!ok) throw bad('invalid character reference');
        return String.fromCodePoint(code);
      }
      const value = PREDEFINED[ref];
      if (value === undefined) throw bad('entities are not allowed');
      return value;
    });
  };
  const skipMisc = (allowDecl: boolean) => {
    for (;;) {
      skipSpace();
      if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i + 2);
        if (end < 0) throw bad('unterminated processing instruction');
        const body = text.slice(i + 2, end);
        if (/^xml(\s|$)/i.test(body)) {
          if (!allowDecl || i !== 0) throw bad('misplaced XML declaration');
          const enc = /encoding\s*=\s*["']([^"']*)["']/.exec(body)?.[1];
          if (enc && !/^(utf-?8|us-ascii|ascii)$/i.test(enc)) throw new DavError(415, `XML encoding ${enc.slice(0, 20)} is not supported; use UTF-8`);
        }
        i = end + 2;
        allowDecl = false;
      } else if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i + 4);
        if (end < 0) throw bad('unterminated comment');
        i = end + 3;
      } else if (text.startsWith('<!', i)) {
        throw bad('DTDs and entity declarations are not allowed');
      } else return;
      allowDecl = false;
    }
  };
  const resolve = (prefix: string, scope: Map<string, string>, what: string): string => {
    const ns = scope.get(prefix);
    if (ns === undefined) throw bad(`undeclared namespace prefix in ${what}`);
    return ns;
  };

  skipMisc(true);
  if (text[i] !== '<') throw bad('no root element');
  while (i < text.length) {
    if (text[i] !== '<') {
      const next = text.indexOf('<', i);
      const raw = text.slice(i, next < 0 ? text.length : next);
      if (stack.length === 0) {
        if (raw.trim()) throw bad('text outside the root element');
      } else {
        if (++nodes > maxNodes) throw bad('too many nodes');
        stack[stack.length - 1]!.children.push(decode(raw));
      }
      if (next < 0) break;
      i = next;
      continue;
    }
    if (stack.length === 0 && root) {
      skipMisc(false);
      if (i < text.length) throw bad('content after the root element');
      break;
    }
    if (text.startsWith('<!--', i) || text.startsWith('<?', i)) {
      if (text.startsWith('<?xml', i) && /\s/.test(text[i + 5] ?? '')) throw bad('misplaced XML declaration');
      const end = text.startsWith('<!--', i) ? text.indexOf('-->', i + 4) : text.indexOf('?>', i + 2);
      if (end < 0) throw bad('unterminated comment or processing instruction');
      i = end + (text.startsWith('<!--', i) ? 3 : 2);
      continue;
    }
    if (text.startsWith('<![CDATA[', i)) {
      if (stack.length === 0) throw bad('CDATA outside the root element');
      const end = text.indexOf(']]>', i + 9);
      if (end < 0) throw bad('unterminated CDATA');
      stack[stack.length - 1]!.children.push(text.slice(i + 9, end));
      i = end + 3;
      continue;
    }
    if (text.startsWith('<!', i)) throw bad('DTDs and entity declarations are not allowed');
    if (text[i + 1] === '/') {
      i += 2;
      const qname = readName();
      skipSpace();
      if (text[i] !== '>') throw bad('malformed end tag');
      i++;
      const open = stack.pop();
      if (!open || open.qname !== qname) throw bad('mismatched end tag');
      const done: XmlElement = { ns: open.ns, name: open.name, attributes: open.attributes, children: open.children };
      if (stack.length) stack[stack.length - 1]!.children.push(done);
      else root = done;
      continue;
    }
    // Start tag.
    i++;
    const qname = readName();
    const raw: [string, string][] = [];
    for (;;) {
      const before = i;
      skipSpace();
      if (text[i] === '>' || text.startsWith('/>', i)) break;
      if (i === before) throw bad('space expected between attributes');
      const an = readName();
      skipSpace();
      if (text[i] !== '=') throw bad('attribute without value');
      i++;
      skipSpace();
      const quote = text[i];
      if (quote !== '"' && quote !== "'") throw bad('unquoted attribute value');
      const end = text.indexOf(quote, i + 1);
      if (end < 0) throw bad('unterminated attribute value');
      const value = text.slice(i + 1, end);
      if (value.includes('<')) throw bad('"<" in an attribute value');
      raw.push([an, decode(value).replace(/[\t\n\r]/g, ' ')]);
      i = end + 1;
      if (raw.length > maxAttributes) throw bad('too many attributes');
    }
    const selfClosing = text[i] === '/';
    i += selfClosing ? 2 : 1;
    if (stack.length + 1 > maxDepth) throw bad('nested too deeply');
    if (++nodes > maxNodes) throw bad('too many nodes');
    const parentScope = stack.length ? stack[stack.length - 1]!.scope : rootScope;
    let scope = parentScope;
    const seen = new Set<string>();
    for (const [an, value] of raw) {
      if (seen.has(an)) throw bad('duplicate attribute');
      seen.add(an);
      if (an === 'xmlns' || an.startsWith('xmlns:')) {
        const prefix = an === 'xmlns' ? '' : an.slice(6);
        if (prefix === 'xmlns' || (prefix === 'xml' && value !== XML_NS)) throw bad('reserved prefix');
        if (prefix !== '' && value === '') throw bad('a prefix cannot be bound to the empty namespace');
        if (value === XMLNS_NS || (value === XML_NS && prefix !== 'xml')) throw bad('reserved namespace');
        if (scope === parentScope) scope = new Map(parentScope);
        scope.set(prefix, value);
      }
    }
    const colon = qname.indexOf(':');
    const prefix = colon < 0 ? '' : qname.slice(0, colon);
    const local = colon < 0 ? qname : qname.slice(colon + 1);
    if (!local || local.includes(':')) throw bad('malformed qualified name');
    const ns = resolve(prefix, scope, 'an element');
    const attributes: XmlAttribute[] = [];
    const expanded = new Set<string>();
    for (const [an, value] of raw) {
      if (an === 'xmlns' || an.startsWith('xmlns:')) continue;
      const c = an.indexOf(':');
      const ans = c < 0 ? '' : resolve(an.slice(0, c), scope, 'an attribute');
      const aname = c < 0 ? an : an.slice(c + 1);
      if (!aname || aname.includes(':')) throw bad('malformed attribute name');
      const key = `{${ans}}${aname}`;
      if (expanded.has(key)) throw bad('duplicate attribute');
      expanded.add(key);
      attributes.push({ ns: ans, name: aname, value });
    }
    const open: OpenElement = { ns, name: local, qname, attributes, children: [], scope };
    if (selfClosing) {
      const done: XmlElement = { ns, name: local, attributes, children: [] };
      if (stack.length) stack[stack.length - 1]!.children.push(done);
      else root = done;
    } else stack.push(open);
  }
  if (stack.length || !root) throw bad('unexpected end of document');
  return root;
}

// ---------------------------------------------------------------- helpers on the tree

export function clark(el: { ns: string; name: string }): string {
  return `{${el.ns}}${el.name}`;
}

export function parseClark(name: string): { ns: string; name: string } {
  const end = name.indexOf('}');
  return { ns: name.slice(1, end), name: name.slice(end + 1) };
}

export function elements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}

export function child(el: XmlElement, ns: string, name: string): XmlElement | undefined {
  return elements(el).find((c) => c.ns === ns && c.name === name);
}

export function textOf(el: XmlElement): string {
  return el.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}

export function attribute(el: XmlElement, ns: string, name: string): string | undefined {
  return el.attributes.find((a) => a.ns === ns && a.name === name)?.value;
}

// ---------------------------------------------------------------- writing

const ATTR_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

/**
 * Characters XML 1.0 cannot carry at all, not even as references (§2.2): C0 controls but tab, line
 * feed and carriage return, U+FFFE/U+FFFF and lone surrogates. A stored name or value holding one
 * (a file name from an old client, a calendar's text) is written as U+FFFD, so no answer is ever a
 * document a client's parser refuses.
 */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function xmlSafe(s: string): string {
  NOT_XML.lastIndex = 0;
  return NOT_XML.test(s) ? s.replace(NOT_XML, '\ufffd') : s;
}

/**
 * Anything escapeText or escapeAttr would change, or a surrogate (checked further by xmlSafe): most values
 * (etags, dates, sizes, file names) hold none, and then one scan answers them as they are.
 */
// eslint-disable-next-line no-control-regex
const TEXT_DIRTY = /[&<>\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;
// eslint-disable-next-line no-control-regex
const UNSAFE_SUSPECT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;
// eslint-disable-next-line no-control-regex
const ATTR_DIRTY = /[&<"\t\n\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;

export function escapeText(s: string): string {
  if (!TEXT_DIRTY.test(s)) return s;
  // Calendar and address data (CRLF lines) land here: one native replace per character present, no
  // callback per line, and the scan for what XML cannot carry only when a suspect character is there.
  let out = UNSAFE_SUSPECT.test(s) ? xmlSafe(s) : s;
  if (out.includes('&')) out = out.replaceAll('&', '&amp;');
  if (out.includes('<')) out = out.replaceAll('<', '&lt;');
  if (out.includes('>')) out = out.replaceAll('>', '&gt;');
  if (out.includes('\r')) out = out.replaceAll('\r', '&#13;');
  return out;
}

export function escapeAttr(s: string): string {
  if (!ATTR_DIRTY.test(s)) return s;
  const safe = xmlSafe(s);
  return /[&<"\t\n\r]/.test(safe) ? safe.replace(/[&<"\t\n\r]/g, (c) => ATTR_ESCAPES[c]!) : safe;
}

/**
 * A self-contained serialization of an element: it declares the namespaces it uses (its own as the default
 * namespace, attribute namespaces as a0, a1… prefixes), so it can be stored and later embedded anywhere.
 */
export function serializeElement(el: XmlElement, inheritedDefault: string | null = null): string {
  let out = `<${el.name}`;
  if (el.ns !== inheritedDefault) out += ` xmlns="${escapeAttr(el.ns)}"`;
  const prefixes = new Map<string, string>();
  for (const a of el.attributes) {
    if (a.ns === '') out += ` ${a.name}="${escapeAttr(a.value)}"`;
    else if (a.ns === XML_NS) out += ` xml:${a.name}="${escapeAttr(a.value)}"`;
    else {
      let p = prefixes.get(a.ns);
      if (!p) {
        p = `a${prefixes.size}`;
        prefixes.set(a.ns, p);
        out += ` xmlns:${p}="${escapeAttr(a.ns)}"`;
      }
      out += ` ${p}:${a.name}="${escapeAttr(a.value)}"`;
    }
  }
  if (el.children.length === 0) return `${out}/>`;
  out += '>';
  for (const c of el.children) out += typeof c === 'string' ? escapeText(c) : serializeElement(c, el.ns);
  return `${out}</${el.name}>`;
}

/** An element built in code, for property values and reports. */
export function element(ns: string, name: string, children: readonly XmlNode[] = [], attributes: readonly XmlAttribute[] = []): XmlElement {
  return { ns, name, attributes, children };
}
