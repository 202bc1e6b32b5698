import type { PartNode } from '../mime/types.js';

export type SectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME' | null;

/** Where a section's bytes are in the message, and whether they are a header to filter. */
export type SectionRange =
  | { readonly kind: 'range'; readonly start: number; readonly end: number; readonly node: PartNode | null; readonly topHeader: boolean }
  | { readonly kind: 'missing' };

/**
 * The part a section path names (RFC 9051 §6.4.5): parts of a multipart by position, the body of a
 * non-multipart as part 1, and through a message/rfc822 part into the message it holds.
 */
export function findPart(root: PartNode, path: readonly number[]): PartNode | null {
  let node: PartNode = root;
  for (let i = 0; i < path.length; i++) {
    const n = path[i]!;
    // Inside a message/rfc822 part, numbering continues in the enclosed message (not for the top level).
    const container = i > 0 && node.m ? node.m : node;
    if (container.c) {
      const child = container.c[n - 1];
      if (!child) return null;
      node = child;
    } else {
      if (n !== 1) return null;
      node = container;
    }
  }
  return node;
}

/** Byte range of a section, given the message's stored part tree. */
export function sectionRange(root: PartNode, size: number, path: readonly number[], text: SectionText): SectionRange {
  if (path.length === 0) {
    if (text === null) return { kind: 'range', start: 0, end: size, node: root, topHeader: false };
    if (text === 'TEXT') return { kind: 'range', start: root.bs, end: size, node: root, topHeader: false };
    if (text === 'MIME') return { kind: 'missing' };
    return { kind: 'range', start: 0, end: root.bs, node: root, topHeader: true };
  }
  const part = findPart(root, path);
  if (!part) return { kind: 'missing' };
  if (text === null) return { kind: 'range', start: part.bs, end: part.be, node: part, topHeader: false };
  // MIME header of the part itself; for part 1 of a single-part message that is the message header.
  if (text === 'MIME') return { kind: 'range', start: part.hs, end: part.bs, node: part, topHeader: part === root };
  // HEADER/TEXT address the message inside a message/rfc822 part.
  const inner = part.m;
  if (!inner) return { kind: 'missing' };
  if (text === 'TEXT') return { kind: 'range', start: inner.bs, end: inner.be, node: inner, topHeader: false };
  return { kind: 'range', start: inner.hs, end: inner.bs, node: inner, topHeader: false };
}
