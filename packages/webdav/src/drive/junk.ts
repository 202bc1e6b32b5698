/**
 * Files desktop clients write beside real ones: macOS AppleDouble (`._name`) and `.DS_Store`, Windows
 * `Thumbs.db` and `desktop.ini`, LibreOffice `.~lock.name#` and Office `~$name` owner files. The drive keeps
 * them (the client that wrote one reads it back by its path, and Finder fails when it cannot) but never
 * lists them, so they do not spread to every other client of a shared folder.
 */
const JUNK = [/^\._./, /^\.DS_Store$/, /^Thumbs\.db$/i, /^desktop\.ini$/i, /^\.~lock\..*#$/, /^~\$./, /^\.TemporaryItems$/, /^\.Trashes$/, /^\.fseventsd$/];

export function isJunkName(name: string): boolean {
  return JUNK.some((re) => re.test(name));
}
