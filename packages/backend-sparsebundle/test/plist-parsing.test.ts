import { readFileSync } from 'node:fs';
import { isCacheVolumeError } from '@cachevol/core';
import { buildBinary, parse } from 'plist';
import { describe, expect, it } from 'vitest';
import {
  parseAttachOutput,
  parseBundleInfo,
  parseDiskInfoOutput,
  parseInfoOutput,
  wholeDiskOf,
} from '../src/internal/plist-output.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('hdiutil attach -plist', () => {
  it('reads a single-entity image: its one disk is both the device and the mounted volume', () => {
    const attachment = parseAttachOutput(fixture('attach-single-hfs.plist'));
    expect(attachment.device).toBe('/dev/disk4');
    expect(attachment.volumeDevice).toBe('/dev/disk4');
    expect(attachment.mountPoint).toBe('/Volumes/Installer');
    expect(attachment.containerDevice).toBeUndefined();
    expect(attachment.entities).toEqual([
      { devEntry: '/dev/disk4', contentHint: 'Apple_HFS', mountPoint: '/Volumes/Installer' },
    ]);
  });

  it('reads an APFS image: partition scheme, Apple_APFS store, synthesized container and volume', () => {
    const attachment = parseAttachOutput(fixture('attach-apfs.plist'));
    expect(attachment.device).toBe('/dev/disk4');
    expect(attachment.containerDevice).toBe('/dev/disk5');
    expect(attachment.volumeDevice).toBe('/dev/disk5s1');
    expect(attachment.mountPoint).toBe('/private/var/ci/cachevol/mounts/forks/f-1');
    expect(attachment.entities.map((e) => e.devEntry)).toEqual([
      '/dev/disk4',
      '/dev/disk4s1',
      '/dev/disk5',
      '/dev/disk5s1',
    ]);
    expect(attachment.entities[1]?.contentHint).toBe('Apple_APFS');
  });

  it('does not depend on the entity order', () => {
    const text = fixture('attach-apfs.plist');
    const dicts = text.match(/\t\t<dict>[\s\S]*?\t\t<\/dict>\n/g) ?? [];
    expect(dicts).toHaveLength(4);
    const reversed = text.replace(dicts.join(''), [...dicts].reverse().join(''));
    const attachment = parseAttachOutput(reversed);
    expect(attachment.device).toBe('/dev/disk4');
    expect(attachment.containerDevice).toBe('/dev/disk5');
    expect(attachment.mountPoint).toBe('/private/var/ci/cachevol/mounts/forks/f-1');
  });

  it('reads an attached image without a mount point (the volume disk is still known)', () => {
    const attachment = parseAttachOutput(fixture('attach-apfs-no-mount.plist'));
    expect(attachment.device).toBe('/dev/disk6');
    expect(attachment.containerDevice).toBe('/dev/disk7');
    expect(attachment.volumeDevice).toBe('/dev/disk7s1');
    expect(attachment.mountPoint).toBeUndefined();
  });

  it('skips text printed before the XML and refuses output with no plist or no disk', () => {
    expect(parseAttachOutput(`Checksumming…\n${fixture('attach-single-hfs.plist')}`).device).toBe(
      '/dev/disk4',
    );
    for (const bad of [
      'hdiutil: attach failed - No such file or directory',
      '',
      '<plist version="1.0"><array/></plist>',
      '<plist version="1.0"><dict><key>system-entities</key><array/></dict></plist>',
      '<plist version="1.0"><dict><key>system-entities</key><array><dict><key>dev-entry</key><string>/etc/passwd</string></dict></array></dict></plist>',
    ]) {
      let error: unknown;
      try {
        parseAttachOutput(bad);
      } catch (e) {
        error = e;
      }
      expect(isCacheVolumeError(error, 'BACKEND_FAILED'), bad).toBe(true);
    }
  });
});

describe('hdiutil info -plist', () => {
  it('reads every attached image with its path, disks, mount point and writability', () => {
    const images = parseInfoOutput(fixture('info-several.plist'));
    expect(images.map((i) => i.imagePath)).toEqual([
      '/Users/ci/Downloads/Tool-1.2.dmg',
      '/private/var/ci/cachevol/forks/f-1.sparsebundle',
      '/Users/ci/Backups/photos.sparsebundle',
    ]);
    const [dmg, fork, other] = images;
    expect(dmg).toMatchObject({ device: '/dev/disk4', mountPoint: '/Volumes/Tool', writable: false });
    expect(dmg?.containerDevice).toBeUndefined();
    expect(fork).toMatchObject({
      device: '/dev/disk6',
      containerDevice: '/dev/disk7',
      volumeDevice: '/dev/disk7s1',
      mountPoint: '/private/var/ci/cachevol/mounts/forks/f-1',
      writable: true,
    });
    expect(other).toMatchObject({
      device: '/dev/disk8',
      containerDevice: '/dev/disk9',
      mountPoint: '/Volumes/photos',
    });
  });

  it('reads an empty list', () => {
    expect(parseInfoOutput(fixture('info-none.plist'))).toEqual([]);
  });
});

describe('diskutil info -plist', () => {
  it('reads an APFS volume: its physical store on the image disk, parent whole disk and mount point', () => {
    expect(parseDiskInfoOutput(fixture('diskutil-info-apfs-volume.plist'))).toEqual({
      deviceIdentifier: 'disk7s1',
      parentWholeDisk: 'disk7',
      mountPoint: '/private/var/ci/cachevol/mounts/forks/f-1',
      physicalStores: ['disk6s1'],
    });
  });

  it('reads a whole image disk, which has no physical stores and an empty mount point', () => {
    expect(parseDiskInfoOutput(fixture('diskutil-info-image-disk.plist'))).toEqual({
      deviceIdentifier: 'disk6',
      parentWholeDisk: 'disk6',
      physicalStores: [],
    });
  });
});

describe('a sparse bundle Info.plist', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('reads the logical size and band size', () => {
    expect(parseBundleInfo(bytes(fixture('sparsebundle-Info.plist')), '/b.sparsebundle')).toEqual({
      sizeBytes: 21474836480,
      bandBytes: 8388608,
    });
  });

  it('reads the same from a binary property list', () => {
    const binary = buildBinary(parse(fixture('sparsebundle-Info.plist')));
    expect(parseBundleInfo(binary, '/b.sparsebundle')).toEqual({
      sizeBytes: 21474836480,
      bandBytes: 8388608,
    });
  });

  it('refuses an Info.plist that is not a sparse bundle one', () => {
    const app = fixture('sparsebundle-Info.plist').replace(
      'com.apple.diskimage.sparsebundle',
      'com.example.app',
    );
    expect(() => parseBundleInfo(bytes(app), '/b.sparsebundle')).toThrow(
      /not the Info.plist of a sparse bundle/,
    );
    expect(() => parseBundleInfo(bytes(''), '/b.sparsebundle')).toThrow(/no XML property list/);
  });
});

describe('whole disks', () => {
  it('names the whole disk of a slice, a device path or an APFS store', () => {
    expect(wholeDiskOf('disk4s1')).toBe('disk4');
    expect(wholeDiskOf('/dev/disk12')).toBe('disk12');
    expect(wholeDiskOf('disk3s1s1')).toBe('disk3');
    expect(wholeDiskOf('/Volumes/x')).toBeUndefined();
  });
});
