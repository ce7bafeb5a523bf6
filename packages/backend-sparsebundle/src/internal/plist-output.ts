import { CacheVolumeError } from '@cachevol/core';
import { type PlistValue, parse, parseBinary } from 'plist';

/** `content-hint` of the synthesized APFS container disk an APFS image brings up. */
export const APFS_CONTAINER_HINT = 'EF57347C-0000-11AA-AA11-00306543ECAC';
/** `content-hint` of an APFS volume inside that container. */
export const APFS_VOLUME_HINT = '41504653-0000-11AA-AA11-00306543ECAC';

const WHOLE_DISK = /^\/dev\/disk[0-9]+$/;
const ANY_DISK = /^\/dev\/disk[0-9]+(s[0-9]+)*$/;

/** One entry of `system-entities`: a disk, partition or volume that an image brought up. */
export interface SystemEntity {
  /** `dev-entry`, e.g. `/dev/disk4s1`. */
  devEntry: string;
  /** `content-hint`: `GUID_partition_scheme`, `Apple_APFS`, an APFS GUID… */
  contentHint?: string;
  /** `mount-point`, when the entity is a mounted volume. */
  mountPoint?: string;
}

/** What one attached image looks like, from `hdiutil attach -plist` or `hdiutil info -plist`. */
export interface Attachment {
  /** Every entity, in hdiutil's order. */
  entities: SystemEntity[];
  /** The image's own whole disk (what `hdiutil detach` takes), e.g. `/dev/disk4`. */
  device: string;
  /** The synthesized APFS container disk, e.g. `/dev/disk5`, when there is one. */
  containerDevice?: string;
  /** The volume's disk, e.g. `/dev/disk5s1`. */
  volumeDevice?: string;
  /** Where the volume is mounted, when it is. */
  mountPoint?: string;
}

/** One image from `hdiutil info -plist`. */
export interface AttachedImage extends Attachment {
  /** `image-path`: the bundle the image was attached from. */
  imagePath: string;
  /** `writeable`, when hdiutil says. */
  writable?: boolean;
}

/** What `diskutil info -plist` says about a disk or volume (the fields this backend reads). */
export interface DiskInfo {
  /** `DeviceIdentifier`, e.g. `disk5s1`. */
  deviceIdentifier?: string;
  /** `ParentWholeDisk`, e.g. `disk5`. */
  parentWholeDisk?: string;
  /** `MountPoint`, when mounted. */
  mountPoint?: string;
  /** `APFSPhysicalStores[].APFSPhysicalStore`, e.g. `['disk4s1']`. */
  physicalStores: string[];
}

/** The fields of a sparse bundle's `Info.plist` this backend reads. */
export interface BundleInfo {
  /** `size`: the image's logical size in bytes, its capacity limit. */
  sizeBytes: number;
  /** `band-size`, in bytes. */
  bandBytes?: number;
}

type Dict = { [key: string]: PlistValue };

function malformed(what: string, detail: string, cause?: unknown): CacheVolumeError {
  return new CacheVolumeError(
    'BACKEND_FAILED',
    `Could not read the property list from ${what}: ${detail}. Run it by hand to see what it printed.`,
    { cause, details: { what } },
  );
}

function isDict(value: unknown): value is Dict {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date)
  );
}

function text(dict: Dict, key: string): string | undefined {
  const value = dict[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Parses a property list printed by a command (`-plist` output), ignoring anything printed
 * before the XML.
 *
 * @param output - the command's standard output
 * @param what - the command, for error messages
 * @returns the top-level dictionary
 * @throws `BACKEND_FAILED` when there is no property list or its top level is not a dictionary
 */
export function parsePlistDict(output: string, what: string): Dict {
  const start = output.search(/<\?xml|<plist/);
  if (start < 0) throw malformed(what, 'it printed no XML property list');
  let value: PlistValue;
  try {
    value = parse(output.slice(start));
  } catch (error) {
    throw malformed(what, String((error as Error).message ?? error), error);
  }
  if (!isDict(value)) throw malformed(what, 'its top level is not a dictionary');
  return value;
}

function entitiesOf(dict: Dict): SystemEntity[] {
  const list = dict['system-entities'];
  if (!Array.isArray(list)) return [];
  const out: SystemEntity[] = [];
  for (const item of list) {
    if (!isDict(item)) continue;
    const devEntry = text(item, 'dev-entry');
    if (!devEntry || !ANY_DISK.test(devEntry)) continue;
    const entity: SystemEntity = { devEntry };
    const hint = text(item, 'content-hint');
    if (hint) entity.contentHint = hint;
    const mountPoint = text(item, 'mount-point');
    if (mountPoint) entity.mountPoint = mountPoint;
    out.push(entity);
  }
  return out;
}

/** `/dev/disk4s1` → `/dev/disk4`. */
function wholeDevice(devEntry: string): string {
  return devEntry.replace(/(disk[0-9]+)(s[0-9]+)+$/, '$1');
}

function attachmentOf(entities: SystemEntity[]): Attachment | undefined {
  const first = entities[0];
  if (!first) return undefined;
  const wholes = entities.filter((e) => WHOLE_DISK.test(e.devEntry));
  const container = wholes.find((e) => e.contentHint === APFS_CONTAINER_HINT);
  const image = wholes.find((e) => e !== container) ?? container;
  const mounted = entities.find((e) => e.mountPoint);
  const volume = mounted ?? entities.find((e) => e.contentHint === APFS_VOLUME_HINT);
  const out: Attachment = { entities, device: image?.devEntry ?? wholeDevice(first.devEntry) };
  if (container && container !== image) out.containerDevice = container.devEntry;
  if (volume) out.volumeDevice = volume.devEntry;
  if (mounted?.mountPoint) out.mountPoint = mounted.mountPoint;
  return out;
}

/**
 * Reads `hdiutil attach -plist` output: the image's whole disk, the synthesized APFS container
 * disk, the volume's disk and its mount point. Entity order does not matter.
 *
 * @param output - standard output of `hdiutil attach -plist`
 * @throws `BACKEND_FAILED` when it holds no disk entity
 */
export function parseAttachOutput(output: string): Attachment {
  const attachment = attachmentOf(entitiesOf(parsePlistDict(output, 'hdiutil attach')));
  if (!attachment) throw malformed('hdiutil attach', 'it lists no system entity with a dev-entry');
  return attachment;
}

/**
 * Reads `hdiutil info -plist` output: every attached image with its `image-path`, disks and
 * mount point. Images without a disk entity are left out.
 *
 * @param output - standard output of `hdiutil info -plist`
 */
export function parseInfoOutput(output: string): AttachedImage[] {
  const images = parsePlistDict(output, 'hdiutil info').images;
  if (!Array.isArray(images)) return [];
  const out: AttachedImage[] = [];
  for (const item of images) {
    if (!isDict(item)) continue;
    const imagePath = text(item, 'image-path');
    const attachment = attachmentOf(entitiesOf(item));
    if (!imagePath || !attachment) continue;
    const image: AttachedImage = { imagePath, ...attachment };
    if (typeof item.writeable === 'boolean') image.writable = item.writeable;
    out.push(image);
  }
  return out;
}

/**
 * Reads `diskutil info -plist` output: identifiers, mount point and the APFS physical stores
 * (the partitions an APFS container lives on).
 *
 * @param output - standard output of `diskutil info -plist`
 */
export function parseDiskInfoOutput(output: string): DiskInfo {
  const dict = parsePlistDict(output, 'diskutil info');
  const stores = dict.APFSPhysicalStores;
  const physicalStores: string[] = [];
  if (Array.isArray(stores)) {
    for (const store of stores) {
      const id = isDict(store) ? text(store, 'APFSPhysicalStore') : undefined;
      if (id && /^disk[0-9]+(s[0-9]+)*$/.test(id)) physicalStores.push(id);
    }
  }
  const out: DiskInfo = { physicalStores };
  const deviceIdentifier = text(dict, 'DeviceIdentifier');
  if (deviceIdentifier) out.deviceIdentifier = deviceIdentifier;
  const parentWholeDisk = text(dict, 'ParentWholeDisk');
  if (parentWholeDisk) out.parentWholeDisk = parentWholeDisk;
  const mountPoint = text(dict, 'MountPoint');
  if (mountPoint) out.mountPoint = mountPoint;
  return out;
}

/**
 * Reads a sparse bundle's `Info.plist` (XML as hdiutil writes it, or a binary property list).
 *
 * @param content - the file's bytes
 * @param bundlePath - the bundle, for error messages
 * @throws `BACKEND_FAILED` when it is not a sparse bundle's `Info.plist`
 */
export function parseBundleInfo(content: Uint8Array, bundlePath: string): BundleInfo {
  const what = `${bundlePath}/Info.plist`;
  let dict: Dict;
  if (Buffer.from(content.subarray(0, 8)).toString('latin1') === 'bplist00') {
    let value: PlistValue;
    try {
      value = parseBinary(content);
    } catch (error) {
      throw malformed(what, String((error as Error).message ?? error), error);
    }
    if (!isDict(value)) throw malformed(what, 'its top level is not a dictionary');
    dict = value;
  } else {
    dict = parsePlistDict(Buffer.from(content).toString('utf8'), what);
  }
  const size = dict.size;
  if (
    dict['diskimage-bundle-type'] !== 'com.apple.diskimage.sparsebundle' ||
    typeof size !== 'number' ||
    size <= 0
  ) {
    throw malformed(what, 'it is not the Info.plist of a sparse bundle (no diskimage-bundle-type or size)');
  }
  const info: BundleInfo = { sizeBytes: size };
  if (typeof dict['band-size'] === 'number') info.bandBytes = dict['band-size'];
  return info;
}

/**
 * The whole disk a disk identifier belongs to: `disk4s1` → `disk4`, `/dev/disk4` → `disk4`.
 *
 * @param identifier - a disk identifier or device path
 * @returns the whole disk's identifier, or `undefined` for anything that is not a disk
 */
export function wholeDiskOf(identifier: string): string | undefined {
  return /^(?:\/dev\/)?(disk[0-9]+)(?:s[0-9]+)*$/.exec(identifier)?.[1];
}
