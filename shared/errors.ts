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

/** The wire form of an error. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}
