import { describe, expect, it } from 'vitest';
import { headerColumns, normaliseHeader } from './columns.js';

describe('headerColumns', () => {
  it('matches English and French names whatever the case, accents and punctuation', () => {
    expect(normaliseHeader('  Adresse E-Mail ')).toBe('adresse e mail');
    expect(normaliseHeader('Nom d’affichage')).toBe("nom d'affichage");
    expect(headerColumns(['E-mail', 'Display_Name', 'MINISTÈRE', 'password_hash'], 1)).toEqual([
      'email',
      'name',
      'department',
      'password_hash',
    ]);
    expect(
      headerColumns(['Adresse électronique', 'Prénom', 'Nom', 'Département', 'Mot de passe', 'Groupes', 'Alias', 'Statut', 'Téléphone'], 1),
    ).toEqual(['email', 'given_name', 'name', 'department', 'password', 'groups', 'aliases', 'status', null]);
  });

  it('does not take a postal address for a mail address, nor guess between two columns', () => {
    expect(() => headerColumns(['Adresse', 'Nom'], 1)).toThrow(
      /line 1: the header must name an email column, e.g. email or courriel \(found: Adresse, Nom\)/,
    );
    expect(() => headerColumns(['Mail', 'Nom', 'Nom complet'], 3)).toThrow(
      /line 3: the header names the name column more than once \(Nom, Nom complet\)/,
    );
  });
});
