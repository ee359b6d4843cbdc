export { main, buildProgram } from './program.js';
