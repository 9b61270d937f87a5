// report.json: the machine-readable verdict (shape in src/verify/report-types.ts; a contract).
import type { Report } from '../verify/report-types.js';

export const renderJson = (report: Report): string => `${JSON.stringify(report, null, 2)}\n`;
