import { describe, expect, it } from 'vitest';
import { planFolders, type LegacyFolder } from './folder-map.js';

const f = (path: string, flags: string[] = [], delimiter: string | null = '.', subscribed = true): LegacyFolder => ({
  path,
  delimiter,
  flags,
  subscribed,
});

describe('planFolders', () => {
  it('lands special-use folders in ours, their children under them, with our delimiter', () => {
    const plan = planFolders([
      f('INBOX'),
      f('INBOX.Factures'),
      f('Éléments envoyés', ['\\Sent']),
      f('Éléments envoyés.2019'),
      f('Corbeille', ['\\HasNoChildren', '\\Trash']),
      f('Brouillons', ['\\Drafts']),
      f('Indésirables', ['\\Junk']),
      f('Archives', ['\\Archive']),
      f('Projets.2024.Q1', [], '.', false),
      f('Projets', ['\\Noselect', '\\HasChildren']),
    ]);
    expect(plan.folders.map((p) => [p.legacy, p.target, p.specialUse, p.selectable, p.subscribed])).toEqual([
      ['Archives', 'Archive', '\\Archive', true, true],
      ['Brouillons', 'Drafts', '\\Drafts', true, true],
      ['INBOX', 'INBOX', null, true, true],
      ['Indésirables', 'Junk', '\\Junk', true, true],
      ['Projets', 'Projets', null, false, true],
      ['Éléments envoyés', 'Sent', '\\Sent', true, true],
      ['Corbeille', 'Trash', '\\Trash', true, true],
      ['INBOX.Factures', 'INBOX/Factures', null, true, true],
      ['Éléments envoyés.2019', 'Sent/2019', null, true, true],
      ['Projets.2024.Q1', 'Projets/2024/Q1', null, true, false],
    ]);
  });

  it('skips virtual folders (\\All, \\Flagged) that would copy messages twice', () => {
    const plan = planFolders([f('INBOX'), f('[Gmail]/All Mail', ['\\All'], '/'), f('[Gmail]/Starred', ['\\Flagged'], '/')]);
    expect(plan.folders.map((p) => p.target)).toEqual(['INBOX']);
    expect(plan.skipped.map((s) => s.legacy)).toEqual(['[Gmail]/All Mail', '[Gmail]/Starred']);
  });

  it('keeps the first folder of a special use; a second one keeps its own name', () => {
    const plan = planFolders([f('Sent', ['\\Sent']), f('Sent Items', ['\\Sent'])]);
    expect(plan.folders.map((p) => [p.legacy, p.target, p.specialUse])).toEqual([
      ['Sent', 'Sent', '\\Sent'],
      ['Sent Items', 'Sent Items', null],
    ]);
  });

  it('turns our delimiter inside a legacy name, empty components and INBOX in any case into valid names of ours', () => {
    const plan = planFolders([f('inbox'), f('Factures 2024/2025'), f('a..b'), f('Flat/name', [], null)]);
    expect(plan.folders.map((p) => p.target).sort()).toEqual(['Factures 2024-2025', 'Flat-name', 'INBOX', 'a/_/b']);
  });

  it('normalises names to NFC', () => {
    const decomposed = 'E\u0301te\u0301';
    expect(planFolders([f(decomposed)]).folders[0]!.target).toBe('\u00c9t\u00e9');
  });
});
