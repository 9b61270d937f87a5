
export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
