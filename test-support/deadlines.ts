/**
 * Per-test deadlines for the slow tests: real-system suites (btrfs, ZFS through zfs-fuse) and
 * long property runs. A deadline catches a hang; it says nothing about speed, so it sits far
 * above what the test takes on a loaded machine: on 2 cores with eight busy loops and other
 * btrfs and ZFS work running, ZFS operations ran about 20 times slower than on the idle
 * machine (a conformance test took 122 s, the engine model over ZFS more than 170 s).
 *
 * Test files import this relatively; it is part of no published package.
 */

/** For one test of a real-system suite (each conformance test on btrfs or ZFS). */
export const REAL_SYSTEM_TEST_TIMEOUT_MS = 600_000;

/** For a long property run (the engine model, crashes between every two steps). */
export const PROPERTY_RUN_TIMEOUT_MS = 1_200_000;
