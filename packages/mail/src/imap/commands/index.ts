import type { CommandDef } from '../command.js';
import { capabilityCommand, idCommand, logoutCommand, noopCommand } from './any-state.js';
import { authenticateCommand, loginCommand } from './auth.js';
import { compressCommand, enableCommand, starttlsCommand } from './transport.js';
import { checkCommand, closeCommand, examineCommand, selectCommand, unselectCommand } from './select.js';
import { createCommand, deleteCommand, renameCommand, subscribeCommand, unsubscribeCommand } from './mailboxes.js';
import { listCommand, lsubCommand, namespaceCommand } from './list.js';
import { statusCommand } from './status.js';
import { appendCommand } from './append.js';
import { fetchCommand, uidFetchCommand } from './fetch.js';
import { storeCommand, uidStoreCommand } from './store.js';
import { searchCommand, uidSearchCommand } from './search.js';
import { sortCommand, threadCommand, uidSortCommand, uidThreadCommand } from './sort.js';
import { copyCommand, moveCommand, uidCopyCommand, uidMoveCommand } from './copy-move.js';
import { expungeCommand, uidExpungeCommand } from './expunge.js';
import { idleCommand } from './idle.js';
import { notifyCommand } from './notify.js';
import { deleteaclCommand, getaclCommand, listrightsCommand, myrightsCommand, setaclCommand } from './acl.js';
import { getquotaCommand, getquotarootCommand, setquotaCommand } from './quota.js';
import { getmetadataCommand, setmetadataCommand } from './metadata.js';

/** Every command the server knows, by name (`UID FETCH` for UID forms). */
export const ALL_COMMANDS: readonly CommandDef<any>[] = [
  capabilityCommand,
  notifyCommand,
  noopCommand,
  logoutCommand,
  idCommand,
  starttlsCommand,
  loginCommand,
  authenticateCommand,
  enableCommand,
  compressCommand,
  selectCommand,
  examineCommand,
  unselectCommand,
  closeCommand,
  checkCommand,
  createCommand,
  deleteCommand,
  renameCommand,
  subscribeCommand,
  unsubscribeCommand,
  listCommand,
  lsubCommand,
  namespaceCommand,
  statusCommand,
  appendCommand,
  fetchCommand,
  uidFetchCommand,
  storeCommand,
  uidStoreCommand,
  searchCommand,
  uidSearchCommand,
  sortCommand,
  uidSortCommand,
  threadCommand,
  uidThreadCommand,
  copyCommand,
  uidCopyCommand,
  moveCommand,
  uidMoveCommand,
  expungeCommand,
  uidExpungeCommand,
  idleCommand,
  setaclCommand,
  deleteaclCommand,
  getaclCommand,
  listrightsCommand,
  myrightsCommand,
  getquotaCommand,
  getquotarootCommand,
  setquotaCommand,
  getmetadataCommand,
  setmetadataCommand,
];

export function commandRegistry(): ReadonlyMap<string, CommandDef<any>> {
  return new Map(ALL_COMMANDS.map((c) => [c.name, c]));
}
