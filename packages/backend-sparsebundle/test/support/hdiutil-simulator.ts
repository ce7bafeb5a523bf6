import { cp, lstat, mkdir, readdir, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { build, type PlistValue } from 'plist';
import type { CommandResult, CommandRunner } from '../../src/index.js';

/**
 * The directory inside a simulated bundle that stands for its APFS volume: attaching the bundle
 * makes the mount point a symlink to it. It lives inside the bundle, so `cp -c -R` copies it and
 * `rm` removes it, and the backend's usage walk counts it like band files.
 */
export const SIM_VOLUME_DIR = 'simulated-volume';

const CONTAINER_HINT = 'EF57347C-0000-11AA-AA11-00306543ECAC';
const VOLUME_HINT = '41504653-0000-11AA-AA11-00306543ECAC';
const PHYSICAL_STORE_HINT = '7C3457EF-0000-11AA-AA11-00306543ECAC';

/** One command the simulator received. */
export interface SimCall {
  command: string;
  args: string[];
}

interface SimImage {
  imagePath: string;
  disk: number;
  container: number;
  mountPoint: string | undefined;
  writable: boolean;
  /** Plain `hdiutil detach` answers "Resource busy" this many more times. */
  busy: number;
  /** `hdiutil detach -force` fails too (only `diskutil eject` gets rid of it). */
  stuck: boolean;
}

/** A planned answer for the next matching call. */
interface Override {
  match: (call: SimCall) => boolean;
  answer: (real: () => Promise<CommandResult>) => Promise<CommandResult>;
}

const ok = (stdout = ''): CommandResult => ({ exitCode: 0, stdout, stderr: '' });
const fail = (stderr: string, exitCode = 1): CommandResult => ({
  exitCode,
  stdout: '',
  stderr: `${stderr}\n`,
});

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * A stand-in for hdiutil, diskutil, cp and sync that keeps its state on the real filesystem:
 * a bundle is a directory (with `Info.plist`, `token`, `bands/` and {@link SIM_VOLUME_DIR});
 * attaching replaces the (empty) mount point directory with a symlink to the volume directory;
 * detaching puts the empty directory back; `cp -c -R` really copies. Attachments and disk
 * numbers are kept in memory, like the kernel's. It is stricter than the real tools: unknown
 * options, a missing `-plist`, or a non-empty mount point fail.
 */
export class HdiutilSimulator {
  /** Every command received, in order. */
  readonly calls: SimCall[] = [];
  readonly #images = new Map<string, SimImage>();
  #nextDisk = 4;
  readonly #overrides: Override[] = [];

  /** The runner to give the backend. */
  readonly runner: CommandRunner = async (command, args) => {
    const call = { command, args: [...args] };
    this.calls.push(call);
    const real = () => this.#run(call);
    const index = this.#overrides.findIndex((o) => o.match(call));
    const [override] = index >= 0 ? this.#overrides.splice(index, 1) : [];
    return override ? override.answer(real) : real();
  };

  async #run({ command, args }: SimCall): Promise<CommandResult> {
    switch (command) {
      case 'hdiutil':
        return this.#hdiutil(args);
      case 'diskutil':
        return this.#diskutil(args);
      case 'cp':
        return this.#cp(args);
      case 'sync':
        return args.length === 0 ? ok() : fail('usage: sync');
      default:
        throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' });
    }
  }

  /** Forgets the recorded calls. */
  clearCalls(): void {
    this.calls.length = 0;
  }

  /** The recorded calls as `command arg arg…` lines. */
  lines(): string[] {
    return this.calls.map((c) => [c.command, ...c.args].join(' '));
  }

  /**
   * Makes the next command matching `match` return `result` instead of running.
   *
   * @param match - which call
   * @param result - what it returns
   */
  failNext(match: (call: SimCall) => boolean, result: CommandResult): void {
    this.#overrides.push({ match, answer: async () => result });
  }

  /**
   * Runs the next command matching `match` for real, then answers `result` instead of what it
   * printed (a detach that worked but says the disk was already gone, say).
   *
   * @param match - which call
   * @param result - what it returns
   */
  runThenAnswer(match: (call: SimCall) => boolean, result: CommandResult): void {
    this.#overrides.push({
      match,
      answer: async (real) => {
        await real();
        return result;
      },
    });
  }

  /**
   * Makes plain detaches of an attached image answer "Resource busy" `times` times; with
   * `stuck`, `-force` fails as well and only `diskutil eject` works.
   *
   * @param imagePath - the attached bundle
   * @param times - busy answers
   * @param stuck - also refuse `-force`
   */
  makeBusy(imagePath: string, times: number, stuck = false): void {
    const image = this.#images.get(imagePath);
    if (!image) throw new Error(`not attached: ${imagePath}`);
    image.busy = times;
    image.stuck = stuck;
  }

  /** Bundle paths attached now. */
  attached(): string[] {
    return [...this.#images.keys()].sort();
  }

  /** A host reboot: every image goes away, mount points are left as empty directories. */
  async reboot(): Promise<void> {
    for (const image of [...this.#images.values()]) await this.#remove(image);
  }

  // ---- hdiutil -------------------------------------------------------------------------------

  async #hdiutil(args: string[]): Promise<CommandResult> {
    const [verb, ...rest] = args;
    switch (verb) {
      case 'create':
        return this.#create(rest);
      case 'attach':
        return this.#attach(rest);
      case 'detach':
        return this.#detach(rest);
      case 'info':
        return rest.length === 1 && rest[0] === '-plist'
          ? ok(this.#infoPlist())
          : fail('hdiutil: info: use -plist');
      case 'resize':
        return this.#resize(rest);
      default:
        return fail(`hdiutil: unknown verb ${String(verb)}`);
    }
  }

  async #create(args: string[]): Promise<CommandResult> {
    const options = new Map<string, string>();
    let spotlight = true;
    let path: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as string;
      if (arg === '-nospotlight') spotlight = false;
      else if (['-type', '-fs', '-size', '-volname'].includes(arg)) options.set(arg, args[++i] ?? '');
      else if (arg.startsWith('-')) return fail(`hdiutil: create: unknown option ${arg}`);
      else if (i === args.length - 1) path = arg;
      else return fail(`hdiutil: create: unexpected argument ${arg}`);
    }
    void spotlight;
    if (options.get('-type') !== 'SPARSEBUNDLE' || options.get('-fs') !== 'APFS') {
      return fail('hdiutil: create: the simulator makes only -type SPARSEBUNDLE -fs APFS');
    }
    const size = /^([0-9]+)b$/.exec(options.get('-size') ?? '');
    if (!size || !options.get('-volname'))
      return fail('hdiutil: create: -size <sectors>b and -volname are required');
    if (!path?.endsWith('.sparsebundle'))
      return fail('hdiutil: create: the simulator wants a .sparsebundle path');
    if (!(await exists(dirname(path)))) return fail('hdiutil: create failed - No such file or directory');
    if (await exists(path)) return fail('hdiutil: create failed - File exists');
    await mkdir(join(path, 'bands'), { recursive: true });
    await mkdir(join(path, SIM_VOLUME_DIR));
    await this.#writeInfo(path, Number(size[1]) * 512);
    await writeFile(join(path, 'token'), '');
    return ok(`created: ${path}\n`);
  }

  async #writeInfo(path: string, sizeBytes: number): Promise<void> {
    const info = build({
      CFBundleInfoDictionaryVersion: '6.0',
      'band-size': 8388608,
      'bundle-backingstore-version': 1,
      'diskimage-bundle-type': 'com.apple.diskimage.sparsebundle',
      size: sizeBytes,
    });
    await writeFile(join(path, 'Info.plist'), info);
    await writeFile(join(path, 'Info.bckup'), info);
  }

  async #attach(args: string[]): Promise<CommandResult> {
    const expected = ['-plist', '-nobrowse', '-owners', 'on', '-mountpoint'];
    if (expected.some((flag, i) => args[i] !== flag))
      return fail(`hdiutil: attach: unexpected options ${args.join(' ')}`);
    const mountPoint = args[5];
    const readonly = args[6] === '-readonly';
    const bundle = args[readonly ? 7 : 6];
    if (!mountPoint || !bundle || args.length !== (readonly ? 8 : 7))
      return fail('hdiutil: attach: bad arguments');
    if (!(await exists(join(bundle, 'Info.plist'))))
      return fail('hdiutil: attach failed - No such file or directory');
    const existing = this.#images.get(bundle);
    if (existing) return ok(build({ 'system-entities': this.#entities(existing) }));
    const entries = await readdir(mountPoint).catch(() => undefined);
    if (!entries) return fail('hdiutil: attach failed - No such file or directory');
    if (entries.length > 0)
      return fail('hdiutil: attach failed - the simulator mounts only on an empty directory');
    await rmdir(mountPoint);
    await symlink(join(bundle, SIM_VOLUME_DIR), mountPoint);
    const image: SimImage = {
      imagePath: bundle,
      disk: this.#nextDisk,
      container: this.#nextDisk + 1,
      mountPoint,
      writable: !readonly,
      busy: 0,
      stuck: false,
    };
    this.#nextDisk += 2;
    this.#images.set(bundle, image);
    return ok(build({ 'system-entities': this.#entities(image) }));
  }

  #entities(image: SimImage): PlistValue[] {
    const volume: Record<string, PlistValue> = {
      'content-hint': VOLUME_HINT,
      'dev-entry': `/dev/disk${image.container}s1`,
    };
    if (image.mountPoint) volume['mount-point'] = image.mountPoint;
    Object.assign(volume, {
      'potentially-mountable': true,
      'unmapped-content-hint': VOLUME_HINT,
      'volume-kind': 'apfs',
    });
    return [
      {
        'content-hint': 'GUID_partition_scheme',
        'dev-entry': `/dev/disk${image.disk}`,
        'potentially-mountable': false,
        'unmapped-content-hint': 'GUID_partition_scheme',
      },
      {
        'content-hint': 'Apple_APFS',
        'dev-entry': `/dev/disk${image.disk}s1`,
        'potentially-mountable': false,
        'unmapped-content-hint': PHYSICAL_STORE_HINT,
      },
      {
        'content-hint': CONTAINER_HINT,
        'dev-entry': `/dev/disk${image.container}`,
        'potentially-mountable': false,
        'unmapped-content-hint': CONTAINER_HINT,
      },
      volume,
    ];
  }

  #byDisk(name: string): SimImage | undefined {
    const disk = /^(?:\/dev\/)?disk([0-9]+)(?:s[0-9]+)?$/.exec(name)?.[1];
    return [...this.#images.values()].find((i) => String(i.disk) === disk || String(i.container) === disk);
  }

  async #unmount(image: SimImage): Promise<void> {
    if (!image.mountPoint) return;
    await rm(image.mountPoint, { force: true });
    await mkdir(image.mountPoint, { recursive: true });
    image.mountPoint = undefined;
  }

  async #remove(image: SimImage): Promise<void> {
    await this.#unmount(image);
    this.#images.delete(image.imagePath);
  }

  async #detach(args: string[]): Promise<CommandResult> {
    const force = args[0] === '-force';
    const device = args[force ? 1 : 0];
    if (!device || args.length !== (force ? 2 : 1))
      return fail('hdiutil: detach: only a single device name can be specified');
    const image = this.#byDisk(device);
    if (!image) return fail('hdiutil: detach failed - No such file or directory');
    if (!force && image.busy > 0) {
      image.busy--;
      return fail(`hdiutil: couldn't unmount "disk${image.disk}" - Resource busy`, 16);
    }
    if (force && image.stuck) return fail(`hdiutil: couldn't eject "disk${image.disk}" - Resource busy`, 16);
    await this.#remove(image);
    return ok(`"disk${image.disk}" ejected.\n`);
  }

  async #resize(args: string[]): Promise<CommandResult> {
    const size = /^([0-9]+)b$/.exec(args[1] ?? '');
    const bundle = args[2];
    if (args[0] !== '-size' || !size || !bundle || args.length !== 3)
      return fail('hdiutil: resize: bad arguments');
    if (!(await exists(join(bundle, 'Info.plist'))))
      return fail('hdiutil: resize: failed. No such file or directory (2)');
    if (this.#images.has(bundle)) return fail('hdiutil: resize: failed. Resource busy (16)');
    await this.#writeInfo(bundle, Number(size[1]) * 512);
    return ok();
  }

  #infoPlist(): string {
    const images = [...this.#images.values()].map((image) => ({
      autodiskmount: true,
      blockcount: 0,
      blocksize: 512,
      'image-encrypted': false,
      'image-path': image.imagePath,
      'image-type': 'sparse bundle disk image',
      'owner-uid': 0,
      removable: true,
      'system-entities': this.#entities(image),
      writeable: image.writable,
    }));
    return build({ framework: '683.100.3', images, revision: '10.13v683.100.3', vendor: 'Apple' });
  }

  // ---- diskutil ------------------------------------------------------------------------------

  async #diskutil(args: string[]): Promise<CommandResult> {
    if (args[0] === 'info' && args[1] === '-plist' && args.length === 3) {
      const target = args[2] as string;
      const image = this.#byDisk(target);
      if (!image) return fail(`Could not find disk: ${target}`);
      return ok(
        build({
          APFSContainerReference: `disk${image.container}`,
          APFSPhysicalStores: [{ APFSPhysicalStore: `disk${image.disk}s1` }],
          BusProtocol: 'Disk Image',
          DeviceIdentifier: `disk${image.container}s1`,
          DeviceNode: `/dev/disk${image.container}s1`,
          FilesystemType: 'apfs',
          MountPoint: image.mountPoint ?? '',
          ParentWholeDisk: `disk${image.container}`,
          VirtualOrPhysical: 'Virtual',
          WholeDisk: false,
        }),
      );
    }
    if (args[0] === 'unmount' && args[1] === 'force' && args.length === 3) {
      const image = [...this.#images.values()].find((i) => i.mountPoint === args[2]);
      if (!image) return fail(`Unmount failed for ${args[2]}`);
      await this.#unmount(image);
      return ok(`Volume on disk${image.container}s1 force-unmounted\n`);
    }
    if (args[0] === 'eject' && args.length === 2) {
      const image = this.#byDisk(args[1] as string);
      if (!image) return fail(`Unable to find disk for ${args[1]}`);
      await this.#remove(image);
      return ok(`Disk ${args[1]} ejected\n`);
    }
    return fail(`diskutil: unexpected arguments ${args.join(' ')}`);
  }

  // ---- cp ------------------------------------------------------------------------------------

  async #cp(args: string[]): Promise<CommandResult> {
    if (args.length !== 4 || args[0] !== '-c' || args[1] !== '-R')
      return fail(`cp: unexpected arguments ${args.join(' ')}`);
    const [, , from, to] = args as [string, string, string, string];
    if (!(await exists(from))) return fail(`cp: ${from}: No such file or directory`);
    // BSD cp -R copies *into* an existing directory, which is why the backend never lets it exist.
    const target = (await exists(to)) ? join(to, basename(from)) : to;
    await cp(from, target, { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false });
    return ok();
  }
}

/**
 * Reads a simulated bundle's `Info.plist` bytes (for assertions).
 *
 * @param bundle - the bundle directory
 */
export function readBundleInfo(bundle: string): Promise<Uint8Array> {
  return readFile(join(bundle, 'Info.plist'));
}
