export { createDavHandler, DavEngine, davTopic } from './engine.js';
export type { DavHandler, DavHandlerOptions } from './engine.js';
export type { DavPlugin, DavPluginHost } from './plugin.js';
export { rfc4918Plugin } from './rfc4918.js';
export { VersionedCache } from './versioned-cache.js';
export {
  requirePrivilege,
  depthOf,
  overwriteOf,
  destinationOf,
  ifHeaderOf,
  conditionalOf,
  answeredNotModified,
  readXmlBody,
  ifMatchOf,
  preferMinimal,
  privilegeXml,
} from './request.js';
export { renderResponses, renderResponseList, propRequestOf, parsePropfind, statusResponse } from './propstat.js';
export type { PropRequest, RenderOptions } from './propstat.js';
export { extendedMkcol, sendRooted } from './extended-mkcol.js';
export type { ExtendedMkcolOptions } from './extended-mkcol.js';
export { DAV_PRIVILEGES, privilegesXml, aceXml, iso } from './properties.js';
export type { PrivilegeDefinition } from './properties.js';
export { parsePropertyUpdate, toPatch } from './proppatch.js';
export { DavError, PropertyPatchError, toDavError, DAV } from './errors.js';
export { USER_CONTENT_CSP, dispositionOf, isActiveType } from './content-disposition.js';
export type { DavErrorOptions } from './errors.js';
export { DAV_LOG_EVENTS } from './log-events.js';
export type { DavLogEvent } from './log-events.js';
export { LockManager } from './lock.js';
export type { LockOptions } from './lock.js';
export { davPath, hrefOf, encodeSegment, parseTarget, canonicalAddress, MAX_PATH_BYTES, MAX_PATH_DEPTH } from './href.js';
export type { DavPath } from './href.js';
export { parseXml, serializeElement, element, escapeText, escapeAttr, XML_NS, clark, parseClark, elements, child, textOf, attribute } from './xml-codec.js';
export type { XmlElement, XmlNode, XmlAttribute, XmlLimits } from './xml-codec.js';
export { parseIfHeader, evaluateIf, submittedTokens } from './if-header.js';
export type { IfList, IfCondition } from './if-header.js';
export { READ_ONLY, READ_WRITE, ALL_PRIVILEGES, NO_PRIVILEGES, virtualCollection } from './resource.js';
export type {
  DavBackend,
  DavContext,
  DavLookup,
  DavResource,
  Privilege,
  PropertyDefinition,
  PropertyValue,
  DavPrivilege,
  DavServices,
  DavHooks,
  DavLimits,
  DavChange,
  ContentWrite,
  MethodHandler,
  ReportHandler,
  ReportDefinition,
  PostHandler,
  PrincipalUrls,
  PrincipalExtension,
  PrincipalSearchProperty,
  NewCollectionOptions,
  WriteRequest,
  TransferRequest,
  Ace,
} from './resource.js';
export { hrefXml, statusXml, XmlStream, Namespaces, sendXml } from './multistatus.js';
export { sendLockDiscovery, lockApplies } from './lock.js';
export { principalsPlugin, PrincipalsBackend, findVisibleAccount, findVisibleGroup } from './principals.js';
export { MAX_PRINCIPAL_MATCHES, DAV_SEARCH_PROPERTIES } from './principal-reports.js';
export { drivePlugin, OC, NC } from './drive/drive-plugin.js';
export type { DrivePlugin, DrivePluginOptions } from './drive/drive-plugin.js';
export { DriveBackend, etagOf, parseMtime, writeDriveFile } from './drive/drive-backend.js';
export type { DriveBackendOptions, DriveData, DriveUpload, DriveWriteOptions } from './drive/drive-backend.js';
export { collectDriveGarbage } from './drive/gc.js';
export type { DriveGcOptions, DriveGcResult } from './drive/gc.js';
export { isJunkName } from './drive/junk.js';
