import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { IMAP_LOG_EVENTS } from './log-events.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

describe('IMAP log events', () => {
  it('every event the server logs is in the closed, exported set', () => {
    const used = new Set<string>();
    for (const file of sources(dirname(fileURLToPath(import.meta.url)))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(imap\.[a-z-]+)'/g)) used.add(m[1]!);
    }
    const known = new Set<string>(IMAP_LOG_EVENTS);
    expect([...used].filter((e) => !known.has(e))).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });
});
