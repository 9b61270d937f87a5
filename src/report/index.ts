export { writeReports, REPORT_FILES } from './write.js';
export { formatTable } from './table.js';
export { renderJson } from './json.js';
export { renderMarkdown } from './markdown.js';
export { renderJunit, xmlEscape } from './junit.js';
