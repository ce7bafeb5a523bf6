import { CacheVolumeError } from '@cachevol/core';
import type { CommandResult } from '../command-runner.js';
import { type Command, detachArgv, diskInfoArgv, ejectArgv, forceUnmountArgv } from './argv.js';
import { commandFailed, failureKind } from './failures.js';
import { type AttachedImage, parseDiskInfoOutput, wholeDiskOf } from './plist-output.js';

/** What {@link detachImage} needs from the backend. */
export interface DetachContext {
  /** Runs a command; resolves for any exit code. */
  run(command: Command): Promise<CommandResult>;
  /** The image attached from this bundle path now, if any (`hdiutil info -plist`). */
  find(imagePath: string): Promise<AttachedImage | undefined>;
  /** Waits between tries. */
  sleep(ms: number): Promise<void>;
  /** Plain `hdiutil detach` tries before `-force`. */
  attempts: number;
  /** Pause after a busy try, in milliseconds. */
  delayMs: number;
}

function gone(result: CommandResult): boolean {
  return result.exitCode === 0 || failureKind(result) === 'missing';
}

/**
 * Detaches an image and checks with `hdiutil info -plist` that it is gone. An APFS image brings
 * up two disks (the image disk and a synthesized APFS container disk), and a busy volume makes
 * detach fail with exit 16 ("Resource busy"), so this escalates:
 *
 * 1. `hdiutil detach <image disk>`, retried after a pause while busy;
 * 2. `hdiutil detach -force <image disk>`;
 * 3. Homebrew's fallback: read the volume's APFS physical store with `diskutil info -plist`
 *    (before unmounting, while the identifier is still the image's), `diskutil unmount force
 *    <mount point>`, then `diskutil eject <physical store>` (only a store on this image's disk).
 *
 * After a step that succeeds, the image is looked up again, so a synthesized container that
 * outlived its image disk is caught and detached too.
 *
 * @param context - how to run commands and look images up
 * @param image - the attached image
 * @throws `CONFLICT` when the image is still attached after every step (with what to do)
 * @throws a `CommandFailedError` when `hdiutil detach` fails for another reason than busy
 */
export async function detachImage(context: DetachContext, image: AttachedImage): Promise<void> {
  let current: AttachedImage | undefined = image;
  for (let attempt = 1; attempt <= context.attempts && current; attempt++) {
    const command = detachArgv(current.device);
    const result = await context.run(command);
    if (gone(result)) {
      current = await context.find(image.imagePath);
      continue;
    }
    if (failureKind(result) !== 'busy') throw commandFailed(command, result);
    if (attempt < context.attempts) await context.sleep(context.delayMs);
  }
  if (!current) return;

  if (gone(await context.run(detachArgv(current.device, true)))) {
    current = await context.find(image.imagePath);
    if (!current) return;
  }

  const imageDisk = wholeDiskOf(current.device);
  let stores: string[] = [];
  if (current.volumeDevice) {
    const info = await context.run(diskInfoArgv(current.volumeDevice));
    if (info.exitCode === 0) stores = parseDiskInfoOutput(info.stdout).physicalStores;
  }
  const ours = stores.filter((store) => wholeDiskOf(store) === imageDisk);
  if (current.mountPoint) await context.run(forceUnmountArgv(current.mountPoint));
  for (const target of ours.length > 0 ? ours : imageDisk ? [imageDisk] : []) {
    await context.run(ejectArgv(target));
  }
  current = await context.find(image.imagePath);
  if (!current) return;

  const where = current.mountPoint ?? image.mountPoint;
  throw new CacheVolumeError(
    'CONFLICT',
    `Could not detach ${image.imagePath} (${current.device}): it stayed attached after ${context.attempts} tries of \`hdiutil detach\`, \`hdiutil detach -force\` and \`diskutil eject\`. ${
      where ? `Close the programs using ${where} (\`lsof +D ${where}\` lists them)` : 'Check `hdiutil info`'
    } and retry.`,
    { details: { imagePath: image.imagePath, device: current.device, mountPoint: where } },
  );
}
