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
