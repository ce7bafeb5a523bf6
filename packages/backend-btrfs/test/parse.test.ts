import { describe, expect, it } from 'vitest';
import { parseFilesystemDu, parseQgroupShow, parseSubvolumeShow } from '../src/internal/parse.js';

describe('parseQgroupShow', () => {
  it('reads btrfs-progs 6.x output (capitalised headers, Path column)', () => {
    const text = [
      'Qgroupid    Referenced    Exclusive   Path ',
      '--------    ----------    ---------   ---- ',
      '0/5              16384        16384   <toplevel>',
      '0/258         33570816     33570816   root-1/forks/f1',
      '0/259            16384        16384   <under deletion>',
    ].join('\n');
    expect(parseQgroupShow(text)).toEqual([
      { qgroupId: '0/5', referenced: 16384 },
      { qgroupId: '0/258', referenced: 33570816 },
      { qgroupId: '0/259', referenced: 16384 },
    ]);
  });

  it('reads 6.x output with limit columns (two-word headers after the sizes)', () => {
    const text = [
      'Qgroupid    Referenced    Exclusive  Max referenced  Max exclusive   Path ',
      '--------    ----------    ---------  --------------  -------------   ---- ',
      '0/261                0            0        33554432           none   q',
    ].join('\n');
    expect(parseQgroupShow(text)).toEqual([{ qgroupId: '0/261', referenced: 0 }]);
  });

  it('reads old lowercase output (qgroupid rfer excl, limit, parent and child columns)', () => {
    const text = [
      'qgroupid         rfer         excl     max_rfer     max_excl parent  child ',
      '--------         ----         ----     --------     -------- ------  ----- ',
      '0/5             16384        16384         none         none ---     ---  ',
      '0/257         1048576         4096   1073741824         none 1/100   ---  ',
      '1/100         1048576         4096         none         none ---     0/257',
    ].join('\n');
    expect(parseQgroupShow(text)).toEqual([
      { qgroupId: '0/5', referenced: 16384 },
      { qgroupId: '0/257', referenced: 1048576 },
      { qgroupId: '1/100', referenced: 1048576 },
    ]);
  });

  it('finds columns by name when they come in another order', () => {
    const text = ['qgroupid excl rfer', '0/300 10 20'].join('\n');
    expect(parseQgroupShow(text)).toEqual([{ qgroupId: '0/300', referenced: 20 }]);
  });

  it('refuses output it cannot read, with a BACKEND_FAILED error', () => {
    expect(() => parseQgroupShow('ERROR: something')).toThrow(
      expect.objectContaining({ code: 'BACKEND_FAILED' }),
    );
    expect(() => parseQgroupShow('qgroupid excl\n0/5 1')).toThrow(/qgroup show/);
    expect(() => parseQgroupShow('Qgroupid Referenced Exclusive\n0/5 16.00KiB 16.00KiB')).toThrow(
      expect.objectContaining({ code: 'BACKEND_FAILED' }),
    );
  });
});

describe('parseFilesystemDu', () => {
  it('reads the total', () => {
    const text =
      '     Total   Exclusive  Set shared  Filename\n   3145728     3145728           0  /mnt/x/forks/f1\n';
    expect(parseFilesystemDu(text)).toBe(3145728);
  });

  it('refuses output it cannot read', () => {
    expect(() => parseFilesystemDu('')).toThrow(expect.objectContaining({ code: 'BACKEND_FAILED' }));
    expect(() => parseFilesystemDu('Total Exclusive\n')).toThrow(/filesystem du/);
  });
});

describe('parseSubvolumeShow', () => {
  // btrfs-progs v6.2, a read-only snapshot and the subvolume it was taken of.
  const snapshot = [
    'b',
    '\tName: \t\t\tb',
    '\tUUID: \t\t\t35040c1e-f169-2145-ad84-f3e963c43eb8',
    '\tParent UUID: \t\t908475de-f22a-4048-9f2a-69ebfdf59f5f',
    '\tReceived UUID: \t\t-',
    '\tSubvolume ID: \t\t257',
    '\tFlags: \t\t\treadonly',
    '\tSnapshot(s):',
    '',
  ].join('\n');
  const source = [
    'a',
    '\tName: \t\t\ta',
    '\tUUID: \t\t\t908475de-f22a-4048-9f2a-69ebfdf59f5f',
    '\tParent UUID: \t\t-',
    '\tReceived UUID: \t\t-',
    '\tSnapshot(s):',
    '\t\t\t\tb',
    '',
  ].join('\n');

  it('reads the UUID and the UUID of the snapshot source', () => {
    expect(parseSubvolumeShow(snapshot)).toEqual({
      uuid: '35040c1e-f169-2145-ad84-f3e963c43eb8',
      parentUuid: '908475de-f22a-4048-9f2a-69ebfdf59f5f',
    });
    expect(parseSubvolumeShow(source)).toEqual({
      uuid: '908475de-f22a-4048-9f2a-69ebfdf59f5f',
      parentUuid: null,
    });
  });

  it('refuses output without the lines it needs', () => {
    expect(() => parseSubvolumeShow('a\n\tName: a\n')).toThrow(/subvolume show/);
    expect(() => parseSubvolumeShow(snapshot.replace(/\tParent UUID:.*\n/, ''))).toThrow(/subvolume show/);
  });
});
