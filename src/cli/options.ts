import { InvalidArgumentError } from 'commander';

export const ExitCode = { Ok: 0, Unreadable: 1, Usage: 2 } as const;

export function parseThreads(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new InvalidArgumentError('expected a whole number from 0 to 256');
  return n;
}
