/**
 * Error codes that cross the contract. The engine throws typed errors carrying one of
 * these; the service sends { code, message }; the CLI maps `usage` to exit 2, the rest to 1.
 */
export const errorCodes = [
  'usage', // a malformed argument or request
  'not-found', // a missing directory, disk, bookmark, file or point
  'not-appliance', // a directory that is not an appliance
  'exists', // something that would be overwritten
  'locked', // another writer holds the appliance
  'auth', // wrong passphrase or missing key
  'damaged', // checksum or structure failure
  'refused', // a safety rule (system disk, mounted target, …)
  'changed', // a protected source changed size or identity
  'permission', // the OS said no
  'io', // an I/O error from a device
  'busy', // a resource is in use
  'no-space', // the appliance is full
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/**
 * What a person can do about an error, named once so that each front end offers it in its
 * own terms: the CLI names a command (`chronodisk check --read-data`), the window a button
 * (Verify the appliance). Messages themselves say only what was wrong.
 */
export const remedies = [
  'verify', // read every checksum to find what is damaged: chronodisk check --read-data
  'rebuild-index', // build the index again from the segments and catalog: chronodisk rebuild-index
] as const;

export type Remedy = (typeof remedies)[number];

export function isRemedy(x: unknown): x is Remedy {
  return (remedies as readonly unknown[]).includes(x);
}

/** The wire form of an error. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  remedy?: Remedy;
}
