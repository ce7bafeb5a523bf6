import packageJson from '../../package.json' with { type: 'json' };

/** This package and its version, as the database records who wrote its schema. */
export const WRITER = `${packageJson.name} ${packageJson.version}`;
