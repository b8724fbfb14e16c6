import { ContractError } from '../../shared/contract.js';
import { errorCodeOf, isServiceError } from '../../shared/contract-client.js';
import type { ErrorInfo } from '../../shared/errors.js';
import { PointSyntaxError } from '../../shared/point.js';
import { ChronodiskError, fromStrayFsError, indexDamaged, isIndexDamage } from '../engine/errors.js';

const MAX_MESSAGE = 600;

/**
 * Any failure as the contract's { code, message, remedy }: engine errors keep their code
 * and remedy, contract and point-syntax errors are 'usage', an errno error gets the code
 * fromFsError gives it, anything else is 'internal'. The message is one line, of bounded length.
 */
export function errorInfoOf(e: unknown): ErrorInfo {
  if (isIndexDamage(e)) return errorInfoOf(indexDamaged(e));
  if (e instanceof ChronodiskError || isServiceError(e)) return { code: e.code, message: oneLine(e.message), ...(e.remedy ? { remedy: e.remedy } : {}) };
  if (e instanceof ContractError || e instanceof PointSyntaxError) return { code: 'usage', message: oneLine(e.message) };
  const mapped = fromStrayFsError(e, 'a file the service needed');
  if (mapped) return { code: mapped.code, message: oneLine(mapped.message) };
  return { code: errorCodeOf(e), message: oneLine(`internal error: ${(e as Error)?.message ?? String(e)}`) };
}

export function oneLine(text: string): string {
  const line = text.replace(/\s*\n\s*/g, '; ').trim();
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line || 'failed';
}
