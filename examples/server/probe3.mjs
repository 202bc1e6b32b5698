import { csvRecords } from './dist/import/csv.js';
