import { InvalidArgumentError } from 'commander';

export const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function intOption(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${flag}: expected a whole number, got "${value}"`);
    return Number(value);
  };
}

export const stderrLog = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** A comma-separated list, e.g. --source-addresses 127.0.0.2,127.0.0.3 */
export const listOption = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
