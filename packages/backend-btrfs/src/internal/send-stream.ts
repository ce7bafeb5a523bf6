import { CacheVolumeError } from '@cachevol/core';

/**
 * The parts of a `btrfs send` stream that naming needs (btrfs-progs `send.h`): a 17-byte header
 * (`btrfs-stream\0` and a version), then commands of a 10-byte header (length of the attributes,
 * command, crc32c) and attributes (type, length, value). The first command makes the subvolume
 * (`SUBVOL`, or `SNAPSHOT` for an incremental stream) and names it with a `PATH` attribute.
 */
const MAGIC = Buffer.from('btrfs-stream\0', 'latin1');
const STREAM_HEADER = MAGIC.length + 4;
const COMMAND_HEADER = 10;
const SUBVOL = 1;
const SNAPSHOT = 2;
const PATH = 15;
/** The most a first command may hold: a name, two UUIDs and two transaction ids need far less. */
const FIRST_COMMAND_MAX = 64 * 1024;

/** crc32c (Castagnoli) lookup table. */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** crc32c as btrfs computes a command's: seed 0, no final inversion. */
export function sendCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)) >>> 0;
  return crc;
}

function notASendStream(why: string): never {
  throw new CacheVolumeError(
    'BACKEND_FAILED',
    `The stream is not a btrfs send stream (${why}); nothing was kept.`,
    {
      details: { reason: 'bad-stream' },
    },
  );
}

/** The first command with its `PATH` attribute set to `name`, and its crc redone. */
function renamed(command: Buffer, name: string): Buffer {
  const type = command.readUInt16LE(4);
  if (type !== SUBVOL && type !== SNAPSHOT) notASendStream(`it starts with command ${type}`);
  const attributes: Buffer[] = [];
  let named = false;
  for (let at = COMMAND_HEADER; at < command.length; ) {
    if (at + 4 > command.length) notASendStream('a cut attribute');
    const kind = command.readUInt16LE(at);
    const length = command.readUInt16LE(at + 2);
    let value = command.subarray(at + 4, at + 4 + length);
    if (kind === PATH) {
      value = Buffer.from(name);
      named = true;
    }
    const head = Buffer.alloc(4);
    head.writeUInt16LE(kind, 0);
    head.writeUInt16LE(value.length, 2);
    attributes.push(head, value);
    at += 4 + length;
  }
  if (!named) notASendStream('its first command names no subvolume');
  const body = Buffer.concat(attributes);
  const header = Buffer.alloc(COMMAND_HEADER);
  header.writeUInt32LE(body.length, 0);
  header.writeUInt16LE(type, 4);
  const out = Buffer.concat([header, body]);
  out.writeUInt32LE(sendCrc(out), 6);
  return out;
}

/**
 * Passes a `btrfs send` stream through with the subvolume it makes renamed to `name`, so that
 * `btrfs receive` builds it under a scratch name beside the finished versions (a read-only
 * subvolume cannot be moved to another directory, only renamed within one). The subvolume's
 * identity (its UUID, which later incremental streams name as their parent) is untouched.
 *
 * @param input - the stream as sent
 * @param name - the name to receive it under
 * @throws `CacheVolumeError` `BACKEND_FAILED` (`details.reason` `bad-stream`) when the stream
 *   does not start like a send stream
 */
export async function* renamedSendStream(
  input: AsyncIterable<Uint8Array>,
  name: string,
): AsyncGenerator<Uint8Array> {
  let head = Buffer.alloc(0);
  let passed = false;
  for await (const chunk of input) {
    if (passed) {
      yield chunk;
      continue;
    }
    head = Buffer.concat([head, chunk]);
    if (head.length < STREAM_HEADER + COMMAND_HEADER) continue;
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) notASendStream('no btrfs-stream header');
    const length = head.readUInt32LE(STREAM_HEADER);
    if (length > FIRST_COMMAND_MAX) notASendStream(`a first command of ${length} bytes`);
    const end = STREAM_HEADER + COMMAND_HEADER + length;
    if (head.length < end) continue;
    yield Buffer.concat([head.subarray(0, STREAM_HEADER), renamed(head.subarray(STREAM_HEADER, end), name)]);
    if (head.length > end) yield head.subarray(end);
    passed = true;
  }
  if (!passed) notASendStream('it ends before its first command');
}
