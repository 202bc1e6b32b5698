import { normalizeUidSet } from '@palabre/core';
import { SyntaxError } from './errors.js';

/** Inclusive range, ascending after normalisation. */
export type Range = [number, number];

export const MAX_SET_RANGES = 100_000;

const SINGLE = /^[1-9][0-9]{0,9}$/;

/** A number that SINGLE matched, within the 32 bits a sequence number or UID has. */
function sequenceNumber(digits: string): number {
  const n = Number(digits);
  if (n > 0xffffffff) throw new SyntaxError('Sequence number out of range');
  return n;
}

/**
 * Parse `1:3,5,7:*` (RFC 9051 sequence-set). `*` stands for `star` (the highest sequence number or
 * UID in use); a range may be written backwards. `$` (RFC 5182 SEARCHRES) is resolved by the caller
 * and must not reach here. Returns merged, ascending ranges; empty when the mailbox is empty and the
 * set only names `*`.
 */
export function parseSequenceSet(text: string, star: number): Range[] {
  if (text.length === 0 || text.length > 1_000_000) throw new SyntaxError('Invalid sequence set');
  // By far the most common set: one number (a client fetching or flagging one message).
  if (SINGLE.test(text)) {
    const n = sequenceNumber(text);
    return [[n, n]];
  }
  const pieces = text.split(',');
  if (pieces.length > MAX_SET_RANGES) throw new SyntaxError('Sequence set too long');
  const ranges: Range[] = [];
  for (const piece of pieces) {
    const bounds = piece.split(':');
    if (bounds.length > 2) throw new SyntaxError('Invalid sequence range');
    const values = bounds.map((b) => {
      if (b === '*') return star;
      if (!SINGLE.test(b)) throw new SyntaxError('Invalid sequence number');
      return sequenceNumber(b);
    });
    const a = values[0]!;
    const b = values[1] ?? a;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    if (hi === 0) continue; // `*` in an empty mailbox
    ranges.push([Math.max(lo, 1), hi]);
  }
  return mergeRanges(ranges);
}

/** Sorted and merged (core's UID-set rule: the same for sequence numbers). */
export function mergeRanges(ranges: Range[]): Range[] {
  return normalizeUidSet(ranges);
}

/** `1:3,5` from ascending numbers (responses: COPYUID, ESEARCH ALL, VANISHED). */
export function formatSet(values: Iterable<number>): string {
  const out: string[] = [];
  let start = -1;
  let prev = -1;
  for (const v of values) {
    if (start < 0) {
      start = prev = v;
    } else if (v === prev + 1) {
      prev = v;
    } else {
      out.push(start === prev ? String(start) : `${start}:${prev}`);
      start = prev = v;
    }
  }
  if (start >= 0) out.push(start === prev ? String(start) : `${start}:${prev}`);
  return out.join(',');
}

export function inRanges(ranges: readonly Range[], n: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (n < r[0]) hi = mid - 1;
    else if (n > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}
