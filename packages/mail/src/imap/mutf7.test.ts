import { describe, expect, it } from 'vitest';
import { decodeMutf7, encodeMutf7 } from './mutf7.js';

describe('modified UTF-7', () => {
  it('round-trips names with accents, CJK, emoji and ampersands', () => {
    for (const name of ['Réunions', '日本語', 'Tom & Jerry', '✉ Courrier/Été 2025', '😀', 'plain', '&', 'a&b&c']) {
      const wire = encodeMutf7(name);
      expect(wire).toMatch(/^[\x20-\x7e]*$/);
      expect(decodeMutf7(wire)).toBe(name);
    }
    expect(encodeMutf7('Réunions')).toBe('R&AOk-unions');
    expect(encodeMutf7('~peter/mail/台北/日本語')).toBe('~peter/mail/&U,BTFw-/&ZeVnLIqe-');
  });

  it('refuses what a conforming client cannot send', () => {
    for (const bad of ['&', '&Jjo', '&AGE-', '&Jjo!-', 'caf\u00e9', '&AOk-&AOk-', '&2D3-', '&AO-', '\u0001']) expect(decodeMutf7(bad)).toBeNull();
  });
});
