/**
 * Header names of the account import, in English and in French as an administration's spreadsheet has
 * them. Matching ignores case, accents, surrounding spaces and the difference between spaces, `_`, `-`
 * and `.` (so `E-mail`, `e_mail` and `E mail` are one name, `Département` is `departement`).
 */

export type Column =
  'email' | 'name' | 'given_name' | 'department' | 'quota' | 'password' | 'password_hash' | 'groups' | 'aliases' | 'status';

const NAMES: Record<Column, string[]> = {
  email: [
    'email',
    'e mail',
    'mail',
    'address',
    'email address',
    'courriel',
    'adresse courriel',
    'adresse mail',
    'adresse e mail',
    'adresse electronique',
    'mel',
  ],
  name: ['name', 'display name', 'displayname', 'full name', 'nom', 'nom complet', "nom d'affichage"],
  given_name: ['given name', 'first name', 'firstname', 'prenom'],
  department: ['department', 'ministry', 'service', 'direction', 'departement', 'ministere'],
  quota: ['quota'],
  password: ['password', 'mot de passe', 'mdp'],
  password_hash: ['password hash'],
  groups: ['groups', 'groupes'],
  aliases: ['aliases', 'alias'],
  status: ['status', 'statut'],
};

const BY_NAME = new Map(Object.entries(NAMES).flatMap(([column, names]) => names.map((n) => [n, column as Column])));

export function normaliseHeader(name: string): string {
  return name
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[\u2019`]/g, "'")
    .replace(/[\s_.-]+/g, ' ')
    .trim();
}

/**
 * The column each header cell names (null for columns the import ignores). A field named twice is an
 * error rather than a guess, and so is a header without an email column.
 */
export function headerColumns(cells: string[], line: number): (Column | null)[] {
  const columns = cells.map((cell) => BY_NAME.get(normaliseHeader(cell)) ?? null);
  for (const column of new Set(columns)) {
    if (column === null) continue;
    const named = cells.filter((_, i) => columns[i] === column);
    if (named.length > 1)
      throw new Error(
        `line ${line}: the header names the ${column.replace('_', ' ')} column more than once (${named.join(', ')}): keep one`,
      );
  }
  if (!columns.includes('email')) {
    throw new Error(
      `line ${line}: the header must name an email column, e.g. email or courriel (found: ${cells.slice(0, 10).join(', ').slice(0, 200)})`,
    );
  }
  return columns;
}
