// Public surface of the Teltonika protocol library. Bytes only: no Node APIs, because the k6 bundle uses it too.
export * from './errors.js';
export * from './crc16.js';
export * from './imei.js';
export * from './login.js';
export * from './avl-types.js';
export * from './codec8.js';
export * from './ack.js';
export * from './framer.js';
export * from './byte-queue.js';
export * from './sample.js';
